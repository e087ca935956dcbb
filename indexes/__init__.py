"""Folio's retrieval core: everything LlamaIndex, usable from a notebook (never imports `app`)."""
