"""The offline follow-up rewrite: only elliptical questions change, into readable English, and
the carried context is the previous standalone question's topic, never a growing bag of words."""

from __future__ import annotations

import re

from indexes.condense import condense_offline, is_follow_up, topic_of


def test_a_pronoun_is_replaced_by_the_previous_topic() -> None:
    assert condense_offline(["What is a levain?"], "How do I build it?") == (
        "How do I build the levain?"
    )
    assert condense_offline(["What is autolyse?"], "Who popularized it?") == (
        "Who popularized autolyse?"
    )
    assert condense_offline(["What is a banneton?"], "What can I use instead of one?") == (
        "What can I use instead of the banneton?"
    )


def test_they_and_their_prefer_a_plural_topic() -> None:
    previous = ["Why does Rust need lifetime annotations?"]
    assert condense_offline(previous, "What does their syntax look like?") == (
        "What does lifetime annotations' syntax look like?"
    )


def test_what_about_asks_the_previous_question_about_the_new_thing() -> None:
    """Regression: after levain questions, "What about the salt?" became "(long take peak
    build levain)" and got the levain answer."""
    previous = ["How much levain should a country loaf use?"]
    assert condense_offline(previous, "What about the salt?") == (
        "How much salt should a country loaf use?"
    )
    previous = ["How do I know when bulk fermentation is done?"]
    assert condense_offline(previous, "What about the final proof?") == (
        "How do I know when the final proof is done?"
    )
    assert condense_offline(["What hydration should a beginner use?"], "And for rye?") == (
        "What hydration should a beginner use for rye?"
    )


def test_a_complete_question_passes_unchanged() -> None:
    """Regression: "Why is salt left out during autolyse?", a complete question, was
    rewritten with the levain conversation's words."""
    previous = ["How long does the levain take to peak?"]
    for question in (
        "Why is salt left out during autolyse?",
        "How long does it take to bake a loaf?",  # a dummy "it"
        "What temperature should the dough be?",
        "How long should bulk fermentation take at warm kitchen temperatures?",
    ):
        assert not is_follow_up(question), question
        assert condense_offline(previous, question) == question
    assert condense_offline([], "How do I build it?") == "How do I build it?"


def test_the_carried_context_does_not_grow() -> None:
    """Five follow-ups in a row: each rewrite is a plain question about one topic; no word
    list accumulates (the old rewrite appended every earlier key term in brackets)."""
    history = ["What is a levain?"]
    for question in (
        "How do I build it?",
        "How long does it take to peak?",
        "Can I keep it overnight?",
        "What about the starter?",
        "How often should I feed it?",
    ):
        rewritten = condense_offline(history, question)
        assert "(" not in rewritten and rewritten.endswith("?"), rewritten
        assert len(rewritten.split()) <= len(question.split()) + 4, rewritten
        history.append(rewritten)
    assert history[-1] == "How often should I feed the starter?"


def test_a_bare_fragment_names_the_topic() -> None:
    previous = ["Can I index into a String in Rust?"]
    assert condense_offline(previous, "Why not?") == "Why not, for the String?"


def test_topics_are_noun_phrases_after_the_frame() -> None:
    assert topic_of("What is a levain?") == "the levain"
    assert topic_of("How do I keep a starter in the refrigerator?") == "the starter"
    assert topic_of("How long does bulk fermentation take?") == "bulk fermentation"
    assert topic_of("What flour should I dust the banneton with?") == "the banneton"
    assert topic_of("Why is my crumb dense?") == "my crumb"


def test_rewrites_are_readable_words_only() -> None:
    previous = ["What is the windowpane test?"]
    rewritten = condense_offline(previous, "Does it work for whole grain doughs?")
    assert rewritten == "Does the windowpane test work for whole grain doughs?"
    assert re.fullmatch(r"[A-Z][\w' ,-]*\?", rewritten)
