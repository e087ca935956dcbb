"""Cheap, offline signals that tell an answering sentence from a merely similar one.

The extractive answerer (indexes/synthesizer.py) scores sentences by meaning and shared words;
a sentence that repeats the question's words without answering it ("Once bulk fermentation is
done, the baker's hands take over.") can win on those alone. These signals look at what kind of
answer the question wants and whether the sentence holds one:

- `question_kind`: who → a person or organisation, when → a date or time, how many / how much
  → a quantity, where → a place, what is X → a definition of X, how long → a duration, how do
  I know when … → a sign or test;
- `holds_kind`: the sentence holds that kind of thing beyond the question's own words (capitalised
  name spans, numbers with units, date patterns, copular definitions);
- `is_meta`: the sentence is about the text itself ("In this chapter, we'll talk about …");
- `restates`: the sentence only repeats a clause of the question ("Once bulk fermentation is
  done, …") and holds no answer of the kind asked for;
- `missing_concepts`: a hyphenated concept of the question ("gluten-free") that no passage
  names: the passages cannot answer it, however close their words are.

Regular expressions only: no model, no data files, a few microseconds per sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from indexes.text import STOPWORDS, WORD, stem

# -- what the question asks for ---------------------------------------------------------------

_UNITS_OF_TIME = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries)"
_KINDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "criterion",
        re.compile(
            r"\bhow (?:do|can|would|will|should) (?:i|you|we|one) (?:know|tell|check|judge|"
            r"see|recogni[sz]e)\b"
        ),
    ),
    (
        "duration",
        re.compile(
            rf"\bhow long\b|\bhow many {_UNITS_OF_TIME}\b|\bfor how (?:long|many)\b|"
            r"\bwhat (?:duration|length of time)\b"
        ),
    ),
    (
        "date",
        re.compile(
            r"\bwhen\b|\b(?:what|which) (?:year|date|century|decade|month|day|time|era|period)\b"
            r"|\bwhat time\b|\bhow (?:soon|early|late)\b"
        ),
    ),
    (
        "quantity",
        re.compile(
            r"\bhow (?:many|much|old|far|large|big|tall|high|hot|warm|cold|deep|wide|heavy|"
            r"fast|often|long)\b|\bwhat (?:percentage|percent|proportion|share|number|amount|"
            r"temperature|size|ratio|fraction|population|speed|weight|height|distance)\b"
        ),
    ),
    (
        "person",
        re.compile(
            r"^(?:.*\b)?(?:who|whom|whose)\b|\b(?:what|which) (?:person|man|woman|people|company|"
            r"organi[sz]ation|group|team|band|scientist|king|queen|president|emperor|author|"
            r"artist|writer|leader|firm|university|school|institution|agency|party)\b"
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\b(?:what|which|in what|in which) (?:city|country|state|town|region|"
            r"continent|river|island|county|province|place|location|area|village|nation|"
            r"mountain|ocean|sea|street|building)\b"
        ),
    ),
]
# "What is X?" / "What are X?" / "What does X mean?" with a short X: a definition of X.
_DEFINITION = re.compile(
    r"^\s*(?:what(?:'s| is| are| was| were)|define|what does|what do)\s+(?:an?\s+|the\s+)?"
    r"(?P<x>[\w' -]{2,40}?)(?:\s+(?:mean|stand for|refer to))?\s*\??\s*$",
    re.IGNORECASE,
)
# X of a "what is X" that is no definition: "what is the name of ...", "what is the largest ..."
_NOT_A_TERM = re.compile(
    r"\b(?:of|for|in|on|at|by|to|that|which|who|whose|name|most|least|largest|smallest|"
    r"biggest|best|first|last|main|difference|purpose|role|reason|cause|effect|result)\b|"
    r"\w+est\b",
    re.IGNORECASE,
)

# Words of the question's frame, not of its topic: "how long" asks for a duration, it does not
# ask about length.
FRAME_WORDS = frozenset("long often far old soon early late".split())
_WH_FRAME = re.compile(
    r"^\s*(?:(?:and|but|so|or)\s+)?(?:who|whom|whose|what|when|where|which|why|how)"
    r"(?:\s+(?:long|many|much|often|far|old|soon|early|late|large|big|hot|warm|cold|"
    r"high|tall))?(?:\s+(?:do|does|did|is|are|was|were|can|could|should|would|will|has|have|"
    r"had|must|may|might))?(?:\s+(?:i|you|we|they|one|it))?\b",
    re.IGNORECASE,
)


def question_kind(question: str) -> str | None:
    """The kind of answer the question expects, or None when its form says nothing."""
    low = " ".join(question.lower().replace("’", "'").split())
    match = _DEFINITION.match(low)
    if match and not _NOT_A_TERM.search(match.group("x")) and len(match.group("x").split()) <= 4:
        return "definition"
    for kind, pattern in _KINDS:
        if pattern.search(low):
            return kind
    return None


def definition_term(question: str) -> str | None:
    """X of "what is X?" (lower case, no article), when the question asks for a definition."""
    match = _DEFINITION.match(" ".join(question.lower().replace("’", "'").split()))
    if match is None or question_kind(question) != "definition":
        return None
    return match.group("x").strip()


def question_body(question: str) -> str:
    """The question without its wh-frame ("How long does bulk fermentation take?" → "bulk
    fermentation take?"): what the question is about, not how it asks."""
    return _WH_FRAME.sub("", question, count=1).strip()


# -- what a sentence holds --------------------------------------------------------------------

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_DATE = re.compile(
    rf"\b(?:1\d{{3}}|20\d\d)s?\b|\b(?:{_MONTHS})\b|\b\d{{1,2}}(?:st|nd|rd|th)\s+century\b|"
    r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
    r"twenty-first) century\b|\b\d{1,4}\s*(?:BC|BCE|AD|CE)\b|\b(?:Monday|Tuesday|Wednesday|"
    r"Thursday|Friday|Saturday|Sunday)\b|\b\d{1,2}:\d\d\b|\b\d{1,2}\s*(?:a\.m\.|p\.m\.|am|pm)\b|"
    r"\b(?:morning|afternoon|evening|night|overnight|noon|midnight|dawn|dusk)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|"
    r"millions|half|quarter|double|twice|several|few)"
)
_NUMBER = re.compile(rf"\d|\b{_NUMBER_WORDS}\b", re.IGNORECASE)
_DURATION = re.compile(
    rf"(?:\d|\b{_NUMBER_WORDS}\b|\ba few\b|\ban?\b)[\w.,\s-]{{0,12}}?\b{_UNITS_OF_TIME}\b|"
    r"\bovernight\b|\ball day\b|\bforever\b",
    re.IGNORECASE,
)
# A run of capitalised words ("Raymond Calvel", "University of Chicago"), joined by of/de/…
_NAME = re.compile(
    r"(?:[A-Z][\w'’.-]*[a-z][\w'’-]*|[A-Z]{2,})(?:\s+(?:of|de|da|del|der|van|von|la|le|the|and|"
    r"&)?\s*(?:[A-Z][\w'’.-]*[a-z][\w'’-]*|[A-Z]{2,}))*"
)
_LOCATIVE = re.compile(
    r"\b(?:in|at|near|from|to|into|across|outside|inside|throughout|on|off|along|around|"
    r"between|north|south|east|west|of)\s+(?:the\s+)?(?P<name>[A-Z][\w'’-]+)"
)
_PLACE_WORDS = re.compile(
    r"\b(?:city|country|state|town|region|continent|river|island|county|province|village|"
    r"capital|mountains?|ocean|sea|lake|valley|coast|bay|district|street|road|square|"
    r"kitchen|oven|refrigerator|fridge|counter|jar|container|basket|shelf|pot|bowl|room)\b",
    re.IGNORECASE,
)
_CRITERION = re.compile(
    r"\b(?:ready|done|finished)\s+(?:when|once|if)\b|\b(?:when|once|if)\s+(?:it|they|the\s+\w+)\s+"
    r"(?:has|have|is|are|looks?|feels?|doubles?|grows?|springs?|reaches?|sounds?|smells?|"
    r"floats?|passes?|shows?)\b|\b(?:looks?|feels?|smells?|sounds?|tastes?|jiggles?)\s+\w+|"
    r"\b(?:springs? back|test|tests|a sign|signs)\b",
    re.IGNORECASE,
)
_ARTICLE = r"(?:an?\s+|the\s+)?"
_COPULA = r"(?:is|are|was|were|refers to|means|describes|denotes|is called|are called)"


def holds_kind(kind: str | None, sentence: str, question: str) -> bool:
    """Whether `sentence` holds an answer of `kind` that the question does not already say."""
    if kind is None:
        return False
    asked = {w.lower() for w in WORD.findall(question)}
    rest = " ".join(w for w in WORD.findall(sentence) if w.lower() not in asked)
    match kind:
        case "duration":
            return bool(_DURATION.search(_without_asked(sentence, asked)))
        case "date":
            return bool(_DATE.search(rest))
        case "quantity":
            return bool(_NUMBER.search(rest))
        case "person":
            return any(len(span.split()) >= 2 for span in _names(sentence, asked)) or bool(
                re.search(r"\bby\s+(?:the\s+)?[A-Z]", sentence) and _names(sentence, asked)
            )
        case "place":
            return any(
                m.group("name").lower() not in asked for m in _LOCATIVE.finditer(sentence)
            ) or bool(_PLACE_WORDS.search(rest))
        case "definition":
            return defines(definition_term(question) or "", sentence)
        case "criterion":
            return bool(_CRITERION.search(sentence))
    return False


def defines(term: str, sentence: str) -> bool:
    """A copular definition of `term`: "Oven spring is the rapid rise …", "A levain is …",
    "X, a …, is …", "… is called X", "… known as X"."""
    if not term:
        return False
    x = _term_pattern(term)
    low = sentence.lower()
    return bool(
        re.match(rf"^\s*{_ARTICLE}{x}\s*(?:\([^)]*\)\s*)?(?:,[^,]{{1,80}},\s*)?{_COPULA}\b", low)
        or re.match(rf"^\s*(?:an?\s+|the\s+)?{x}\s*,\s*(?:an?|the)\s+", low)
        or re.search(rf"\b(?:called|known as|termed|named)\s+(?:an?\s+|the\s+)?[\"'“]?{x}\b", low)
    )


@lru_cache(maxsize=4096)
def _term_pattern(term: str) -> str:
    """Regex for a term allowing a plural ending and hyphen/space variants."""
    words = [re.escape(w) for w in re.split(r"[\s-]+", term.lower()) if w]
    return r"[\s-]+".join(words) + r"(?:s|es)?"


def _names(sentence: str, asked: set[str]) -> list[str]:
    """Capitalised spans holding a word the question does not say; the sentence's first word
    counts only as part of a longer span ("Raymond Calvel popularized …")."""
    spans = []
    for match in _NAME.finditer(sentence):
        span = match.group(0)
        words = span.split()
        if match.start() == 0 and len(words) == 1:
            continue
        if all(w.lower().strip(".'’") in asked for w in words):
            continue
        if _DATE.fullmatch(span):
            continue
        spans.append(span)
    return spans


def _without_asked(sentence: str, asked: set[str]) -> str:
    return " ".join(w for w in re.findall(r"\S+", sentence) if w.lower().strip(".,;:") not in asked)


# -- text about the text ----------------------------------------------------------------------

_META = re.compile(
    r"\b(?:in|this|the next|the previous|the following|the last|later in this|earlier in this|"
    r"the rest of this|throughout this)\s+(?:chapter|section|book|part|appendix|tutorial|guide)\b|"
    r"\b(?:we|we'll|we’ll|we've|we’ve|you'll|you’ll)\s+(?:will\s+|have\s+|are going to\s+)?"
    r"(?:talk|discuss|cover|explore|look|learn|see|saw|discussed|covered|explored|looked|"
    r"learned|seen|mentioned|introduced|walk|go over|went over|examine|examined|show|start)\b|"
    r"\bas (?:we|you) (?:saw|learned|discussed|mentioned|noted|have seen|'ve seen)\b|"
    r"\blet['’]s\b|\blet us\b|\bin chapter \d+\b|\bthis chapter\b|\bthis section\b",
    re.IGNORECASE,
)


def is_meta(sentence: str) -> bool:
    """A sentence about the text itself (what a chapter covers, what we will see)."""
    return bool(_META.search(sentence))


# -- restatements -----------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")
# Kinds whose questions a restatement cannot answer. Only "how do I know when P?": a sentence
# that takes P as its premise ("Once P, …") talks about what follows. For the factoid kinds
# the test is too noisy (SQuAD DEV: first-sentence gold -0.01 to -0.02 at weight -0.4, because
# the kind detectors miss answers such as "911" or "immediately"; docs/evals.md).
RESTATED_KINDS = frozenset({"criterion"})


def restates(question: str, sentence: str, kind: str | None) -> bool:
    """The sentence repeats a clause of the question (three or more of its words in a row,
    its frame left out) and holds no answer of the kind the question asks for: "Once bulk
    fermentation is done, the baker's hands take over." for "How do I know when bulk
    fermentation is done?". Only for questions whose form says what an answer holds, other than
    a definition (a definition repeats its term by nature)."""
    if kind not in RESTATED_KINDS or holds_kind(kind, sentence, question):
        return False
    body = _TOKEN.findall(question_body(question).lower())
    said = " " + " ".join(_TOKEN.findall(sentence.lower())) + " "
    return any(
        f" {' '.join(body[i : i + 3])} " in said
        and sum(w not in STOPWORDS for w in body[i : i + 3]) >= 2
        for i in range(max(0, len(body) - 2))
    )


# -- concepts the passages do not name --------------------------------------------------------

_COMPOUND = re.compile(r"\b[A-Za-z]+(?:-[A-Za-z]+)+\b")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
# Parts that turn a compound into the absence or opposite of its other part.
_PRIVATIVE = frozenset("free less non un anti no not zero without".split())
_NEGATORS = frozenset("no not without nor never lacks lacking lack free".split())


def missing_concepts(question: str, passages: list[str]) -> list[str]:
    """Privative concepts of the question ("gluten-free", "non-alcoholic", "sugarless" written
    "sugar-less") that no passage names, hyphenated, spaced or joined. Passages that talk about
    gluten but never about gluten-free bread cannot say how to make it, however close their
    words are; the other signals would still find them similar."""
    text = _DASHES.sub("-", " ".join(passages).lower())
    out = []
    for compound in _COMPOUND.findall(question):
        parts = compound.lower().split("-")
        if not _PRIVATIVE & set(parts):
            continue
        joined = "[\\s-]?".join(re.escape(p) for p in parts)
        if re.search(rf"\b{joined}", text) or _negated_nearby(parts, text):
            continue
        out.append(compound)
    return out


def _negated_nearby(parts: list[str], text: str) -> bool:
    """The passages say it another way: "no religion" for "non-religious", "without gluten"
    or "free of any gluten" for "gluten-free" (the other part right after a negation, or after
    one of/any/a/the/added; stems compared). "without tearing the gluten" is not it."""
    bases = {stem(p) for p in parts if p not in _PRIVATIVE}
    words = re.findall(r"[a-z]+", text)
    for i, w in enumerate(words[:-1]):
        if w not in _NEGATORS:
            continue
        nxt = words[i + 1 : i + 3]
        if stem(nxt[0]) in bases or (
            len(nxt) == 2 and nxt[0] in _FILLERS and stem(nxt[1]) in bases
        ):
            return True
    return False


_FILLERS = frozenset("of any a an the added".split())
