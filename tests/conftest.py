"""Shared fixtures: settings per test, one real MiniLM per session, the sample book in tmp."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.utils.builders import REPO, SAMPLE_BOOK, write_config


@pytest.fixture(scope="session")
def minilm():
    """The real local embedder, loaded once per test session."""
    from indexes.config import EmbeddingConfig, RuntimeConfig
    from indexes.embeddings import build_embed_model

    return build_embed_model(EmbeddingConfig(), RuntimeConfig())


@pytest.fixture
def book_dir(tmp_path: Path) -> Path:
    """A private copy of the sample book, so tests can edit and delete chapters."""
    target = tmp_path / "book"
    shutil.copytree(SAMPLE_BOOK, target)
    return target


@pytest.fixture
def config_file(tmp_path: Path, book_dir: Path) -> Path:
    return write_config(tmp_path, book_dir)


@pytest.fixture
def settings(config_file: Path):
    from app.core.settings import load_settings

    return load_settings(config_file, environ={})


@pytest.fixture
def folio(settings, minilm):
    """A FolioIndex over the sample-book copy, sharing the session's model."""
    from indexes.folio_index import FolioIndex

    index = FolioIndex.from_config(settings.index, embed_model=minilm)
    yield index
    index.close()


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def indexed_template(tmp_path_factory, minilm) -> Path:
    """The sample book indexed once per session; tests get a copy of its storage."""
    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    root = tmp_path_factory.mktemp("indexed-template")
    book = root / "book"
    shutil.copytree(SAMPLE_BOOK, book)
    settings = load_settings(write_config(root, book), environ={})
    index = FolioIndex.from_config(settings.index, embed_model=minilm)
    index.index_sources()
    index.close()
    return root


@pytest.fixture
def indexed_settings(tmp_path: Path, book_dir: Path, indexed_template: Path):
    """Settings over an already-indexed copy of the sample book (no embedding needed)."""
    from app.core.settings import load_settings

    shutil.copytree(indexed_template / "storage", tmp_path / "storage")
    return load_settings(write_config(tmp_path, book_dir), environ={})
