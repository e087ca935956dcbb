"""Config validation: every mistake stops start-up with one line that names the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.core.settings import ConfigError, load_settings


def _write(tmp_path: Path, data: dict) -> Path:
    book = tmp_path / "book"
    book.mkdir(exist_ok=True)
    base = {"sources": [{"name": "b", "path": str(book), "book": "B"}]}
    base.update(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


def _error(path: Path, environ: dict | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ or {})
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_unknown_key_is_named(tmp_path):
    message = _error(_write(tmp_path, {"vector_store": {"urll": "http://x"}}))
    assert "vector_store.urll" in message and "unknown key" in message


def test_unknown_top_level_key_is_named(tmp_path):
    assert "retreival" in _error(_write(tmp_path, {"retreival": {"top_k": 3}}))


def test_wrong_type_is_named(tmp_path):
    message = _error(_write(tmp_path, {"retrieval": {"top_k": "many"}}))
    assert "retrieval.top_k" in message


def test_missing_source_path_is_named(tmp_path):
    path = _write(tmp_path, {})
    data = yaml.safe_load(path.read_text())
    data["sources"][0]["path"] = str(tmp_path / "nope")
    path.write_text(yaml.safe_dump(data))
    message = _error(path)
    assert "sources.0.path" in message and "does not exist" in message


def test_bad_url_is_named(tmp_path):
    message = _error(_write(tmp_path, {"vector_store": {"url": "not a url"}}))
    assert "vector_store.url" in message


def test_bad_env_url_is_named(tmp_path):
    message = _error(_write(tmp_path, {}), environ={"QDRANT_URL": "::::"})
    assert "vector_store.url" in message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_environment_overrides_yaml(tmp_path):
    path = _write(tmp_path, {"vector_store": {"collection": "c"}, "log_level": "INFO"})
    settings = load_settings(
        path,
        environ={
            "QDRANT_URL": "http://qdrant.internal:6333",
            "OPENAI_API_KEY": "sk-test",
            "LOG_LEVEL": "debug",
            "ALLOWED_ORIGINS_STR": "https://a.example, https://b.example",
            "RATE_LIMIT_QUERIES_PER_MINUTE": "7",
        },
    )
    assert str(settings.vector_store.url) == "http://qdrant.internal:6333/"
    assert settings.vector_store.collection == "c"
    assert settings.synthesis.api_key.get_secret_value() == "sk-test"
    assert settings.synthesis.effective_mode == "llm"
    assert settings.log_level == "DEBUG"
    assert settings.api.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.api.rate_limit_per_minute == 7


def test_no_key_means_extractive(tmp_path):
    settings = load_settings(_write(tmp_path, {}), environ={})
    assert settings.synthesis.effective_mode == "extractive"


def test_relative_paths_resolve_against_config_file(tmp_path):
    (tmp_path / "book").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "b", "path": "book", "book": "B"}]}))
    settings = load_settings(path, environ={})
    assert settings.sources[0].path == tmp_path.resolve() / "book"
    assert settings.storage_dir == tmp_path.resolve() / "storage"


def test_no_secret_has_a_default(tmp_path):
    """The shipped config once carried a public JWT secret; now unset means 'generate one'."""
    settings = load_settings(_write(tmp_path, {"environment": "production"}), environ={})
    assert settings.auth.jwt_secret is None and settings.auth.key_pepper is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ("JWT_SECRET", "jwt_secret"),
        ("FOLIO_KEY_PEPPER", "key_pepper"),
        ("FOLIO_ADMIN_API_KEY", "admin_api_key"),
    ],
)
def test_production_refuses_secrets_shorter_than_32_bytes(tmp_path, env, name):
    path = _write(tmp_path, {"environment": "production"})
    message = _error(path, environ={env: "x" * 31, "FOLIO_ENV": "production"})
    assert f"auth.{name}" in message and "32 bytes" in message and env in message
    assert load_settings(path, environ={env: "x" * 32}).environment == "production"
    # Outside production a short secret is allowed (tests, a laptop).
    assert load_settings(_write(tmp_path, {}), environ={env: "short"})


@pytest.mark.parametrize("value", ["dev-only-change-me", "dev-only-pepper-change-me"])
def test_public_secrets_are_refused_in_every_environment(tmp_path, value):
    for environment in ("development", "test", "production"):
        message = _error(_write(tmp_path, {"environment": environment}), {"JWT_SECRET": value})
        assert "auth.jwt_secret" in message and "public" in message


def test_chunk_overlap_must_be_below_size(tmp_path):
    message = _error(_write(tmp_path, {"chunking": {"chunk_size": 64, "chunk_overlap": 64}}))
    assert "chunking" in message


def test_repo_config_is_valid(repo_root):
    settings = load_settings(repo_root / "config.yaml", environ={})
    assert settings.sources and settings.embedding.provider == "local"
    assert settings.auth.jwt_secret is None  # no secret in the repository


def _setting_paths(model, prefix: str = ""):  # type: ignore[no-untyped-def]
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _setting_paths(ann, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_every_setting_is_a_commented_key_in_config_yaml(repo_root):
    """Regression (issue 14, item 20): `database.auto_migrate` (and others) were missing from
    config.yaml. Every key is there with its default; secrets appear only as a comment that
    names their environment variable (they never belong in the file)."""
    from app.core.settings import ENV_PATHS, Settings

    text = (repo_root / "config.yaml").read_text()
    data = yaml.safe_load(text)
    env_of = {".".join(path): env for env, paths in ENV_PATHS.items() for path in paths}
    secrets = {path for path in env_of if path.endswith(("api_key", "jwt_secret", "key_pepper"))}
    internal = {"config_path"}  # set by load_settings, not by operators
    missing = []
    for path in _setting_paths(Settings):
        if path in internal:
            continue
        if path in secrets:
            if env_of[path] not in text:
                missing.append(path)
            continue
        node = data
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                missing.append(path)
                break
            node = node[part]
    assert missing == []
    assert data["database"]["auto_migrate"] is True


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.example/",  # a trailing slash never equals a browser's Origin header
        "https://a.example/path",
        "a.example",
        "https://a.example; script-src *",  # would add a directive to the widget's CSP
        "*",
    ],
)
def test_allowed_origins_must_be_bare_origins(tmp_path, origin):
    """They become CORS entries and the widget's CSP frame-ancestors list."""
    with pytest.raises(ConfigError, match="not an origin"):
        load_settings(_write(tmp_path, {}), environ={"ALLOWED_ORIGINS_STR": origin})


def test_allowed_origins_accept_ports_and_ipv6(tmp_path):
    value = "http://127.0.0.1:8080,https://[::1]:8443,https://books.example"
    settings = load_settings(_write(tmp_path, {}), environ={"ALLOWED_ORIGINS_STR": value})
    assert settings.api.allowed_origins == value.split(",")


def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("environment: test\nsources:\n  - name: x\n    path: [open\nchunking: {}\n")
    message = _error(path)
    assert message.startswith(f"{path}:5:9: YAML syntax error: expected ',' or ']'")
    assert "line 4, column 11" in message  # where the unclosed [ started


def test_yaml_tab_indent_is_one_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("api:\n\trate_limit_per_minute: 5\n")
    assert _error(path).startswith(f"{path}:2:1: YAML syntax error:")


def test_config_path_is_the_file(tmp_path):
    path = _write(tmp_path, {})
    assert load_settings(path, environ={}).config_path == path.resolve()
