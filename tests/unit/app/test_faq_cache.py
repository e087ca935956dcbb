"""The in-memory FAQ cache and pricing, without I/O."""

from __future__ import annotations

from app.core.settings import CacheConfig, Settings
from app.services.faq_cache import MemoryFaqCache, normalise
from app.services.usage import price
from indexes.answers import Answer, Usage


def _answer(text: str) -> Answer:
    return Answer(answer=text, mode="extractive")


def test_semantic_hit_needs_the_threshold_and_the_same_namespace() -> None:
    cache = MemoryFaqCache(CacheConfig(similarity=0.95))
    cache.store("v1", "What is autolyse?", [1.0, 0.0, 0.0], _answer("rest [1]"))
    assert cache.lookup("v1", [0.99, 0.05, 0.0]).answer == "rest [1]"  # cosine ≈ 0.999
    assert cache.lookup("v1", [0.7, 0.7, 0.0]) is None  # cosine ≈ 0.71
    assert cache.lookup_exact("v1", "  what is AUTOLYSE ") is not None
    assert cache.lookup("v2", [1.0, 0.0, 0.0]) is None  # new index version: all stale
    assert cache.lookup("v1", [1.0, 0.0, 0.0]) is None  # and dropped, not kept for later


def test_a_refusal_answers_the_same_question_only() -> None:
    cache = MemoryFaqCache(CacheConfig(similarity=0.95))
    refusal = Answer(answer="not in the book", mode="extractive", found=False)
    cache.store("v1", "Gluten-free pizza dough?", [0.0, 1.0, 0.0], refusal)
    hit = cache.lookup_exact("v1", "gluten free pizza dough")
    assert hit is not None and hit.found is False  # asked again: refused without a search
    assert cache.lookup("v1", [0.0, 1.0, 0.0]) is None  # a similar question is searched anew
    cache.store("v1", "What is autolyse?", [1.0, 0.0, 0.0], _answer("rest [1]"))
    assert cache.lookup("v1", [0.0, 0.99, 0.05]) is None  # the refusal is not in the matrix
    assert cache.lookup("v1", [1.0, 0.0, 0.0]).answer == "rest [1]"


def test_oldest_entries_are_evicted() -> None:
    cache = MemoryFaqCache(CacheConfig(max_entries=2))
    for i, vec in enumerate(([1.0, 0.0], [0.0, 1.0], [-1.0, 0.0])):
        cache.store("v", f"q{i}", vec, _answer(str(i)))
    assert cache.lookup("v", [1.0, 0.0]) is None
    assert cache.lookup_exact("v", "q0") is None
    assert cache.lookup("v", [0.0, 1.0]).answer == "1"


def test_normalise_ignores_case_punctuation_and_spacing() -> None:
    assert normalise("What is  Autolyse?!") == normalise("what is autolyse") == "what is autolyse"


def test_price_uses_the_models_in_config() -> None:
    settings = Settings(
        usage={
            "prices": {
                "gpt-4o-mini": {"prompt": 1, "completion": 2},
                "all-MiniLM-L6-v2": {"embedding": 0.5},
            }
        }
    )
    usage = Usage(prompt_tokens=1000, completion_tokens=500, embedding_tokens=2000)
    assert price(settings=settings, usage=usage, mode="llm") == 1 + 1 + 1
    assert price(settings=settings, usage=usage, mode="extractive") == 1  # no LLM was called
