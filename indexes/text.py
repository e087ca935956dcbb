"""Text helpers shared by the answerer, the condenser, sentence vectors and the evals:
sentence splitting (verbatim slices of a passage) and content terms (stopwords dropped, stemmed).

One public module, so no answer-path module has to reach into another's private names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

WORD = re.compile(r"[A-Za-z0-9]+(?:['’][a-z]+)?")
# after . ! ? and any closing quotes/brackets (kept), before whitespace and a sentence start
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]])|(?<=[.!?][\"'”’)\]]{2}))\s+(?=[A-Z0-9\"'“‘(\[])"
    r"|\n\s*\n"
)
# A period after these is not a sentence end: a name's initial ("Charles F. Peck", "J.I.
# Pontanus") or a title before a name ("Dr. Thomas Coke", "Rev. Paul", "St. Lawrence"). A lone
# "I." is left alone: "World War I." ends sentences more often than it starts a name.
_NOT_AN_END = re.compile(
    r"(?:^|[\s(\[\"'“‘])(?:[A-HJ-Z]|Dr|Mr|Mrs|Ms|Prof|Rev|St|Mt|Ft|Jr|Sr|Gen|Col|Lt|Capt|Sgt"
    r"|Gov|Sen|Rep|Hon|Fr|Bros|vs|No|Nos|Vol|Fig|cf|ca)\.$|\.[A-Z]\.$"
)
STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be because been before being
    between both but by can could did do does doing down during each few for from further had
    has have having he her here hers how i if in into is it its itself just me more most my no
    nor not now of off on once only or other our out over own same she should so some such than
    that the their them then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours tell
    explain describe much many one get make need know want use""".split()
)


def terms(text: str) -> list[str]:
    """Lower-cased content words, lightly stemmed (plural and -ing/-ed endings)."""
    out = []
    for word in WORD.findall(text.lower()):
        word = word.replace("’", "'").split("'")[0]
        if word in STOPWORDS or len(word) < 2:
            continue
        out.append(stem(word))
    return out


@lru_cache(maxsize=1)
def _porter() -> Any:
    """nltk ships with llama-index-core; its Porter stemmer is pure Python and needs no data,
    but importing nltk takes ~2 s, so it happens on first use (servers warm it at start-up)."""
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return _porter().stem(word)


def split_sentences(text: str) -> list[str]:
    """Verbatim sentences of a passage, skipping headings, code fences and list bullets.

    A sentence ends at . ! or ? plus any closing quotes or brackets, before whitespace and a
    capital, digit or opening quote; so closing quotes stay with their sentence and "e.g. the"
    does not split."""
    sentences = []
    in_code = False
    for block in re.split(r"\n\s*\n", text):
        stripped = block.strip()
        if stripped.startswith("```"):
            in_code = not in_code if stripped.count("```") % 2 else in_code
            continue
        if in_code or not stripped:
            continue
        lines = [ln for ln in stripped.split("\n") if not ln.lstrip().startswith("#")]
        body = "\n".join(lines).strip()
        for piece in _pieces(body):
            piece = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", piece).strip()
            if len(WORD.findall(piece)) >= 3:
                sentences.append(piece)
    return sentences


def _pieces(body: str) -> list[str]:
    """`body` cut at each sentence end, except after an initial or a title ("Charles F. Peck"):
    the regex sees ". P" and cannot tell a name from a sentence end. Pieces are slices of the
    body, so a sentence stays verbatim whatever whitespace followed the initial."""
    pieces, start = [], 0
    for end in _SENTENCE_END.finditer(body):
        piece = body[start : end.start()]
        if not _NOT_AN_END.search(piece):
            pieces.append(piece)
            start = end.end()
    pieces.append(body[start:])
    return pieces
