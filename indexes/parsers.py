"""Node parser for books: Markdown sections first, then sentence windows inside each section.

One parser (instead of chaining LlamaIndex's two) so every chunk knows its document, its heading
path and its exact character span in the original text, and gets a deterministic id per version
of its document: re-running an interrupted index overwrites the same Qdrant points instead of
duplicating them, and a new version is written beside the old one (see indexes/pipeline.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from llama_index.core.node_parser import MarkdownNodeParser, NodeParser, SentenceSplitter
from llama_index.core.schema import BaseNode, Document, NodeRelationship, TextNode
from pydantic import Field, PrivateAttr

from indexes.config import ChunkingConfig

_NAMESPACE = uuid.UUID("6f6c696f-0000-4000-8000-000000000001")

EMBED_EXCLUDED = ["book", "chapter", "source_id", "origin", "char_start", "char_end"]
LLM_EXCLUDED = ["book", "source_id", "origin", "char_start", "char_end"]


def chunk_id(document_id: str, index: int, version: str = "") -> str:
    """Deterministic UUID (Qdrant point ids must be UUIDs or ints) for chunk `index` of one
    version (content hash) of a document: a new version never overwrites the points of the
    one still answering, and re-running an interrupted write rewrites the same points."""
    return str(uuid.uuid5(_NAMESPACE, f"{document_id}#{version}#{index}"))


class BookNodeParser(NodeParser):
    """Markdown headings → sentence splitter, with heading paths and character spans."""

    split_headings: bool = Field(default=True)
    chunk_size: int = Field(default=200)
    chunk_overlap: int = Field(default=30)
    _splitter: SentenceSplitter = PrivateAttr()
    _markdown: MarkdownNodeParser = PrivateAttr()

    def __init__(self, tokenizer: Callable[[str], list] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        splitter_kwargs: dict[str, Any] = {
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
        }
        if tokenizer is not None:
            splitter_kwargs["tokenizer"] = tokenizer
        self._splitter = SentenceSplitter(**splitter_kwargs)
        self._markdown = MarkdownNodeParser()

    @classmethod
    def from_config(
        cls, cfg: ChunkingConfig, tokenizer: Callable[[str], list] | None = None
    ) -> BookNodeParser:
        """Build from the `chunking` section of config.yaml."""
        return cls(
            tokenizer=tokenizer,
            split_headings=cfg.split_headings,
            chunk_size=cfg.chunk_size,
            chunk_overlap=cfg.chunk_overlap,
        )

    @classmethod
    def class_name(cls) -> str:
        return "BookNodeParser"

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        chunks: list[BaseNode] = []
        for node in nodes:
            chunks.extend(self.split_document(node))
        return chunks

    def split_document(self, doc: BaseNode) -> list[TextNode]:
        """Chunks of one document, numbered in reading order."""
        text = doc.get_content()
        chunks: list[TextNode] = []
        for section_path, section_start, section_text in self._sections(doc, text):
            section = " > ".join(section_path)
            pieces = self._splitter.split_text_metadata_aware(
                section_text, metadata_str=f"section: {section}"
            )
            cursor = 0
            for piece in pieces:
                start = _locate(section_text, piece, cursor)
                cursor = start + 1
                abs_start = section_start + start
                chunks.append(self._make_chunk(doc, len(chunks), piece, section, abs_start))
        return chunks

    def _sections(self, doc: BaseNode, text: str) -> list[tuple[list[str], int, str]]:
        if not self.split_headings:
            return [([], 0, text)]
        as_doc = Document(text=text, id_=doc.node_id)
        sections = []
        for sec in self._markdown.get_nodes_from_documents([as_doc]):
            path = [h for h in sec.metadata.get("header_path", "/").strip("/").split("/") if h]
            first_line = sec.text.lstrip().split("\n", 1)[0]
            if first_line.startswith("#"):
                path.append(first_line.lstrip("#").strip())
            start = sec.start_char_idx if sec.start_char_idx is not None else text.find(sec.text)
            sections.append((path, max(start, 0), sec.text))
        return sections

    def _make_chunk(
        self, doc: BaseNode, index: int, piece: str, section: str, start: int
    ) -> TextNode:
        metadata = {
            k: doc.metadata[k]
            for k in ("book", "chapter", "source_id", "origin")
            if k in doc.metadata
        }
        metadata.update(section=section, char_start=start, char_end=start + len(piece))
        return TextNode(
            id_=chunk_id(doc.node_id, index, doc.hash[:16]),
            text=piece,
            metadata=metadata,
            start_char_idx=start,
            end_char_idx=start + len(piece),
            excluded_embed_metadata_keys=list(EMBED_EXCLUDED),
            excluded_llm_metadata_keys=list(LLM_EXCLUDED),
            relationships={NodeRelationship.SOURCE: doc.as_related_node_info()},
        )


def _locate(haystack: str, piece: str, cursor: int) -> int:
    """Offset of a chunk in its section (the splitter may trim whitespace at the edges)."""
    pos = haystack.find(piece, cursor)
    if pos < 0:
        pos = haystack.find(piece)
    if pos < 0:
        pos = haystack.find(piece[:64].strip(), max(0, cursor - 1))
    return max(pos, 0)
