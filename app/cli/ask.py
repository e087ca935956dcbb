"""`folio ask`: one question answered with numbered citations (through a running `folio serve`
that holds the local store, else here)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import ConfigOpt, cli_settings, console, describe_store, fail


def ask(
    question: Annotated[str, typer.Argument(help="The question")],
    config: ConfigOpt = None,
    top_k: Annotated[int | None, typer.Option(help="Passages to retrieve")] = None,
) -> None:
    """Answer a question with numbered citations and list the sources."""
    from app.core.errors import FolioError
    from app.ops.handoff import find_server

    settings = cli_settings(config)
    server = None if settings.vector_store.is_server else find_server(settings.storage_dir)
    if server is not None:
        answer = _ask_via_server(server.url, question, top_k)
    else:
        from app.services.answering import answer_question
        from app.services.index_holder import open_index

        try:
            folio = open_index(settings)
        except Exception as exc:
            raise fail(
                f"{describe_store(settings)} is unavailable ({type(exc).__name__})"
            ) from None
        try:
            answer = answer_question(
                index=folio, settings=settings, question=question, top_k=top_k
            ).model_dump()
        except FolioError as exc:
            raise fail(exc.message) from None
        finally:
            folio.close()
    console.print(answer["answer"], highlight=False)
    if answer["sources"]:
        console.print()
        for src in answer["sources"]:
            where = src["section"] or src["chapter"] or src["document_id"]
            console.print(f"\\[{src['n']}] {where} (score {src['score']})", highlight=False)
            snippet = " ".join(src["text"].split())
            more = "…" if len(snippet) > 300 else ""
            console.print(f"    {snippet[:300]}{more}", highlight=False)


def _ask_via_server(url: str, question: str, top_k: int | None) -> dict:
    import httpx

    response = httpx.post(f"{url}/query", json={"query": question, "top_k": top_k}, timeout=120)
    if response.status_code != 200:
        raise fail(response.json().get("error", {}).get("message", response.text))
    return response.json()
