"""Extractive synthesizer: cited sentences are verbatim from the cited passage."""

from __future__ import annotations

import re

from indexes.synthesizer import ExtractiveSynthesizer, split_sentences

PASSAGES = [
    "## Autolyse\n\nAutolyse is a rest in which only flour and water are mixed. It lasts 30 to "
    "60 minutes. Salt is left out because it tightens gluten.",
    "## Baking\n\nBake at 250°C with the lid on for 20 minutes. Then remove the lid.",
    "## Storage\n\nStore the loaf cut side down on a board.",
]


def _cited(answer: str) -> list[tuple[str, int]]:
    return [(m.group(1).strip(), int(m.group(2))) for m in re.finditer(r"(.+?) \[(\d+)\]", answer)]


def test_every_cited_sentence_is_in_its_source():
    synth = ExtractiveSynthesizer(max_sentences=3)
    answer = synth.answer("What is autolyse and how long does it last?", PASSAGES)
    cited = _cited(answer)
    assert cited, answer
    for sentence, n in cited:
        assert sentence in PASSAGES[n - 1]
    assert cited[0] == ("Autolyse is a rest in which only flour and water are mixed.", 1)


def test_picks_the_passage_that_answers():
    answer = ExtractiveSynthesizer(max_sentences=2).answer("At what temperature to bake?", PASSAGES)
    assert "250°C" in answer and "[2]" in answer


def test_sentences_are_ordered_by_source_then_position():
    synth = ExtractiveSynthesizer(max_sentences=4)
    chosen = synth.select("autolyse salt lid minutes", PASSAGES)
    keys = [(s.source, s.position) for s in chosen]
    assert keys == sorted(keys)


def test_no_passages_says_so():
    synth = ExtractiveSynthesizer(no_answer="Nothing found.")
    assert synth.answer("anything", []) == "Nothing found."


def test_no_shared_words_leads_with_top_passage():
    answer = ExtractiveSynthesizer().answer("zzz qqq", PASSAGES)
    assert answer.startswith("Autolyse is a rest") and "[1]" in answer


def test_headings_and_code_are_not_sentences():
    text = "# Title\n\n```\nlet x = 1; let y = 2; let z = 3;\n```\n\nReal prose sentence here."
    assert split_sentences(text) == ["Real prose sentence here."]


def test_repeated_sentences_from_overlapping_chunks_are_cited_once():
    passages = ["Temperature changes flavor a lot.", "Temperature changes flavor a lot. More."]
    answer = ExtractiveSynthesizer().answer("temperature flavor", passages)
    assert answer.count("Temperature changes flavor") == 1
