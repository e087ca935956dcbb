"""Follow-up questions → standalone questions, so a follow-up retrieves like a full question.

With an LLM: LlamaIndex's condense-question prompt (history + follow-up → one question).
Offline: a deterministic rewrite of *elliptical* follow-ups only, in readable English:

- a pronoun that points back ("How do I build it?" after "What is a levain?") is replaced by
  the previous standalone question's topic: "How do I build the levain?";
- a bare "what about X?" / "and for X?" asks the previous standalone question again about X:
  "What about the salt?" after "How much levain should a loaf use?" becomes "How much salt
  should a loaf use?";
- a bare fragment ("Why not?", "How long?") is asked about the topic: "Why not, for the
  levain?".

A complete question ("Why is salt left out during autolyse?") passes unchanged. The carried
context is the previous standalone question's topic (its first noun phrase), never a growing
bag of words: the previous standalone question is itself a readable rewrite, so a chain of
follow-ups keeps its topic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llama_index.core.chat_engine.condense_question import DEFAULT_PROMPT
from llama_index.core.llms import LLM

from indexes.text import STOPWORDS

_WORD = re.compile(r"[A-Za-z0-9][\w'’!<>:-]*[\w!>]|[A-Za-z0-9]")
# Pronouns that point at something said before; "one" only where it stands for a noun.
_PRONOUNS = {"it", "them", "they"}
_POSSESSIVES = {"its", "their"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
# Nouns that, after "this"/"that", stand for the thing talked about ("this method").
_STAND_INS = frozenset(
    "method technique step process stage approach way thing one part feature type kind rule "
    "test trick recipe option tool function macro operator value case syntax pattern".split()
)
_PRONOUNS_ALL = frozenset("it its them they their i you we me us he she him her his".split())
_SUBJECTS_ALL = frozenset("one".split())
_AUX = frozenset(
    "do does did is are was were can could should would will shall has have had must may "
    "might am be".split()
)
_SUBJECTS = frozenset("i you we one they people bakers".split())
_WH = frozenset("what when where which who whom whose why how".split())
_WH_MODIFIERS = frozenset("long many much often far old soon early late big large hot deep".split())
_CONNECTIVES = frozenset("and but so or then also".split())
# Words that end a noun phrase: prepositions, conjunctions, and verbs common in questions.
_PREPOSITIONS = frozenset(
    "in on at of for with without from to into onto about after before during over under "
    "between by through than like as per via instead".split()
)
_VERBS = frozenset(
    """take takes took make makes made need needs use uses used get gets go goes work works last
    lasts happen happens mean means cool cools rest rests rip rips tear tears break breaks
    cause causes affect affects help helps look looks feel feels turn turns rise rises peak
    peaks become becomes keep keeps add adds build builds do does done store stores left leave
    leaves matter matters bubble bubbles compare differ differs change changes come comes run
    runs let lets hold holds call calls show shows stop stops start starts give gives put puts
    set sets bake bakes know sink sinks float floats begin begins allow allows require
    requires return returns own owns move moves borrow borrows compile compiles fail fails
    panic panics implement implements capture captures""".split()
)
_WHAT_ABOUT = re.compile(
    r"^\s*(?:(?:and|but|so|ok|okay|then)[\s,]+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_AND_FOR = re.compile(
    r"^\s*(?:and|but|or)\s+(?P<prep>for|with|in|on|about|at)?\s*(?P<x>[^?]+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_STOPWORDS_AND_DETERMINERS = STOPWORDS | {"a", "an", "the", "my", "your", "our"}
_BOUNDARIES = (
    _PREPOSITIONS
    | _AUX
    | _WH
    | _VERBS
    | _CONNECTIVES
    | _PRONOUNS_ALL
    | _SUBJECTS_ALL
    | frozenset("if when whether because while until unless and or but so".split())
    | frozenset(
        """different similar same better worse best worst possible necessary important dense
        ready done safe useful true false wrong right good bad hard easy enough""".split()
    )
)
# "How long does it take to bake a loaf?": a dummy "it", the infinitive names its own topic
# ("How long does it take to peak?" does not: there "it" is the thing talked about).
_DUMMY_IT = re.compile(r"\bit\s+(?:take|takes|took|is|was)\b[^?]*\bto\s+\w+\s+\w+", re.IGNORECASE)


def condense_offline(previous: Sequence[str], question: str) -> str:
    """`question` as a standalone question, given the earlier standalone questions (oldest
    first); only the last is used. Unchanged unless `question` is elliptical."""
    if not previous:
        return question
    last = previous[-1]
    topic = topic_of(last)
    if not topic:
        return question
    about = _what_about(question)
    if about is not None:
        return _ask_about(last, topic, *about)
    rewritten = _replace_reference(question, last)
    if rewritten is not None:
        return rewritten
    if _is_fragment(question):
        return f"{_strip_end(question)}, for {topic}?"
    return question


def is_follow_up(question: str) -> bool:
    """Elliptical: a bare "what about X", a pronoun pointing back, or a verbless fragment."""
    return (
        _what_about(question) is not None
        or _replace_reference(question, "What is x?") is not None
        or _is_fragment(question)
    )


def topic_of(question: str, *, plural: bool = False) -> str:
    """The question's topic: its first noun phrase after the frame, with "the" for "a"/"an".
    "What is a levain?" → "the levain"; "How do I keep a starter in the refrigerator?" → "the
    starter"; "What flour should I dust the banneton with?" → "the banneton" (the noun after
    "what" is what is asked for, not the topic). `plural`: prefer a plural phrase, for
    "they"/"them"/"their"."""
    phrases = noun_phrases(question)
    if plural:
        phrases = [p for p in phrases if _is_plural(p)] + phrases
    if not phrases:
        return ""
    topic = phrases[0]
    first, _, rest = topic.partition(" ")
    return f"the {rest}" if first.lower() in ("a", "an") and rest else topic


def noun_phrases(question: str) -> list[str]:
    """Noun phrases after the question's frame, in order: runs of words between prepositions,
    auxiliaries, common verbs and predicate adjectives (no tagger: a word list)."""
    words = _WORD.findall(question)
    low = [w.lower() for w in words]
    i = _skip_frame(low)
    end = len(words)
    copular = i > 0 and any(w in _COPULAS for w in low[:i]) and low[0] in ("why", "how")
    phrases: list[str] = []
    current: list[str] = []

    def close() -> None:
        while current and current[-1].lower() in _STOPWORDS_AND_DETERMINERS:
            current.pop()
        if current and not all(w.lower() in _STOPWORDS_AND_DETERMINERS for w in current):
            phrases.append(" ".join(current))
        current.clear()

    for j in range(i, end):
        word, w = words[j], low[j]
        if w in _BOUNDARIES or (copular and j == end - 1 and current):
            close()
            continue
        if w in _DETERMINERS and current:
            close()
        possessive = w.endswith(("'s", "’s"))
        current.append(word[:-2] if possessive else word)
        if possessive:
            close()
    close()
    return phrases


def _is_plural(phrase: str) -> bool:
    last = phrase.split()[-1].lower()
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


_COPULAS = frozenset("is are was were".split())
_DETERMINERS = frozenset("a an the my your our this that these those".split())


def _skip_frame(low: list[str]) -> int:
    """Index of the first word after the frame ("And how long does I/you <verb>", "What
    flour should I <verb>", "At what angle should I <verb>"): the topic follows."""
    i = 0
    while i < len(low) and (low[i] in _CONNECTIVES or low[i] in _PREPOSITIONS):
        i += 1
    if i < len(low) and low[i] in _WH:
        i += 1
        while i < len(low) and low[i] in _WH_MODIFIERS:
            i += 1
        if low[i - 1] in ("what", "which", "whose"):  # "what flour": what is asked for
            while i < len(low) and low[i] not in _AUX and low[i] not in _BOUNDARIES:
                i += 1
    if i < len(low) and low[i] in _AUX:
        i += 1
        if i < len(low) and low[i] in _SUBJECTS:
            i += 1
            while i < len(low) and low[i] in _AUX:  # "can I not", "should I be"
                i += 1
            if i < len(low) and low[i] not in _DETERMINERS and low[i] not in _PREPOSITIONS:
                i += 1  # the verb: "How do I build a levain" → "a levain"
    elif 0 < i < len(low) and low[i] in _VERBS:
        i += 1  # "Why bake bread …"
    return i


def _what_about(question: str) -> tuple[str, str] | None:
    """(preposition, X) of a bare "what about X?" / "and for X?" (no verb of its own)."""
    match = _WHAT_ABOUT.match(question)
    if match:
        return "", match.group("x")
    match = _AND_FOR.match(question)
    if match:
        x = match.group("x")
        words = [w.lower() for w in _WORD.findall(x)]
        if words and len(words) <= 5 and not (set(words) & (_AUX | _WH | _VERBS)):
            return (match.group("prep") or "").lower(), x
    return None


def _ask_about(previous: str, topic: str, prep: str, about: str) -> str:
    """The previous question asked about `about`: with a preposition ("and for X?") the
    previous question + "for X"; otherwise its topic swapped for X ("What about the salt?"
    after "How much levain …" → "How much salt …"). A phrase that is itself a question
    ("what about updating a value?") keeps its words and names the topic."""
    about = about.strip().rstrip("?.! ")
    if prep:
        return f"{_strip_end(previous)} {prep} {about}?"
    first = about.split()[0].lower()
    pattern = _topic_pattern(topic)
    if first.endswith("ing") or not re.search(pattern, previous, re.IGNORECASE):
        return f"What about {about}, for {topic}?"
    before = re.search(r"(\w+)\s+" + pattern, previous, re.IGNORECASE)
    if before and before.group(1).lower() in ("much", "many", "what", "which"):
        if first in ("the", "a", "an") and " " in about:  # "how much the salt" → "how much salt"
            about = about.split(" ", 1)[1]
    return re.sub(pattern, lambda _: about, previous, count=1, flags=re.IGNORECASE)


def _topic_pattern(topic: str) -> str:
    words = topic.split()
    if words and words[0].lower() == "the":
        head = r"(?:the|a|an)\s+"
        words = words[1:]
    else:
        head = r"(?:(?:the|a|an)\s+)?"
    return r"\b" + head + r"\s+".join(re.escape(w) for w in words) + r"\b"


def _replace_reference(question: str, previous: str) -> str | None:
    """The question with its first pronoun pointing back replaced by the previous question's
    topic (a plural one for they/them/their); None when it has none (a complete question)."""
    if _DUMMY_IT.search(question):
        return None
    tokens = list(re.finditer(r"[A-Za-z']+", question))
    for n, token in enumerate(tokens):
        low = token.group(0).lower()
        after = tokens[n + 1].group(0).lower() if n + 1 < len(tokens) else ""
        before = tokens[n - 1].group(0).lower() if n > 0 else ""
        plural = low in ("they", "them", "their", "these", "those")
        replacement = None
        end = token.end()
        if low in _PRONOUNS:
            replacement = topic_of(previous, plural=plural)
        elif low in _POSSESSIVES:
            replacement = _possessive(topic_of(previous, plural=plural))
        elif low == "one" and before in _PREPOSITIONS | _VERBS | {"implement", "take", "create"}:
            if not after or after in _PREPOSITIONS or after in _AUX:
                replacement = topic_of(previous)
        elif low in _DEMONSTRATIVES:
            if after in _STAND_INS:
                replacement, end = topic_of(previous, plural=plural), tokens[n + 1].end()
            elif not after or after in _AUX or after in _PREPOSITIONS or after in _VERBS:
                replacement = topic_of(previous, plural=plural)
        if replacement:
            start = token.start()
            if question[:start].strip() == "":
                replacement = replacement[:1].upper() + replacement[1:]
            return question[:start] + replacement + question[end:]
    return None


def _possessive(topic: str) -> str:
    if not topic:
        return ""
    return topic + ("'" if topic.endswith("s") else "'s")


def _is_fragment(question: str) -> bool:
    """A bare wh-fragment: "Why not?", "How long?", "And why?" (no verb, at most 3 words)."""
    words = [w.lower() for w in _WORD.findall(question)]
    return bool(words) and len(words) <= 3 and bool(set(words) & _WH) and not set(words) & _AUX


def _strip_end(text: str) -> str:
    return text.strip().rstrip("?.! ")


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
