"""Commands in the docs work as written from a fresh clone after `bash scripts/setup.sh`.

Regression: docs said bare `python …` and `folio …`, which a fresh clone does not have on its
PATH (and `python benchmarks/x.py` cannot import `tests.utils`). Every command in a fenced
shell block of README.md and docs/*.md must use `.venv/bin/…` (or `bash scripts/…`, `curl`),
name a script or module that exists, and `folio` sub-commands and options that exist.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from tests.utils.builders import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"```(?:bash|sh|shell|console)?\n(.*?)```", re.DOTALL)
_ASSIGN = re.compile(r"^[A-Z_][A-Z0-9_]*=")
ALLOWED = (
    ".venv/bin/folio",
    ".venv/bin/python",
    ".venv/bin/ruff",
    "bash",
    "curl",
    "export",
    "docker",  # the runbook, on an operator's machine
    "cp",
)


def _commands(path: Path) -> list[str]:
    """Shell commands of the fenced blocks: continuation lines joined, comments dropped,
    `a && b` split."""
    out = []
    for block in _FENCE.findall(path.read_text()):
        if not any(line.startswith(ALLOWED + ("folio", "python")) for line in block.split("\n")):
            if not re.search(r"(^|\n)\s*[A-Z_]+=\S* ", block):
                continue  # not a shell block (JSON, YAML, SSE)
        text = block.replace("\\\n", " ")
        for line in text.split("\n"):
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                out.extend(part.strip() for part in line.split("&&"))
    return out


def _program(command: str) -> list[str]:
    """The words after leading VAR=value assignments."""
    words = shlex.split(command)
    while words and _ASSIGN.match(words[0]):
        words.pop(0)
    return words


ALL = [(p.relative_to(REPO).as_posix(), c) for p in DOCS for c in _commands(p)]


def test_docs_have_commands():
    assert len(ALL) > 20


@pytest.mark.parametrize(("doc", "command"), ALL)
def test_command_uses_the_checkout_venv(doc, command):
    words = _program(command)
    if not words:  # a bare assignment such as C="-c a.yaml -c b.yaml"
        return
    assert words[0] in ALLOWED, f"{doc}: `{command}` would not run from a fresh clone"
    if words[0] == "bash":
        assert (REPO / words[1]).is_file(), f"{doc}: {words[1]} does not exist"
    if words[0] == ".venv/bin/python":
        if words[1] == "-m":
            module = words[2]
            if module.startswith("benchmarks."):
                assert (REPO / (module.replace(".", "/") + ".py")).is_file(), module
        else:
            assert (REPO / words[1]).is_file(), f"{doc}: {words[1]} does not exist"


FOLIO = [(doc, c) for doc, c in ALL if _program(c)[:1] == [".venv/bin/folio"]]


@pytest.mark.parametrize(("doc", "command"), FOLIO)
def test_folio_subcommands_and_options_exist(doc, command):
    from app.cli import app

    cmd = typer.main.get_command(app)
    words = _program(command)[1:]
    while hasattr(cmd, "commands") and words and not words[0].startswith("-"):
        sub = cmd.commands.get(words[0])  # typer may vendor click: duck-type the group
        assert sub is not None, f"{doc}: `folio … {words[0]}` is not a command"
        cmd, words = sub, words[1:]
    options = {opt for param in cmd.params for opt in getattr(param, "opts", [])}
    options |= {opt for param in cmd.params for opt in getattr(param, "secondary_opts", [])}
    for word in words:
        if word.startswith("-") and not word.startswith("-$"):
            name = word.split("=")[0]
            assert name in options, f"{doc}: `{command}` uses unknown option {name}"
