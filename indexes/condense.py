"""Follow-up questions → standalone questions, so a follow-up retrieves like a full question.

With an LLM: LlamaIndex's condense-question prompt (history + follow-up → one question).
Offline: a deterministic rewrite that carries the previous question's key terms into a
follow-up that leans on it ("and why is that?", "how long should it rest?").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llama_index.core.chat_engine.condense_question import DEFAULT_PROMPT
from llama_index.core.llms import LLM

from indexes.text import STOPWORDS, WORD, terms

# Words that point back at something said before: a question holding one is a follow-up.
_ANAPHORA = frozenset(
    "it its it's this that these those they them there he she such why how so also".split()
)
_OPENERS = ("and ", "but ", "so ", "what about", "how about", "then ", "or ")
FOLLOW_UP_MAX_TERMS = 3  # a question with more content words than this stands on its own


def is_follow_up(question: str) -> bool:
    """Short, or opens with a connective, or points back with a pronoun."""
    q = question.strip().lower()
    words = {w.split("'")[0] for w in WORD.findall(q)}
    if q.startswith(_OPENERS):
        return True
    return len(terms(q)) <= FOLLOW_UP_MAX_TERMS and bool(words & _ANAPHORA)


def key_terms(text: str) -> list[str]:
    """Content words of `text` as written (not stemmed), in order, without repeats."""
    seen: set[str] = set()
    out = []
    for word in WORD.findall(text):
        low = word.lower()
        if low in STOPWORDS or len(low) < 3 or low in seen:
            continue
        seen.add(low)
        out.append(word)
    return out


def condense_offline(previous: Sequence[str], question: str) -> str:
    """`question` plus the key terms of the previous standalone question it leans on.

    `previous` are the earlier standalone questions, oldest first; only the last is used, and
    because it is itself a rewrite, a chain of follow-ups keeps the topic.
    """
    if not previous or not is_follow_up(question):
        return question
    own = set(terms(question))
    carried = [w for w in key_terms(previous[-1]) if terms(w) and terms(w)[0] not in own]
    if not carried:
        return question
    return f"{question.strip()} ({' '.join(carried)})"


def condense_with_llm(llm: LLM, history: Sequence[tuple[str, str]], question: str) -> str:
    """LlamaIndex's condense-question prompt over (question, answer) turns, oldest first."""
    if not history:
        return question
    lines = []
    for asked, answered in history:
        lines.append(f"Human: {asked}")
        lines.append(f"Assistant: {_strip_markers(answered)}")
    prompt = DEFAULT_PROMPT.format(chat_history="\n".join(lines), question=question)
    rewritten = llm.complete(prompt).text.strip()
    return rewritten or question


def _strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text)
