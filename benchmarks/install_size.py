"""Installed size of what a server runs: a fresh venv with the serving lock only
(requirements/runtime.txt + model.txt), and optionally a built container image. Prints one JSON
object (docs/benchmarks.md, "Image and install size").

    .venv/bin/python benchmarks/install_size.py
    .venv/bin/python benchmarks/install_size.py --image folio:test   # also the image

The venv is made in a temporary folder and removed afterwards; pip downloads what its cache
lacks. Sizes are disk usage (du), as `du -sh` prints them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCKS = REPO / "requirements"
# what the export and evals extras bring; none may be importable in a serving venv
HEAVY = ("torch", "transformers", "sentence_transformers", "onnx", "ranx", "scipy", "matplotlib")


def _du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return round(int(out.stdout.split()[0]) / 1024, 1)


def _pip(python: Path, *args: str) -> str:
    return subprocess.run(
        [str(python), "-m", "pip", *args], capture_output=True, text=True, check=True
    ).stdout


def serving_venv() -> dict:
    """Install the serving lock into a new venv; its size, package count, absent extras."""
    with tempfile.TemporaryDirectory(prefix="folio-serving-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        _pip(python, "install", "-q", "--require-hashes", "-r", str(LOCKS / "runtime.txt"))
        _pip(
            python, "install", "-q", "--require-hashes", "--no-deps", "-r", str(LOCKS / "model.txt")
        )
        packages = json.loads(_pip(python, "list", "--format", "json"))
        probe = subprocess.run(
            [
                str(python),
                "-c",
                "import importlib.util as u, sys;"
                f"print(','.join(m for m in {HEAVY!r} if u.find_spec(m)))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return {
            "venv_mb": _du_mb(venv),
            "packages": len(packages),
            "extras_importable": [m for m in probe.stdout.strip().split(",") if m],
        }


def image(tag: str) -> dict:
    """The image's size as Docker reports it and the size of the venv inside it."""
    inspect = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", tag],
        capture_output=True,
        text=True,
        check=True,
    )
    inside = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", tag, "du", "-sk", "/opt/folio"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        "image": tag,
        "image_mb": round(int(inspect.stdout.strip()) / 1e6, 1),  # docker image ls: MB = 10^6
        "image_venv_mb": round(int(inside.stdout.split()[0]) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", help="also report this built image (docker image tag)")
    args = parser.parse_args()
    result = {"serving": serving_venv()}
    if args.image:
        result["image"] = image(args.image)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
