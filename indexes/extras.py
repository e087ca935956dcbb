"""The optional parts of Folio that live in pip extras, and the one error naming a missing one.

Serving needs neither: the container image installs the runtime dependencies only. `export`
(torch, transformers, onnx, sentence-transformers) writes MiniLM's ONNX files and backs
`embedding.runtime: torch`; `evals` (ranx, scipy, matplotlib) backs `folio eval`. Each entry
point calls `require_extra` before its lazy imports, so a missing extra is one sentence that
says what to install rather than a traceback from deep inside an import.
"""

from __future__ import annotations

import importlib.util
import sys

# extra → the modules it provides, as imported (pyproject.toml lists the distributions)
EXTRAS: dict[str, tuple[str, ...]] = {
    "export": (
        "torch",
        "transformers",
        "onnx",
        "sentence_transformers",
        "llama_index.embeddings.huggingface",
    ),
    "evals": ("ranx", "scipy", "matplotlib"),
}


class MissingExtra(ImportError):
    """A feature was asked for whose pip extra is not installed."""

    def __init__(self, extra: str, purpose: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{extra}' extra ({module} is not installed): "
            f"pip install 'folio[{extra}]' (scripts/setup.sh installs every extra)",
            name=module,
        )


def _installed(module: str) -> bool:
    if module in sys.modules:  # None there means "import blocked": treat it as absent
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (empty: the extra is installed)."""
    return [module for module in EXTRAS[extra] if not _installed(module)]


def require_extra(extra: str, purpose: str) -> None:
    """Raise `MissingExtra` naming `extra` when any of its modules is absent.

    Cheap (no module is imported), so entry points call it before minutes of other work.
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(extra, purpose, missing[0])
