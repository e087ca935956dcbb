"""Cheap answer signals: what a question asks for, whether a sentence holds it, sentences
about the text itself, restatements, and privative concepts the passages never name."""

from __future__ import annotations

import pytest

from indexes.answer_signals import (
    definition_term,
    holds_kind,
    is_meta,
    missing_concepts,
    question_body,
    question_kind,
    restates,
)
from indexes.synthesizer import ExtractiveSynthesizer
from tests.utils.embeddings import BagOfWordsEmbedding


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who popularized autolyse?", "person"),
        ("When was the Duchy of Normandy founded?", "date"),
        ("How many grams of salt per kilo of flour?", "quantity"),
        ("How much water does a starter need?", "quantity"),
        ("Where do the microbes come from?", "place"),
        ("What is oven spring?", "definition"),
        ("What are pentosans?", "definition"),
        ("How long does bulk fermentation take?", "duration"),
        ("How do I know when bulk fermentation is done?", "criterion"),
        ("What is the name of the French scientist?", None),  # not a definition
        ("Why is my crumb dense?", None),
    ],
)
def test_question_kinds(question, kind):
    assert question_kind(question) == kind


def test_the_right_kind_beyond_the_questions_own_words():
    q = "Who popularized autolyse?"
    assert holds_kind("person", "The technique was popularized by Raymond Calvel.", q)
    assert not holds_kind("person", "A typical autolyse lasts 30 to 60 minutes.", q)
    q = "How long should I bake the loaf with the lid off?"
    assert holds_kind("duration", "Bake uncovered for another 20 to 25 minutes.", q)
    assert not holds_kind("duration", "Home ovens vent steam quickly.", q)
    assert holds_kind("date", "It began in 1911.", "When did it begin?")
    q = "What is oven spring?"
    assert definition_term(q) == "oven spring"
    assert holds_kind("definition", "Oven spring is the rapid rise a loaf makes.", q)
    assert not holds_kind("definition", "Good oven spring depends on a hot pot.", q)
    assert holds_kind("definition", 'A grey liquid called "hooch" may collect.', "What is hooch?")


def test_sentences_about_the_text_itself():
    assert is_meta(
        "In this chapter, we’ll talk about ownership as well as several related features: "
        "borrowing, slices, and how Rust lays data out in memory."
    )
    assert is_meta("As we saw in Chapter 3, variables are immutable by default.")
    assert is_meta("This chapter covers how to pick a flour.")
    assert not is_meta("Ownership is Rust’s most unique feature.")


def test_a_premise_that_repeats_the_question_is_a_restatement():
    q = "How do I know when bulk fermentation is done?"
    assert restates(q, "Once bulk fermentation is done, the baker's hands take over.", "criterion")
    assert not restates(q, "Most doughs are ready when they have grown by 50 percent.", "criterion")
    assert not restates(q, "Once bulk fermentation is done, shape it.", None)


def test_the_frame_is_not_the_topic():
    assert question_body("How long does bulk fermentation take?") == "bulk fermentation take?"
    assert question_body("Can I freeze bread?") == "Can I freeze bread?"


def test_a_privative_concept_the_passages_never_name():
    passages = ["Both methods align gluten strands without tearing them.", "Rye has little."]
    assert missing_concepts("Can I make gluten-free sourdough?", passages) == ["gluten-free"]
    assert missing_concepts("Can I make gluten free bread?", passages) == []  # no hyphen
    assert missing_concepts("Is a gluten-free loaf possible?", ["A gluten free loaf."]) == []
    assert missing_concepts("Is a dairy-free loaf possible?", ["It uses no dairy at all."]) == []
    assert missing_concepts("How does whole-wheat flour behave?", passages) == []  # not privative


def test_meta_sentences_do_not_lead():
    """Regression (Rust book): "In this chapter, we'll talk about ownership…" led answers."""
    passages = [
        "Ownership is Rust’s most unique feature and has deep implications. In this chapter, "
        "we’ll talk about ownership as well as several related features."
    ]
    synth = ExtractiveSynthesizer(embed_model=BagOfWordsEmbedding())
    chosen = synth.select("What is ownership?", passages)
    assert chosen[0].text.startswith("Ownership is Rust’s most unique feature")
