"""The `folio` CLI on the sample book: index summary, no-op re-index, ask with sources."""

from __future__ import annotations

import pytest

from tests.utils.builders import write_config
from tests.utils.cli import run_folio

pytestmark = pytest.mark.integration


def test_index_then_noop_then_ask(tmp_path, book_dir):
    config = str(write_config(tmp_path, book_dir))
    first = run_folio("index", "--config", config)
    assert first.returncode == 0, first.stderr
    assert "│     5 │       0 │         0 │       0 │" in first.stdout
    # the longest silent wait is named while it happens (the model loads only when needed)
    assert "loading the embedding model (all-MiniLM-L6-v2)" in first.stdout
    assert "model loaded in" in first.stdout
    second = run_folio("index", "--config", config)
    assert "│     0 │       0 │         5 │       0 │               0 │" in second.stdout
    assert "loading the embedding model" not in second.stdout
    ask = run_folio("ask", "What is the float test?", "--config", config)
    assert ask.returncode == 0, ask.stderr
    assert "[1]" in ask.stdout and "Knowing When Your Starter Is Ready" in ask.stdout


def test_bad_config_is_one_line_without_traceback(tmp_path, book_dir):
    config = write_config(tmp_path, book_dir, retrieval={"top_kk": 3})
    result = run_folio("index", "--config", str(config))
    assert result.returncode == 2
    assert "retrieval.top_kk" in result.stderr and "unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_on_a_fresh_checkout_creates_the_folder(tmp_path):
    """Regression (issue 14, item 18): `folio db upgrade` before `storage/` existed crashed
    with a 190-line traceback (sqlite3 'unable to open database file')."""
    import stat

    config = tmp_path / "config.yaml"
    config.write_text("environment: test\ndatabase:\n  url: sqlite:///storage/folio.db\n")
    result = run_folio("db", "upgrade", "-c", str(config))
    assert result.returncode == 0, result.stderr
    db = tmp_path / "storage" / "folio.db"
    assert db.exists() and stat.S_IMODE(db.stat().st_mode) == 0o600


def _one_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr
    return lines[0]


def test_unreachable_database_is_one_line_naming_cause_and_fix(tmp_path, book_dir):
    from tests.utils.http import free_port

    url = f"postgresql://folio:s3cret-pw@127.0.0.1:{free_port()}/folio"
    config = str(write_config(tmp_path, book_dir, database={"url": url}))
    for args in (("db", "upgrade"), ("db", "current"), ("keys", "list"), ("serve",)):
        result = run_folio(*args, "-c", config)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        line = _one_line(result)
        assert "unreachable" in line and "DATABASE_URL" in line, (args, line)
        assert "s3cret-pw" not in result.stderr
    (tmp_path / "b").mkdir()
    no_migrate = str(
        write_config(tmp_path / "b", book_dir, database={"url": url, "auto_migrate": False})
    )
    line = _one_line(run_folio("users", "list", "-c", no_migrate))
    assert "database error" in line and "DATABASE_URL" in line


def test_server_start_with_unreachable_database_logs_one_line(tmp_path, capfd):
    """The server's own start (lifespan) fails in one log line, not a traceback."""
    import threading

    import uvicorn

    from app.main import create_app
    from tests.utils.apps import make_settings, mock_index
    from tests.utils.http import free_port

    url = f"postgresql://folio@127.0.0.1:{free_port()}/folio"
    app = create_app(make_settings(tmp_path, database={"url": url}), index_factory=mock_index)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port()))
    exits = []

    def run() -> None:
        try:
            server.run()
        except SystemExit as exc:  # uvicorn exits with 3 when startup fails
            exits.append(exc.code)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and not server.started and exits == [3]
    err = capfd.readouterr().err
    failed = [line for line in err.splitlines() if "startup failed:" in line]
    assert len(failed) == 1 and "unreachable" in failed[0] and "DATABASE_URL" in failed[0]
    assert "Traceback" not in err and 'File "' not in err


@pytest.mark.parametrize("command", ["index", "serve"])
def test_yaml_syntax_error_is_one_line_from_index_and_serve(tmp_path, command):
    """Regression: a YAML typo printed a 275-line traceback; now one line with file:line:col."""
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - name: x\n    path: [open\nchunking: {}\n")
    result = run_folio(command, "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{config}:4:9: YAML syntax error" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_documents_lists_the_ledger(tmp_path, book_dir):
    """`folio documents` shows what is indexed, read from the database (no store lock)."""
    config = str(write_config(tmp_path, book_dir))
    assert run_folio("index", "--config", config).returncode == 0
    listed = run_folio("documents", "--config", config, "--limit", "3")
    assert listed.returncode == 0, listed.stderr
    assert "documents 1-3 of 5" in listed.stdout
    assert "sourdough:ch01-starter.md" in listed.stdout and "config" in listed.stdout
    assert run_folio("documents", "--config", config, "--origin", "x").returncode == 1
