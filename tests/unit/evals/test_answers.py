"""Citation faithfulness parsing on answers shaped like ExtractiveSynthesizer's output."""

from __future__ import annotations

from evals.answers import cited_sentences, faithful_share
from indexes.synthesizer import ExtractiveSynthesizer


def test_parses_sentences_and_their_markers():
    assert cited_sentences("Rye ferments fast. [1] Salt slows yeast. [2]") == [
        ("Rye ferments fast.", 1),
        ("Salt slows yeast.", 2),
    ]
    assert cited_sentences("No marker here.") == []


def test_faithful_share_checks_verbatim_and_marker_range():
    passages = ["Rye ferments fast. It smells sour.", "Salt slows yeast."]
    pairs = [("Rye ferments fast.", 1), ("Salt slows yeast.", 1), ("It smells sour.", 3)]
    assert faithful_share(pairs, passages) == (1, 3)


def test_extractive_answers_are_fully_faithful():
    passages = [
        "A starter is flour and water. It holds wild yeast and bacteria.",
        "Feed the starter daily with fresh flour. Keep it warm for a faster rise.",
    ]
    answer = ExtractiveSynthesizer(max_sentences=3).answer("How do I feed a starter?", passages)
    pairs = cited_sentences(answer)
    assert pairs and faithful_share(pairs, passages) == (len(pairs), len(pairs))


def test_bracketed_numbers_inside_a_quoted_sentence_are_not_markers():
    """Regression: SciFact text "mean age, 74 [14] years" made a faithful quote look unfaithful."""
    passages = ["Patients were old (mean age, 74 [14] years) with heart failure."]
    answer = "Patients were old (mean age, 74 [14] years) with heart failure. [1]"
    assert faithful_share(cited_sentences(answer), passages) == (1, 1)
