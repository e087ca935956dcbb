"""Extractive synthesizer: leads with the sentence that answers, adds one only when it adds to
the answer, says "not found" below its threshold, and quotes sentences whole and verbatim."""

from __future__ import annotations

import re

from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from indexes.synthesizer import ExtractiveSynthesizer
from indexes.text import split_sentences
from tests.utils.embeddings import BagOfWordsEmbedding

PASSAGES = [
    "## Autolyse\n\nAutolyse is a rest in which only flour and water are mixed. It lasts 30 to "
    "60 minutes. Salt is left out because it tightens gluten.",
    "## Baking\n\nBake at 250°C with the lid on for 20 minutes. Then remove the lid.",
    "## Storage\n\nStore the loaf cut side down on a board.",
]


def _synth(**kwargs) -> ExtractiveSynthesizer:
    return ExtractiveSynthesizer(embed_model=BagOfWordsEmbedding(), **kwargs)


def _cited(answer: str) -> list[tuple[str, int]]:
    return [(m.group(1).strip(), int(m.group(2))) for m in re.finditer(r"(.+?) \[(\d+)\]", answer)]


def test_every_cited_sentence_is_in_its_source():
    answer = _synth().answer("What is autolyse and how long does it last?", PASSAGES)
    cited = _cited(answer)
    assert cited, answer
    for sentence, n in cited:
        assert sentence in PASSAGES[n - 1]


def test_leads_with_the_best_sentence_even_from_a_lower_passage():
    answer = _synth().answer("At what temperature to bake?", PASSAGES)
    assert answer.startswith("Bake at 250°C with the lid on for 20 minutes. [2]")


def test_a_second_sentence_only_when_it_adds_a_question_term():
    """The second sentence answers the other half of the question; "Rye flour is grey" adds
    nothing the question asks about, so it is padding and stays out."""
    passages = ["Rye flour ferments fast. Rye bread keeps for a week. Rye flour is grey."]
    chosen = _synth(max_sentences=3).select(
        "Does rye flour ferment fast, and how long does rye bread keep?", passages
    )
    assert sorted(s.text for s in chosen) == [
        "Rye bread keeps for a week.",
        "Rye flour ferments fast.",
    ]


def test_a_sentence_that_refers_back_counts_the_one_before():
    """Regression: "it usually takes 4 to 6 hours" lost to a sentence that only repeated the
    question's words, because "it" hid that it was about bulk fermentation."""
    chosen = _synth().select("How long does autolyse last?", PASSAGES)
    assert chosen[0].text == "It lasts 30 to 60 minutes."


def test_a_sentence_saying_the_opposite_does_not_lead():
    """Regression: "how do I get an ear?" was answered with "... without forming an ear"."""
    passages = [
        "A cut made straight down opens evenly without forming an ear. For an ear, hold the "
        "blade at a shallow angle and cut an ear."
    ]
    chosen = _synth().select("How do I cut an ear?", passages)
    assert chosen[0].text.startswith("For an ear, hold the blade")


def test_sentences_repeating_the_covered_terms_are_padding():
    passages = ["Rye flour ferments fast. Rye flour ferments very fast indeed. Rye is grey."]
    chosen = _synth(max_sentences=3).select("Does rye flour ferment fast?", passages)
    assert len(chosen) == 1


def test_max_sentences_caps_the_answer():
    chosen = _synth(max_sentences=1).select("What is autolyse and how long does it last?", PASSAGES)
    assert len(chosen) == 1


def test_below_threshold_is_not_found():
    synth = _synth(threshold=0.9, no_answer="Nothing found.")
    nodes = [NodeWithScore(node=TextNode(text=p), score=1.0) for p in PASSAGES]
    response = synth.synthesize("How do I make gluten-free pizza dough?", nodes)
    assert response.metadata is not None and response.metadata["found"] is False
    assert str(response.response) == "Nothing found."
    found = _synth(threshold=0.5).synthesize("What is autolyse?", nodes)
    assert found.metadata is not None and found.metadata["found"] is True
    assert "[1]" in str(found.response)


def test_no_passages_says_so():
    assert _synth(no_answer="Nothing found.").answer("anything", []) == "Nothing found."


def test_one_batched_embedding_of_at_most_max_candidates():
    model = BagOfWordsEmbedding()
    synth = ExtractiveSynthesizer(embed_model=model, max_candidates=4)
    synth.select("autolyse", PASSAGES)
    assert model.batches == [4]


def test_sentence_vectors_are_cached_per_process():
    """A popular passage is embedded once, not once per question; the cache is bounded."""
    model = BagOfWordsEmbedding()
    synth = ExtractiveSynthesizer(embed_model=model, cache_size=6)
    synth.select("autolyse", PASSAGES)
    synth.select("how long to bake?", PASSAGES)
    assert model.batches == [6]  # six sentences, all cached by the first question
    synth.select("autolyse", [*PASSAGES, "A new sentence about rye flour here."])
    assert model.batches == [6, 1]


def test_question_embedding_on_the_bundle_is_reused():
    """Retrieval leaves the question's embedding on the QueryBundle: no second embedding."""
    model = BagOfWordsEmbedding()
    bundle = QueryBundle("What is autolyse?", embedding=model.get_text_embedding("autolyse"))
    ExtractiveSynthesizer(embed_model=model).select(bundle, PASSAGES)
    assert model.questions == []


def test_works_with_mock_embedding():
    """MockEmbedding (used by the app tests) gives every sentence the same meaning score;
    the words and the passage rank still choose."""
    synth = ExtractiveSynthesizer(embed_model=MockEmbedding(embed_dim=8), threshold=0.5)
    answer = synth.answer("At what temperature to bake?", PASSAGES)
    assert answer.startswith("Bake at 250°C")


def test_without_shared_words_meaning_and_rank_still_choose():
    chosen = _synth().select("zzz qqq", PASSAGES)
    assert chosen and chosen[0].source == 1  # meaning and rank still rank the sentences


def test_closing_quotes_stay_with_their_sentence():
    text = 'For the flap called an "ear," hold the blade low. He said "stop." Then he left.'
    assert split_sentences(text) == [
        'For the flap called an "ear," hold the blade low.',
        'He said "stop."',
        "Then he left.",
    ]


def test_lowercase_after_a_period_does_not_split():
    assert split_sentences("Use a strong flour, e.g. bread flour from a mill. Then mix it.") == [
        "Use a strong flour, e.g. bread flour from a mill.",
        "Then mix it.",
    ]


def test_initials_and_titles_do_not_end_a_sentence():
    text = (
        "Tesla met attorney Charles F. Peck in New York. A book by J.I. Pontanus named it. "
        "Dr. Thomas Coke assisted. It was built after World War I. The war had ended."
    )
    assert split_sentences(text) == [
        "Tesla met attorney Charles F. Peck in New York.",
        "A book by J.I. Pontanus named it.",
        "Dr. Thomas Coke assisted.",
        "It was built after World War I.",
        "The war had ended.",
    ]
    wrapped = "Tesla met attorney Charles F.\nPeck in New York. Then  Dr.  Coke came along."
    assert split_sentences(wrapped) == [
        "Tesla met attorney Charles F.\nPeck in New York.",
        "Then  Dr.  Coke came along.",
    ]  # verbatim slices of the passage, whatever whitespace followed the initial


def test_headings_and_code_are_not_sentences():
    text = "# Title\n\n```\nlet x = 1; let y = 2; let z = 3;\n```\n\nReal prose sentence here."
    assert split_sentences(text) == ["Real prose sentence here."]


def test_repeated_sentences_from_overlapping_chunks_are_cited_once():
    passages = ["Temperature changes flavor a lot.", "Temperature changes flavor a lot. More."]
    answer = _synth().answer("temperature flavor", passages)
    assert answer.count("Temperature changes flavor") == 1


RYE = ["Rye flour ferments fast. Rye bread keeps for a week. Rye flour is grey."]
RYE_QUESTION = "Does rye flour ferment fast, and how long does rye bread keep?"


def _nodes(passages: list[str] = PASSAGES) -> list[NodeWithScore]:
    # with a metadata header the LLM would see: the extractive answer quotes the text only
    return [
        NodeWithScore(node=TextNode(text=p, metadata={"section": "Bread"}), score=1.0 - i / 10)
        for i, p in enumerate(passages)
    ]


def test_streaming_gives_the_sentences_of_the_whole_answer():
    from llama_index.core.base.response.schema import Response, StreamingResponse

    whole = _synth().synthesize(RYE_QUESTION, _nodes(RYE))
    streamed = _synth(streaming=True).synthesize(RYE_QUESTION, _nodes(RYE))
    assert isinstance(whole, Response) and isinstance(streamed, StreamingResponse)
    assert streamed.metadata is not None and streamed.metadata["found"] is True
    pieces = list(streamed.response_gen)
    assert len(pieces) == 2 and all(p.endswith("[1]") for p in pieces)
    assert "".join(pieces) == str(whole.response) == _synth().answer(RYE_QUESTION, RYE)
    assert "section" not in str(whole.response)


def test_streaming_a_refusal_streams_no_answer_and_says_not_found():
    synth = _synth(threshold=0.9, no_answer="Nothing found.", streaming=True)
    response = synth.synthesize("How do I make gluten-free pizza dough?", _nodes())
    assert response.metadata is not None and response.metadata["found"] is False
    assert list(response.response_gen) == ["Nothing found."]  # type: ignore[union-attr]


async def test_async_get_response_says_the_same():
    from llama_index.core.base.response.schema import AsyncStreamingResponse

    whole = await _synth().asynthesize(RYE_QUESTION, _nodes(RYE))
    streamed = await _synth(streaming=True).asynthesize(RYE_QUESTION, _nodes(RYE))
    assert isinstance(streamed, AsyncStreamingResponse)
    assert "".join([p async for p in streamed.async_response_gen()]) == str(whole.response)
    synth = _synth(threshold=0.9, no_answer="Nothing found.", streaming=True)
    refused = await synth.asynthesize("gluten-free pizza dough?", _nodes())
    assert isinstance(refused, AsyncStreamingResponse)
    assert refused.metadata is not None and refused.metadata["found"] is False
    assert [p async for p in refused.async_response_gen()] == ["Nothing found."]


def test_the_question_embedding_on_the_bundle_reaches_get_response():
    """The retriever leaves the question's embedding on the bundle; synthesize passes it on."""
    model = BagOfWordsEmbedding()
    bundle = QueryBundle("What is autolyse?", embedding=model.get_text_embedding("autolyse"))
    ExtractiveSynthesizer(embed_model=model).synthesize(bundle, _nodes())
    assert model.questions == []
