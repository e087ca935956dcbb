"""One typed Settings object built from `config.yaml` plus environment overrides.

Precedence: explicit arguments > environment (the operator names in DESIGN.md) > YAML file.
`load_settings()` is the only place that reads the environment; everything else gets the object.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from indexes.config import (
    IndexConfig,
)

DEFAULT_CONFIG = "config.yaml"
# Values that once shipped as defaults: public, so refused in every environment.
PUBLIC_SECRETS = frozenset({"dev-only-change-me", "dev-only-pepper-change-me"})
MIN_SECRET_BYTES = 32  # in production, for JWT_SECRET, FOLIO_KEY_PEPPER, FOLIO_ADMIN_API_KEY
# scheme://host[:port]: a name or an IPv4 address, or an IPv6 address in brackets.
_ORIGIN = re.compile(r"https?://(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PUBLIC_URL = re.compile(_ORIGIN.pattern + r"(?:/[A-Za-z0-9._~\-/]*)?")
# Loopback and private networks (RFC 1918, RFC 4193): the default /metrics allow-list.
PRIVATE_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)

# Flat operator-facing environment names → nested settings paths.
ENV_PATHS: dict[str, list[tuple[str, ...]]] = {
    "OPENAI_API_KEY": [("synthesis", "api_key"), ("embedding", "api_key")],
    "OPENAI_BASE_URL": [("synthesis", "api_base"), ("embedding", "api_base")],
    "QDRANT_URL": [("vector_store", "url")],
    "QDRANT_API_KEY": [("vector_store", "api_key")],
    "DATABASE_URL": [("database", "url")],
    "REDIS_URL": [("api", "redis_url")],
    "LOG_LEVEL": [("log_level",)],
    "ALLOWED_ORIGINS_STR": [("api", "allowed_origins")],
    "RATE_LIMIT_QUERIES_PER_MINUTE": [("api", "rate_limit_per_minute")],
    "RATE_LIMIT_QUERIES_PER_DAY": [("api", "rate_limit_per_day")],
    "SESSION_TIMEOUT_HOURS": [("api", "session_timeout_hours")],
    "JWT_SECRET": [("auth", "jwt_secret")],
    "FOLIO_ADMIN_API_KEY": [("auth", "admin_api_key")],
    "FOLIO_KEY_PEPPER": [("auth", "key_pepper")],
    "FOLIO_ENV": [("environment",)],
    "FOLIO_LOG_FORMAT": [("log_format",)],
    "FOLIO_AUTO_MIGRATE": [("database", "auto_migrate")],
}


class ConfigError(Exception):
    """A config problem, phrased as one line that names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiConfig(_Strict):
    """HTTP façade: CORS, request limits, rate-limit defaults."""

    allowed_origins: list[str] = Field(default_factory=list)
    max_query_chars: int = Field(default=2000, ge=1)
    max_ingest_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    max_ingest_chunks: int = Field(
        default=1000, ge=1, description="chunks one POST /ingest may create (embedding time)"
    )
    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="largest file POST /documents accepts (413)"
    )
    sync_upload_max_bytes: int = Field(
        default=64 * 1024,
        ge=0,
        description="uploads up to this size are indexed within the request; larger: 202 + job",
    )
    rate_limit_per_minute: int = Field(default=10, ge=1)
    rate_limit_per_day: int = Field(default=1000, ge=1)
    redis_url: str | None = None
    auth_rate_limit_per_minute: int = Field(default=20, ge=1)  # login/register/refresh per IP
    auth_rate_limit_per_day: int = Field(default=500, ge=1)
    # password / TOTP / recovery-code attempts per target account, from any number of IPs
    auth_account_rate_limit_per_minute: int = Field(default=10, ge=1)
    auth_account_rate_limit_per_day: int = Field(default=100, ge=1)
    # creating and deleting sessions, rating answers: per caller (key, user or IP)
    write_rate_limit_per_minute: int = Field(default=30, ge=1)
    write_rate_limit_per_day: int = Field(default=1000, ge=1)
    rate_limit_key_prefix: str = Field(default="folio-rl", min_length=1, max_length=64)
    session_timeout_hours: float = Field(default=24.0, gt=0)
    answer_workers: int | None = Field(
        default=None, ge=1, le=256, description="threads answering questions (null: 2 x cores)"
    )
    max_pending: int = Field(
        default=256, ge=1, description="answers running or waiting before 503 + Retry-After"
    )
    # Proxies (IPs or CIDR networks) whose X-Forwarded-For / X-Forwarded-Proto are believed.
    # Empty: the socket peer is the client (uvicorn's own default trusts 127.0.0.1).
    trusted_proxies: list[str] = Field(default_factory=list)
    # Who may read GET /metrics (IPs or CIDR networks); [] turns it off. The default is this
    # host and the private networks a scraper sits in (compose, Kubernetes), never the internet.
    metrics_allow: list[str] = Field(default_factory=lambda: list(PRIVATE_NETWORKS))
    # The URL readers reach this server at (scheme://host[:port][/prefix]): OIDC redirect URIs
    # are built from it, never from the request's Host header. Needed for OIDC in production.
    public_url: str | None = None
    # POST /ingest per caller (key, user or IP): every request parses, and may embed
    ingest_rate_limit_per_minute: int = Field(default=60, ge=1)
    ingest_rate_limit_per_day: int = Field(default=10_000, ge=1)
    ingest_parse_timeout_s: float = Field(
        default=5.0, gt=0, le=600, description="parsing one POST /ingest body, before 413"
    )
    # Slow clients (no proxy in front): the request head must arrive within this many seconds
    # of the connection (or of the previous response), the whole body within the other.
    header_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = value.rstrip("/")
        if not _PUBLIC_URL.fullmatch(value):
            raise ValueError(f"{value!r} is not a base URL (scheme://host[:port][/path])")
        return value

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _ip_or_network(cls, value: list[str]) -> list[str]:
        for item in value:
            if item.strip() == "*":
                raise ValueError("'*': list addresses or networks (0.0.0.0/0 and ::/0: all)")
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return [item.strip() for item in value]

    @field_validator("allowed_origins")
    @classmethod
    def _origins_only(cls, value: list[str]) -> list[str]:
        # They go into CORS and into the widget's CSP frame-ancestors: a path, a trailing slash
        # or a stray ';' would silently match nothing or inject a directive.
        for origin in value:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class JobsConfig(_Strict):
    """Uploads that run as jobs (app/services/jobs.py): on a Redis queue (dramatiq) when
    REDIS_URL is set, else on the database; run by `folio serve` and by `folio worker`s."""

    workers: int = Field(
        default=1,
        ge=0,
        le=64,
        description="job threads inside `folio serve` (0: only `folio worker` runs jobs, which "
        "needs a Qdrant server: the embedded store opens in one process only)",
    )
    max_chunks: int = Field(default=20_000, ge=1, description="chunks one upload job may create")
    parse_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="parsing one upload job's text, before it fails"
    )
    lease_s: float = Field(
        default=60.0,
        ge=2,
        description="a running job whose worker stopped renewing its claim this long is resumed",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="claims of one job (crashed runs) before it fails"
    )
    poll_s: float = Field(
        default=2.0, gt=0, description="how often an idle worker looks for jobs in the database"
    )
    queue_name: str = Field(
        default="folio-jobs",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="dramatiq queue (and Redis key namespace) of the jobs",
    )


class ModelPrice(_Strict):
    """USD per 1,000 tokens of one model."""

    prompt: float = Field(default=0.0, ge=0)
    completion: float = Field(default=0.0, ge=0)
    embedding: float = Field(default=0.0, ge=0)


class UsageConfig(_Strict):
    """Token prices and the daily budget."""

    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="model name → USD per 1k tokens; unlisted models are free"
    )
    daily_budget_usd: float | None = Field(default=None, gt=0)
    over_budget: Literal["warn", "extractive"] = Field(
        default="warn", description="warn: log + metric; extractive: also stop calling the LLM"
    )


class CacheConfig(_Strict):
    """Semantic FAQ cache (in memory, or Redis when REDIS_URL is set)."""

    enabled: bool = True
    similarity: float = Field(default=0.95, gt=0, le=1, description="cosine to count as a hit")
    max_entries: int = Field(default=1000, ge=1)
    ttl_hours: float = Field(default=24, gt=0)
    key_prefix: str = Field(default="folio-faq", min_length=1, max_length=64)


class DatabaseConfig(_Strict):
    """SQLite by default, PostgreSQL via DATABASE_URL."""

    url: str = "sqlite:///storage/folio.db"
    auto_migrate: bool = Field(
        default=True, description="run `alembic upgrade head` at start-up (off: `folio db upgrade`)"
    )
    pool_size: int = Field(default=10, ge=1, le=500, description="connections kept open")
    max_overflow: int = Field(default=20, ge=0, le=1000, description="extra under load")
    pool_timeout_s: float = Field(
        default=10.0, gt=0, description="wait for a connection before 503 (never a 500)"
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg2:", "postgres:")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value


class OAuthProviderConfig(_Strict):
    """One OpenID Connect provider (authorization code + PKCE)."""

    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    server_metadata_url: str = Field(description=".well-known/openid-configuration URL")
    scope: str = "openid email profile"


class AuthConfig(_Strict):
    """Secrets and token lifetimes. There are no default secrets: unset ones are generated
    into the storage folder by `app.core.secrets.ensure_secrets`."""

    jwt_secret: SecretStr | None = None
    admin_api_key: SecretStr | None = None
    key_pepper: SecretStr | None = None
    jwt_issuer: str = "folio"
    jwt_audience: str = "folio-api"
    access_token_minutes: float = Field(default=15, gt=0)
    refresh_token_days: float = Field(default=14, gt=0)
    password_min_length: int = Field(default=12, ge=8, le=72)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    totp_issuer: str = "Folio"
    oauth_providers: dict[str, OAuthProviderConfig] = Field(default_factory=dict)

    def jwt_key(self) -> str:
        """The JWT signing secret (HS256)."""
        return _resolved(self.jwt_secret, "jwt_secret")

    def pepper(self) -> str:
        """The HMAC pepper of API keys and recovery codes; also the root of the TOTP data key."""
        return _resolved(self.key_pepper, "key_pepper")


def _resolved(value: SecretStr | None, name: str) -> str:
    if value is None:  # a programming error: create_app / the CLI call ensure_secrets first
        raise RuntimeError(f"auth.{name} is not set: call app.core.secrets.ensure_secrets first")
    return value.get_secret_value()


class Settings(BaseSettings, IndexConfig):
    """Everything Folio is configured by; mirrors config.yaml section by section.

    The RAG sections (sources … runtime) are inherited from `indexes.config.IndexConfig`, so the
    two can never drift apart; the façade adds api, database and auth."""

    model_config = SettingsConfigDict(extra="forbid", env_prefix="FOLIO_UNUSED_")

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: json in production, console elsewhere"
    )
    config_path: Path | None = Field(
        default=None, description="the config file these settings came from (set on load)"
    )

    api: ApiConfig = ApiConfig()
    database: DatabaseConfig = DatabaseConfig()
    auth: AuthConfig = AuthConfig()
    usage: UsageConfig = UsageConfig()
    cache: CacheConfig = CacheConfig()
    jobs: JobsConfig = JobsConfig()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_weak_secrets(self) -> Settings:
        """Public values never; in production at least 32 bytes (generated ones have 64)."""
        for name, env in (
            ("jwt_secret", "JWT_SECRET"),
            ("key_pepper", "FOLIO_KEY_PEPPER"),
            ("admin_api_key", "FOLIO_ADMIN_API_KEY"),
        ):
            value: SecretStr | None = getattr(self.auth, name)
            if value is None:
                continue
            raw = value.get_secret_value()
            if raw in PUBLIC_SECRETS:
                raise ValueError(f"auth.{name}: this value is public; set {env} to a random one")
            if self.environment == "production" and len(raw.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"auth.{name}: at least {MIN_SECRET_BYTES} bytes in production ({env}); "
                    "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
        return self

    @model_validator(mode="after")
    def _jobs_can_run(self) -> Settings:
        """With the embedded store only the server process can index: it must run jobs."""
        if self.jobs.workers == 0 and not self.vector_store.is_server:
            raise ValueError(
                "jobs.workers: 0 leaves upload jobs to `folio worker`, which needs a Qdrant "
                "server (QDRANT_URL): the embedded store opens in one process only"
            )
        return self

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format == "auto":
            return "json" if self.environment == "production" else "console"
        return self.log_format

    @property
    def index(self) -> IndexConfig:
        """The RAG part, as `indexes/` expects it."""
        return IndexConfig(**{name: getattr(self, name) for name in IndexConfig.model_fields})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        if _CURRENT_ENV is not None:
            sources.append(OperatorEnvSource(settings_cls, _CURRENT_ENV))
        if _CURRENT_YAML is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=_CURRENT_YAML))
        return tuple(sources)


class OperatorEnvSource(PydanticBaseSettingsSource):
    """Maps the flat operator names (QDRANT_URL, DATABASE_URL, ...) onto nested settings."""

    def __init__(self, settings_cls: type[BaseSettings], environ: dict[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, paths in ENV_PATHS.items():
            raw = self._environ.get(name)
            if raw is None or raw == "":
                continue
            for path in paths:
                node = values
                for key in path[:-1]:
                    node = node.setdefault(key, {})
                node[path[-1]] = raw
        return values


# Set only for the duration of one load_settings() call (pydantic-settings builds sources in
# classmethods, so the file and environment are handed over here rather than via globals users see).
_CURRENT_YAML: Path | None = None
_CURRENT_ENV: dict[str, str] | None = None


def load_settings(
    config_path: str | Path | None = None,
    *,
    environ: dict[str, str] | None = None,
    check_paths: bool = True,
    **overrides: Any,
) -> Settings:
    """Build Settings from YAML + environment; raise ConfigError with one readable line."""
    global _CURRENT_YAML, _CURRENT_ENV
    env = dict(os.environ if environ is None else environ)
    path = Path(config_path or env.get("FOLIO_CONFIG") or DEFAULT_CONFIG)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    _CURRENT_YAML, _CURRENT_ENV = path, env
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(format_yaml_error(exc, path)) from None
    finally:
        _CURRENT_YAML, _CURRENT_ENV = None, None
    settings = _resolve_paths(settings, path.resolve().parent)
    settings.config_path = path.resolve()  # the file (backups copy it, re-index re-reads it)
    if check_paths:
        for i, source in enumerate(settings.sources):
            if not source.path.is_dir():
                raise ConfigError(f"{path}: sources.{i}.path: folder does not exist: {source.path}")
    return settings


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative paths in config are relative to the config file, not the current directory."""

    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    settings.storage_dir = resolve(settings.storage_dir)
    for source in settings.sources:
        source.path = resolve(source.path)
    if settings.vector_store.path is not None:
        settings.vector_store.path = resolve(settings.vector_store.path)
    db = settings.database.url
    if db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        rel = db.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            settings.database.url = f"sqlite:///{resolve(Path(rel))}"
    return settings


def format_yaml_error(exc: yaml.YAMLError, path: Path) -> str:
    """`file:line:column: YAML syntax error: problem (context)` — one line, 1-based positions."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"{path}: YAML syntax error: {' '.join(str(exc).split())}"
    mark = exc.problem_mark
    where = f"{path}:{mark.line + 1}:{mark.column + 1}"
    problem = " ".join(str(exc.problem or "invalid YAML").split())
    context = ""
    if exc.context and exc.context_mark is not None:
        start = exc.context_mark
        context = f" ({exc.context} at line {start.line + 1}, column {start.column + 1})"
    elif exc.context:
        context = f" ({exc.context})"
    return f"{where}: YAML syntax error: {problem}{context}"


def format_validation_error(exc: ValidationError, path: Path) -> str:
    """First error only, as `file: dotted.key: message` — one line, no traceback."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{path}: {loc}: {message}{more}"
