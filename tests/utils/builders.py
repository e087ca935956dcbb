"""Builders for test configs and data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLE_BOOK = REPO / "data" / "book"
SHARED = REPO.parent / "shared"


def write_config(tmp_path: Path, book_dir: Path, **sections: Any) -> Path:
    """A config.yaml in tmp_path indexing `book_dir`, storage under tmp_path."""
    config: dict[str, Any] = {
        "environment": "test",
        "storage_dir": str(tmp_path / "storage"),
        "sources": [
            {
                "name": "sourdough",
                "path": str(book_dir),
                "globs": ["*.md"],
                "book": "The Sourdough Handbook",
            }
        ],
        "vector_store": {"path": str(tmp_path / "storage" / "vectors"), "collection": "test"},
        "database": {"url": f"sqlite:///{tmp_path / 'storage' / 'folio.db'}"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
