"""The reader's web page and the embeddable widget: static files served by the app."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
