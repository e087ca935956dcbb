"""POST /documents over HTTP: Markdown, text, HTML and PDF through the config sources' readers;
types decided by content (415), sizes (413), bad files (4xx or a failed job, never a 500 and
never a half-indexed document), auth, scopes, owners and the write rate limit. JSON /ingest
takes `book`."""

from __future__ import annotations

import io

import pytest

from tests.utils.apps import admin, make_settings, running
from tests.utils.jobs import key_headers, make_key, wait_for_job
from tests.utils.pdfs import make_pdf, zip_bytes

pytestmark = pytest.mark.integration

SALT_MD = (
    b"# Salt\n\nSalt tightens gluten and slows fermentation.\n\n## Amounts\n\nUse two percent.\n"
)
PARAGRAPH = "Autolyse rests flour and water before the salt goes in, so gluten forms unaided. "


def _file(name: str, data: bytes, media: str = "application/octet-stream") -> dict:
    return {"file": (name, data, media)}


def _chunk_texts(client, doc_id: str) -> list[str]:
    index = client.app.state.index_holder.get()
    entry = index.document(doc_id)
    assert entry is not None, f"{doc_id} is not indexed"
    nodes = {n.node_id: n for n in index.vector_store.get_nodes(list(entry.chunk_ids))}
    return [nodes[node_id].get_content() for node_id in entry.chunk_ids]


def _points(client) -> int:
    return client.app.state.index_holder.get().point_count()


async def test_a_small_markdown_file_is_indexed_within_the_request(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        r = await client.post(
            "/documents",
            files=_file("salt.md", SALT_MD, "text/markdown"),
            data={"book": "Bread Basics"},
            headers=admin(),
        )
        assert r.status_code == 200, r.text
        assert r.json()["document_id"] == "api:salt.md" and r.json()["status"] == "added"
        docs = (await client.get("/documents", headers=admin())).json()["data"]
        assert [(d["id"], d["book"], d["chapter"]) for d in docs] == [
            ("api:salt.md", "Bread Basics", "Salt")  # chapter: the first heading
        ]
        again = await client.post(
            "/documents",
            files=_file("salt.md", SALT_MD),
            data={"book": "Bread Basics"},
            headers=admin(),
        )
        assert again.status_code == 200 and again.json()["status"] == "unchanged"


async def test_pdf_html_and_text_go_through_the_readers(tmp_path):
    html = (
        b"<!doctype html><html><head><title>x</title><style>p{}</style>"
        b"<script>var secret = 1;</script></head><body><h1>Scoring</h1>"
        b"<p>Score the loaf with a lame at a shallow angle.</p></body></html>"
    )
    async with running(make_settings(tmp_path)) as client:
        pdf = make_pdf([PARAGRAPH, "A second page about levain."])
        r = await client.post("/documents", files=_file("guide.pdf", pdf), headers=admin())
        assert r.status_code == 200, r.text
        text = " ".join(_chunk_texts(client, "api:guide.pdf"))
        assert "Autolyse rests flour" in text and "second page about levain" in text

        r = await client.post(
            "/documents",
            files=_file("scoring.html", html),
            data={"source_id": "scoring"},
            headers=admin(),
        )
        assert r.status_code == 200, r.text
        text = " ".join(_chunk_texts(client, "api:scoring"))
        assert "shallow angle" in text and "secret" not in text  # scripts are not text
        docs = {
            d["id"]: d for d in (await client.get("/documents", headers=admin())).json()["data"]
        }
        assert docs["api:scoring"]["chapter"] == "Scoring"

        r = await client.post(
            "/documents",
            files=_file("notes.txt", "Crème fraîche, 20 °C.\r\nSecond line.".encode()),
            data={"chapter": "Notes"},
            headers=admin(),
        )
        assert r.status_code == 200, r.text
        assert _chunk_texts(client, "api:notes.txt") == ["Crème fraîche, 20 °C.\nSecond line."]


async def test_json_ingest_takes_a_book(tmp_path):
    """Issue 24: an API document was always labelled with the configured book's name."""
    async with running(make_settings(tmp_path)) as client:
        doc = {"chapter": "Salt", "content": "Salt slows yeast.", "book": "Pastry Notes"}
        assert (await client.post("/ingest", json=doc, headers=admin())).status_code == 200
        plain = {"chapter": "Water", "content": "Water temperature sets the pace."}
        assert (await client.post("/ingest", json=plain, headers=admin())).status_code == 200
        docs = {
            d["id"]: d for d in (await client.get("/documents", headers=admin())).json()["data"]
        }
        assert docs["api:salt"]["book"] == "Pastry Notes"
        assert docs["api:water"]["book"] == "The Sourdough Handbook"  # the configured book
        index = client.app.state.index_holder.get()
        [node] = index.vector_store.get_nodes([index.document("api:salt").chunk_ids[0]])
        assert node.metadata["book"] == "Pastry Notes"


@pytest.mark.parametrize(
    ("name", "data", "media"),
    [
        ("report.pdf", zip_bytes(), "application/pdf"),  # a zip renamed .pdf is not a PDF
        ("report.pdf", b"just some text, no PDF header at all", "application/pdf"),
        ("notes.md", b"\x89PNG\r\n\x1a\n" + bytes(200), "text/markdown"),  # an image named .md
        ("junk.txt", bytes(range(256)) * 8, "text/plain"),  # binary junk
        ("letter.docx", zip_bytes(), "application/octet-stream"),  # a kind Folio does not read
        ("data.csv", b"a,b\n1,2\n", "text/csv"),
        ("upload", bytes(range(256)) * 8, "application/octet-stream"),  # no name, binary
        ("upload", b"plain words", "image/png"),  # a declared kind Folio does not read
    ],
)
async def test_unsupported_content_is_415_and_nothing_is_indexed(tmp_path, name, data, media):
    async with running(make_settings(tmp_path)) as client:
        r = await client.post("/documents", files=_file(name, data, media), headers=admin())
        assert r.status_code == 415, r.text
        body = r.json()["error"]
        assert body["code"] == "unsupported_media_type" and name in body["message"]
        assert _points(client) == 0
        assert (await client.get("/jobs", headers=admin())).json()["count"] == 0


async def test_a_pdf_is_recognised_by_content_whatever_its_name(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        r = await client.post(
            "/documents", files=_file("upload", make_pdf([PARAGRAPH])), headers=admin()
        )
        assert r.status_code == 200, r.text
        assert "Autolyse" in _chunk_texts(client, "api:upload")[0]


async def test_not_multipart_is_415(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        r = await client.post("/documents", json={"content": "x"}, headers=admin())
        assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]["message"]
        r = await client.post("/documents", data={"book": "no file"}, files={}, headers=admin())
        assert r.status_code in (415, 422)


async def test_missing_file_and_bad_fields_are_422(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        r = await client.post(
            "/documents", files={"other": ("a.md", b"x", "text/markdown")}, headers=admin()
        )
        assert r.status_code == 422 and r.json()["error"]["message"].startswith("file:")
        r = await client.post(
            "/documents",
            files=_file("a.md", SALT_MD),
            data={"source_id": "../etc/passwd"},
            headers=admin(),
        )
        assert r.status_code == 422 and "source_id" in r.json()["error"]["message"]
        r = await client.post(
            "/documents", files=_file("a.md", SALT_MD), data={"book": "x" * 301}, headers=admin()
        )
        assert r.status_code == 422 and "book" in r.json()["error"]["message"]
        assert _points(client) == 0


async def test_too_large_is_413(tmp_path):
    settings = make_settings(tmp_path, api={"max_upload_bytes": 4096})
    async with running(settings) as client:
        big = b"# Big\n\n" + b"word " * 2000  # 10 kB, inside the body cap (limit + 64 kB)
        r = await client.post("/documents", files=_file("big.md", big), headers=admin())
        assert r.status_code == 413 and "api.max_upload_bytes" in r.json()["error"]["message"]
        huge = b"word " * 40_000  # 200 kB: refused by the body cap before the form is parsed
        r = await client.post("/documents", files=_file("huge.md", huge), headers=admin())
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        assert _points(client) == 0


async def test_uploads_may_be_larger_than_json_ingest_bodies(tmp_path):
    """The body cap of /documents is its own (`api.max_upload_bytes`), not /ingest's."""
    settings = make_settings(tmp_path, api={"max_ingest_bytes": 2048, "max_upload_bytes": 400_000})
    async with running(settings) as client:
        body = ("# Long\n\n" + PARAGRAPH * 1200).encode()  # ~100 kB
        r = await client.post("/documents", files=_file("long.md", body), headers=admin())
        assert r.status_code == 202, r.text  # over sync_upload_max_bytes: a job
        job = await wait_for_job(client, r.json()["id"])
        assert job["state"] == "succeeded", job
        too_big_json = {"chapter": "x", "content": "word " * 20_000}
        r = await client.post("/ingest", json=too_big_json, headers=admin())
        assert r.status_code == 413


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("broken.pdf", make_pdf([PARAGRAPH])[:300], "damaged"),  # truncated
        ("noise.pdf", b"%PDF-1.7\n" + bytes(range(1, 256)) * 4, "damaged"),
        ("empty.html", b"<html><body><script>x()</script><p>  </p></body></html>", "no visible"),
        ("scan.pdf", make_pdf([""]), "no text layer"),
        ("empty.md", b"", "empty"),
    ],
)
async def test_bad_files_in_the_request_are_422_and_leave_nothing(tmp_path, name, data, expected):
    async with running(make_settings(tmp_path)) as client:
        r = await client.post("/documents", files=_file(name, data), headers=admin())
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "unreadable_file" and expected in error["message"]
        assert name in error["message"] and "Traceback" not in r.text
        assert _points(client) == 0
        assert (await client.get("/documents", headers=admin())).json()["count"] == 0


async def test_an_encrypted_pdf_is_refused_with_the_reason(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf([PARAGRAPH]))).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    async with running(make_settings(tmp_path)) as client:
        r = await client.post(
            "/documents", files=_file("locked.pdf", buffer.getvalue()), headers=admin()
        )
        assert r.status_code == 422 and "encrypted" in r.json()["error"]["message"]


async def test_a_corrupt_pdf_in_a_job_fails_the_job_and_indexes_nothing(tmp_path):
    settings = make_settings(tmp_path, api={"sync_upload_max_bytes": 100})
    broken = make_pdf([PARAGRAPH * 20, PARAGRAPH * 20])
    broken = broken[: len(broken) // 2] + bytes(range(256)) * 2  # damaged in the middle
    async with running(settings) as client:
        r = await client.post("/documents", files=_file("broken.pdf", broken), headers=admin())
        assert r.status_code == 202, r.text
        job = await wait_for_job(client, r.json()["id"])
        assert job["state"] == "failed" and job["error"]["code"] == "unreadable_file"
        assert "damaged" in job["error"]["message"] and job["result"] is None
        assert _points(client) == 0
        assert (await client.get("/documents", headers=admin())).json()["count"] == 0


async def test_uploads_need_a_key_with_the_ingest_scope(tmp_path):
    async with running(make_settings(tmp_path)) as client:
        r = await client.post("/documents", files=_file("a.md", SALT_MD))
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        reader = await make_key(client, ["query"])
        r = await client.post(
            "/documents", files=_file("a.md", SALT_MD), headers=key_headers(reader)
        )
        assert r.status_code == 403 and "ingest" in r.json()["error"]["message"]
        r = await client.post(
            "/documents", files=_file("a.md", SALT_MD), headers={"X-API-Key": "fk_wrong"}
        )
        assert r.status_code == 401
        writer = await make_key(client, ["ingest"])
        r = await client.post(
            "/documents", files=_file("a.md", SALT_MD), headers=key_headers(writer)
        )
        assert r.status_code == 200
        assert _points(client) > 0


async def test_the_key_is_checked_before_the_body_is_read(tmp_path):
    """A caller without a key gets 401 for a malformed body too: the multipart body is parsed
    only after the key and its rate limit checked out."""
    async with running(make_settings(tmp_path)) as client:
        garbage = {"content-type": "multipart/form-data; boundary=xyz"}
        r = await client.post("/documents", content=b"not multipart at all", headers=garbage)
        assert r.status_code == 401
        r = await client.post(
            "/documents", content=b"not multipart at all", headers={**garbage, **admin()}
        )
        assert r.status_code in (400, 422) and r.json()["error"]["request_id"]


async def test_another_key_cannot_replace_an_uploaded_document(tmp_path):
    async with running(make_settings(tmp_path, api={"sync_upload_max_bytes": 200})) as client:
        alice, mallory = await make_key(client, ["ingest"]), await make_key(client, ["ingest"])
        r = await client.post(
            "/documents", files=_file("salt.md", SALT_MD), headers=key_headers(alice)
        )
        assert r.status_code == 200
        hijack = b"# Salt\n\nSalt is optional and harmless in any amount.\n"
        r = await client.post(
            "/documents", files=_file("salt.md", hijack), headers=key_headers(mallory)
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        big_hijack = hijack * 20  # over sync_upload_max_bytes: refused before any job exists
        r = await client.post(
            "/documents", files=_file("salt.md", big_hijack), headers=key_headers(mallory)
        )
        assert r.status_code == 403
        assert (await client.get("/jobs", headers=admin())).json()["count"] == 0
        assert "Salt tightens gluten" in _chunk_texts(client, "api:salt.md")[0]
        # an admin may replace it
        r = await client.post("/documents", files=_file("salt.md", hijack), headers=admin())
        assert r.status_code == 200 and r.json()["status"] == "updated"


async def test_uploads_count_against_the_ingest_rate_limit(tmp_path):
    """Uploads and JSON ingests share one budget per key (`api.ingest_rate_limit_*`)."""
    settings = make_settings(tmp_path, api={"ingest_rate_limit_per_minute": 3})
    async with running(settings) as client:
        key = await make_key(client, ["ingest"])
        for i in range(2):
            r = await client.post(
                "/documents", files=_file(f"n{i}.md", b"Note %d." % i), headers=key_headers(key)
            )
            assert r.status_code == 200, r.text
        doc = {"chapter": "Salt", "content": "Salt slows yeast."}
        assert (await client.post("/ingest", json=doc, headers=key_headers(key))).status_code == 200
        r = await client.post(
            "/documents", files=_file("n3.md", b"Note 3."), headers=key_headers(key)
        )
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert "Retry-After" in r.headers
        assert {
            d["id"] for d in (await client.get("/documents", headers=admin())).json()["data"]
        } == {"api:n0.md", "api:n1.md", "api:salt"}


async def test_a_small_pdf_with_too_many_chunks_for_a_request_becomes_a_job(tmp_path):
    """A PDF compresses its text: a file under `sync_upload_max_bytes` may still be more than
    `api.max_ingest_chunks` to embed, and goes to a job instead of a 413."""
    settings = make_settings(tmp_path, api={"max_ingest_chunks": 2})
    pdf = make_pdf([PARAGRAPH * 30 for _ in range(4)], compress=True)
    async with running(settings) as client:
        r = await client.post("/documents", files=_file("long.pdf", pdf), headers=admin())
        assert r.status_code == 202, r.text
        job = await wait_for_job(client, r.json()["id"])
        assert job["state"] == "succeeded" and job["result"]["chunks"] > 2
