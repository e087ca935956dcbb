"""`folio models export`: the local embedding model as ONNX, exported once."""

from __future__ import annotations

import typer

from app.cli.common import ConfigOpt, cli_settings, console

models_app = typer.Typer(help="The local embedding model's ONNX export.", no_args_is_help=True)


@models_app.command("export")
def models_export(config: ConfigOpt = None) -> None:
    """Export MiniLM to ONNX once (at setup or image build), so no later start loads torch."""
    from indexes.onnx_model import ensure_onnx, local_model_path

    settings = cli_settings(config)
    emb = settings.embedding
    if emb.provider != "local" or emb.runtime != "onnx":
        console.print("nothing to export: embedding.provider is not local on ONNX")
        return
    for precision in dict.fromkeys(("fp32", emb.precision)):
        path = ensure_onnx(local_model_path(), precision, emb.onnx_cache)
        console.print(f"{precision}: {path}", highlight=False)
