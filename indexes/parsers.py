"""Node parser for books: Markdown sections first, then sentence windows inside each section.

One parser (instead of chaining LlamaIndex's two) so every chunk knows its document, its heading
path and its exact character span in the original text, and gets a deterministic id per version
of its document: re-running an interrupted index overwrites the same Qdrant points instead of
duplicating them, and a new version is written beside the old one (see indexes/pipeline.py).

Untrusted text (POST /ingest) is parsed under `ParseLimits`: cheap counts first (lines, headings,
long words and character runs, quote nesting, HTML tags), each linear in the text, then the parse
itself with a time budget. The sentence splitter falls back to one split per character on text
without spaces (500k `[` took a minute); the budget is checked at every token count it makes,
so no single section can run past it.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from llama_index.core.node_parser import MarkdownNodeParser, NodeParser, SentenceSplitter
from llama_index.core.schema import BaseNode, Document, NodeRelationship, TextNode
from llama_index.core.utils import get_tokenizer, globals_helper
from pydantic import Field, PrivateAttr

from indexes.config import ChunkingConfig

_NAMESPACE = uuid.UUID("6f6c696f-0000-4000-8000-000000000001")

EMBED_EXCLUDED = ["book", "chapter", "source_id", "origin", "char_start", "char_end"]
LLM_EXCLUDED = ["book", "source_id", "origin", "char_start", "char_end"]

# monotonic() time by which the parse in this thread must end (None: no budget)
_DEADLINE: ContextVar[float | None] = ContextVar("folio_parse_deadline", default=None)


class ContentTooComplex(ValueError):
    """Text refused before parsing: one of `ParseLimits` is exceeded (the message names it)."""


class ParseTimeout(ValueError):
    """Parsing took longer than `ParseLimits.timeout_s`."""


@dataclass(frozen=True)
class ParseLimits:
    """Bounds for untrusted text. A 300-page textbook (the Rust book, 1.6 MB) has 33,540 lines,
    531 headings, 2,893 tags, words of at most 147 characters and no quote nesting: the
    defaults leave a wide margin for real chapters and refuse the shapes that made the parser
    spend a minute."""

    max_lines: int = 50_000
    max_headings: int = 1_000
    max_heading_chars: int = 300
    max_word_chars: int = 1_000  # characters between two whitespace characters
    max_run: int = 500  # one character repeated (spaces aside)
    max_quote_depth: int = 32  # `>` at the start of a line
    max_tags: int = 10_000  # HTML/XML tags (`<div`, `</p`, `<!--`)
    # letters and digits among the characters that are not spaces (Rust book: 0.67 to 0.95):
    # `". " * 100000` parsed in budget, then took 30 s to embed 596 chunks of full stops
    min_text_share: float = 0.3
    timeout_s: float | None = 5.0


_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)", re.MULTILINE)
_TAG = re.compile(r"</?[A-Za-z!]")


def check_text(text: str, limits: ParseLimits) -> None:
    """ContentTooComplex naming the first limit `text` exceeds. Linear: 2 MB in ~0.1 s."""
    lines = text.count("\n") + 1
    if lines > limits.max_lines:
        raise ContentTooComplex(f"{lines} lines; at most {limits.max_lines}")
    headings = len(_HEADING.findall(text))
    if headings > limits.max_headings:
        raise ContentTooComplex(f"{headings} headings; at most {limits.max_headings}")
    long_heading = re.compile(rf"^ {{0,3}}#{{1,6}}[ \t][^\n]{{{limits.max_heading_chars}}}", re.M)
    if long_heading.search(text):
        raise ContentTooComplex(f"a heading over {limits.max_heading_chars} characters")
    if re.search(rf"\S{{{limits.max_word_chars + 1}}}", text):
        raise ContentTooComplex(
            f"a word of over {limits.max_word_chars} characters without a space"
        )
    if re.search(rf"(\S)\1{{{limits.max_run}}}", text):
        raise ContentTooComplex(f"a character repeated over {limits.max_run} times")
    depth = limits.max_quote_depth + 1
    if re.search(rf"^[ \t]*(?:>[ \t]*){{{depth}}}", text, re.MULTILINE):
        raise ContentTooComplex(f"quotes nested over {limits.max_quote_depth} deep")
    tags = len(_TAG.findall(text))
    if tags > limits.max_tags:
        raise ContentTooComplex(f"{tags} HTML tags; at most {limits.max_tags}")
    visible = len(text) - re.subn(r"\s", "", text)[1]
    letters = re.subn(r"[^\W_]", "", text)[1]
    if visible and letters / visible < limits.min_text_share:
        raise ContentTooComplex(
            f"{letters / visible:.0%} of the characters are letters or digits; "
            f"at least {limits.min_text_share:.0%}"
        )


def _check_deadline() -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise ParseTimeout("parsing took too long")


def _budgeted(tokenizer: Callable[[str], list]) -> Callable[[str], list]:
    """The splitter counts tokens for every split it tries: the finest place to stop it."""

    def tokenize(text: str) -> list:
        _check_deadline()
        return tokenizer(text)

    return tokenize


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
        self._splitter = SentenceSplitter(
            chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap,
            tokenizer=_budgeted(tokenizer or get_tokenizer()),
        )
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

    def split_document(self, doc: BaseNode, limits: ParseLimits | None = None) -> list[TextNode]:
        """Chunks of one document, numbered in reading order. With `limits` (untrusted text):
        ContentTooComplex before parsing, ParseTimeout once the budget is spent."""
        if limits is None:
            return self._split(doc)
        check_text(doc.get_content(), limits)
        # The splitter's sentence tokenizer loads NLTK on first use (~3 s): not the text's cost
        _ = globals_helper.punkt_tokenizer
        budget = limits.timeout_s
        token = _DEADLINE.set(None if budget is None else time.monotonic() + budget)
        try:
            return self._split(doc)
        except ValueError as exc:
            if isinstance(exc, ParseTimeout):
                raise
            # LlamaIndex's splitter refuses a section whose heading path alone fills a chunk
            raise ContentTooComplex(
                f"the text cannot be split into chunks of {self.chunk_size} tokens "
                "(are the headings above a section longer than a chunk?)"
            ) from None
        finally:
            _DEADLINE.reset(token)

    def _split(self, doc: BaseNode) -> list[TextNode]:
        text = doc.get_content()
        chunks: list[TextNode] = []
        for section_path, section_start, section_text in self._sections(doc, text):
            _check_deadline()
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
