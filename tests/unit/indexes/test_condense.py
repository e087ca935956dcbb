"""The offline follow-up rewrite: deterministic, carries the previous question's key terms."""

from __future__ import annotations

from indexes.condense import condense_offline, is_follow_up


def test_follow_up_carries_previous_key_terms() -> None:
    assert condense_offline(["What is a levain?"], "How do I build it?") == (
        "How do I build it? (levain)"
    )
    assert condense_offline(["What is autolyse?"], "and why is that?") == (
        "and why is that? (autolyse)"
    )


def test_a_chain_of_follow_ups_keeps_the_topic() -> None:
    first = condense_offline(["What is the windowpane test?"], "How do I do it?")
    assert "windowpane" in condense_offline([first], "Why does that matter?")


def test_standalone_questions_and_first_turns_are_left_alone() -> None:
    assert condense_offline([], "How do I build it?") == "How do I build it?"
    question = "How long should bulk fermentation take at warm kitchen temperatures?"
    assert not is_follow_up(question)
    assert condense_offline(["What is a levain?"], question) == question


def test_terms_already_in_the_follow_up_are_not_repeated() -> None:
    assert condense_offline(["What is a levain?"], "And how is the levain built?") == (
        "And how is the levain built?"
    )
