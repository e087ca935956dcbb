"""SSE streaming over a real uvicorn server: event order, session messages, LLM tokens,
an error mid-stream, and a client disconnect that stops the work."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest
from llama_index.core.embeddings import MockEmbedding

from app.core.settings import load_settings
from app.main import create_app
from indexes.folio_index import FolioIndex
from tests.utils.apps import make_settings
from tests.utils.builders import write_config
from tests.utils.fake_openai import make_fake_openai_app
from tests.utils.http import serve_in_thread
from tests.utils.sse import iter_events

pytestmark = pytest.mark.integration


def _stream(base: str, path: str, body: dict, timeout: float = 60) -> list[tuple[str, dict]]:
    with httpx.Client(base_url=base, timeout=timeout) as client:
        with client.stream("POST", path, json=body) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/event-stream")
            return list(iter_events(r))


def _check_order(events: list[tuple[str, dict]]) -> dict:
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("done") == 1, names
    assert set(names[:-1]) == {"delta"} and len(names) >= 2
    done = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]) == done["answer"]
    return done


@pytest.fixture
def book_server(indexed_settings, minilm):
    app = create_app(
        indexed_settings, index_factory=lambda c, **kw: FolioIndex(c, embed_model=minilm, **kw)
    )
    with serve_in_thread(app) as base:
        yield base


def test_query_stream_sends_sentences_then_sources(book_server) -> None:
    events = _stream(book_server, "/query/stream", {"query": "What is autolyse?"})
    done = _check_order(events)
    assert done["mode"] == "extractive" and done["sources"]
    assert all(data["text"].rstrip().endswith("]") for _, data in events[:-1])  # one sentence each
    assert "autolyse" in done["answer"].lower()


def test_session_stream_stores_the_message(book_server) -> None:
    with httpx.Client(base_url=book_server) as client:
        sid = client.post("/sessions").json()["id"]
    path = f"/sessions/{sid}/messages/stream"
    _check_order(_stream(book_server, path, {"query": "What is a levain?"}))
    done = _check_order(_stream(book_server, path, {"query": "How do I build it?"}))
    assert done["standalone_question"] == "How do I build the levain?"
    assert done["sources"][0]["chapter"].startswith("Chapter 3")
    with httpx.Client(base_url=book_server) as client:
        messages = client.get(f"/sessions/{sid}").json()["messages"]
    assert [m["id"] for m in messages][-1] == done["message_id"]
    assert messages[-1]["answer"] == done["answer"]
    with httpx.Client(base_url=book_server) as client:  # errors before the stream are JSON
        r = client.post("/sessions/nope/messages/stream", json={"query": "x?"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_llm_stream_sends_tokens(tmp_path, book_dir, indexed_template, minilm) -> None:
    reply = "A levain is an offshoot of the starter [1]. It is built the night before [2]."
    fake = make_fake_openai_app(reply)
    shutil.copytree(indexed_template / "storage", tmp_path / "storage")
    with serve_in_thread(fake) as url:
        settings = load_settings(
            write_config(tmp_path, book_dir),
            environ={"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": f"{url}/v1"},
        )
        app = create_app(
            settings, index_factory=lambda c, **kw: FolioIndex(c, embed_model=minilm, **kw)
        )
        with serve_in_thread(app) as base:
            events = _stream(base, "/query/stream", {"query": "What is a levain?"})
    done = _check_order(events)
    assert done["mode"] == "llm" and done["answer"] == reply
    assert len(events) - 1 == len(reply.split(" "))  # one delta per streamed token
    assert fake.state.requests[-1]["body"]["stream"] is True


class _ScriptedIndex(FolioIndex):
    """Streams `pieces` slowly, optionally failing after the first; records what it did."""

    produced = 0
    closed = threading.Event()
    fail = False

    def stream(self, question, top_k=None, **kwargs):  # type: ignore[no-untyped-def]
        cls = type(self)
        try:
            for i in range(50):
                if cls.fail and i == 1:
                    raise RuntimeError("backend exploded with SELECT secret FROM x")
                cls.produced += 1
                yield f"piece {i} "
                time.sleep(0.1)
        finally:
            cls.closed.set()


def _scripted_app(tmp_path, fail: bool):  # type: ignore[no-untyped-def]
    _ScriptedIndex.produced, _ScriptedIndex.fail = 0, fail
    _ScriptedIndex.closed = threading.Event()

    def factory(cfg, **kw):  # type: ignore[no-untyped-def]
        return _ScriptedIndex(cfg, embed_model=MockEmbedding(embed_dim=8), **kw)

    return create_app(make_settings(tmp_path), index_factory=factory)


def test_error_mid_stream_ends_with_an_error_event(tmp_path) -> None:
    with serve_in_thread(_scripted_app(tmp_path, fail=True)) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            with client.stream("POST", "/query/stream", json={"query": "q?"}) as r:
                assert r.status_code == 200, r.read()
                raw = r.read().decode()
                events = list(iter_events(httpx.Response(200, content=raw.encode())))
    assert [name for name, _ in events] == ["delta", "error"]
    error = events[-1][1]
    assert set(error) == {"error"} and set(error["error"]) == {"code", "message", "request_id"}
    assert error["error"]["code"] == "unavailable" and error["error"]["request_id"] != "-"
    assert "SELECT" not in raw and "Traceback" not in raw


def test_client_disconnect_stops_the_work(tmp_path) -> None:
    """A client that goes away stops the answer after the piece in flight, and its place in
    the answer pool is given back (else hung-up streams would fill the admission limit)."""
    app = _scripted_app(tmp_path, fail=False)
    with serve_in_thread(app) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            with client.stream("POST", "/query/stream", json={"query": "q?"}) as r:
                first = next(iter_events(r))
                assert first == ("delta", {"text": "piece 0 ", "text_html": "piece 0 "})
                assert app.state.answer_pool.pending == 1
            # leaving the block closes the connection after one event
        assert _ScriptedIndex.closed.wait(5), "the index iterator was not closed"
        produced = _ScriptedIndex.produced
        time.sleep(1.0)
        assert _ScriptedIndex.produced == produced < 10  # nothing ran after the disconnect
        assert app.state.answer_pool.pending == 0
