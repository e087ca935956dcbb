"""`folio serve`: the HTTP API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import ConfigOpt, cli_settings, uvicorn_options


def serve(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the HTTP API (uvicorn). `folio index` meanwhile hands its work to this server."""
    import uvicorn

    from app.db.migrate import ensure_reachable
    from app.main import create_app
    from app.ops.handoff import new_token, remove_server_info, write_server_info

    settings = cli_settings(config)
    ensure_reachable(settings.database.url)  # one line now, not a traceback from the lifespan
    token = new_token()
    local = not settings.vector_store.is_server
    application = create_app(
        settings,
        handoff_token=token,
        on_shutdown=(lambda: remove_server_info(settings.storage_dir)) if local else None,
    )
    if local:
        write_server_info(settings.storage_dir, host=host, port=port, token=token)
    try:
        # log_config=None: keep Folio's structured handler (create_app set it up); its own
        # access line replaces uvicorn's, which would log raw paths and query strings.
        uvicorn.run(
            application,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            **uvicorn_options(settings),
            log_config=None,
            access_log=False,
        )
    finally:
        remove_server_info(settings.storage_dir)
