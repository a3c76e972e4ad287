"""Settings, read once at the edge (CLI, app factory) from ``XACTHUC_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keys.limits import UPLOAD_BYTES


class Settings(BaseSettings):
    """Every knob the service has. Domain code never reads these: the edges pass explicit values down."""

    model_config = SettingsConfigDict(env_prefix="XACTHUC_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where SQLite, the keystore and anvil state live")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under data_dir")
    database_password_file: Path | None = Field(
        default=None,
        description="A file holding the database password, put into XACTHUC_DATABASE_URL (which then names none): "
        "a container's secret file",
    )
    rpc_url: str | None = Field(
        default=None,
        description="Ethereum JSON-RPC URL, or several nodes of one chain comma-separated in order of preference "
        "(calls fail over to the next healthy one); unset: start the embedded anvil",
    )
    rpc_timeout: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="Seconds one call to the Ethereum node may take; a node that does not answer in time is reported "
        "down (verifications answer error, /readyz 503) and, for a moment, not asked again",
    )
    revoke_wait: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="Seconds POST /v1/documents/{id}/revoke waits for its revocation to be confirmed on chain "
        "(200, revoked) before answering 202 with the revocation on its way; 0: answer 202 at once",
    )
    registry_address: str | None = Field(default=None, description="DocumentRegistry address on rpc_url")
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base of verification links (default: this server's address)"
    )
    host: str = Field(default="127.0.0.1", description="Address serve listens on (--host)")
    port: int = Field(default=8000, description="Port serve listens on (--port)")
    batch_interval: float = Field(default=2.0, gt=0, description="Seconds the oldest leaf may wait")
    batch_max: int = Field(default=1024, ge=1, le=65536, description="Leaves that cut a batch at once")
    confirmations: int = Field(default=1, ge=1, description="Blocks on top of an anchor before it counts")
    finality_depth: int = Field(default=12, ge=0, description="Blocks after which a confirmed anchor is final")
    upload_limit: int = Field(default=UPLOAD_BYTES, ge=1, description="Largest accepted upload in bytes")
    keystore_passphrase: str | None = Field(
        default=None, repr=False, description="Unlocks the keystore; empty is refused (development: generated)"
    )
    keystore_passphrase_file: Path | None = Field(default=None, description="A file holding the passphrase")
    wallet_passphrase: str | None = Field(default=None, repr=False, description="Unlocks the CLI wallet; unset: asked")
    staff_password: str | None = Field(
        default=None, repr=False, description="The password `xacthuc staff create|reset-password` sets; unset: asked"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Logging threshold of serve, worker, anchor and chain status"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Log lines as JSON objects or readable text; auto: text in development mode at a terminal, "
        "JSON otherwise",
    )
    anvil_bin: Path | None = Field(default=None, description="The anvil binary; unset: the pinned npm one")
    anvil_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the embedded anvil; unset: a free port chosen at start (recorded in the data dir)",
    )
    chain_id: int = Field(
        default=31337,
        description="Chain id of the embedded anvil (and of XACTHUC_REGISTRY_ADDRESS without XACTHUC_RPC_URL)",
    )
    dev_mode: bool = Field(
        default=False,
        description="Development mode (`serve --dev`): a fresh data dir gets a generated passphrase, demo agencies "
        "and dev-credentials.json",
    )
    kb_freshness_seconds: int = Field(
        default=300, ge=1, description="Seconds a presentation's key-binding JWT stays fresh"
    )
    offline_bundle_ttl: int = Field(default=86400, ge=60, description="Seconds an offline bundle stays valid")
    rate_limits: str | None = Field(
        default=None,
        description="Requests allowed per client address or API key, per bucket, as bucket=N/S (N requests in S "
        "seconds), comma-separated: verify (/v1/verify, per address), signin (staff sign-in, per address), api "
        "(every request with credentials, per key and per address); unset: verify=300/60,signin=20/60,api=1200/60, "
        "a bucket named overrides its default; 0 or off: all off (benchmarks), bucket=0: that one off",
    )
    index_max_age: float = Field(
        default=5.0,
        ge=0,
        description="Seconds the chain index may lag behind the chain and still answer verifications over HTTP "
        "(bounds the revocation latency); 0: no index, every verification reads the chain",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("rate_limits")
    @classmethod
    def _rates(cls, v: str | None) -> str | None:
        from xacthuc.rate_limit import parse_rate_limits  # the middleware's own parser: a typo fails at start

        parse_rate_limits(v)
        return v

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            if self.database_password_file is not None:
                return _with_password(self.database_url, self.database_password_file)
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'xacthuc.db').resolve()}"


def _with_password(url: str, path: Path) -> str:
    """``url`` with the password read from ``path`` (one line; the trailing newline is dropped). An unreadable or
    empty file, or a URL that already names a password, is refused: two sources of one secret is one too many."""
    from sqlalchemy.engine import make_url  # only a deployment with a password file pays for the import

    from keys.errors import InvalidInput

    try:
        password = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise InvalidInput(f"cannot read the database password file {path}: {exc.strerror}") from None
    if not password:
        raise InvalidInput(f"the database password file {path} is empty")
    parsed = make_url(url)
    if parsed.password is not None:
        raise InvalidInput("XACTHUC_DATABASE_URL names a password and XACTHUC_DATABASE_PASSWORD_FILE gives one")
    return parsed.set(password=password).render_as_string(hide_password=False)


_WILDCARDS = frozenset({"0.0.0.0", "::"})  # noqa: S104 - recognised here, never bound


def load_settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    """Read the settings; explicit command-line values (``--data-dir``, ``--port``, ...) win over the environment.

    Without ``XACTHUC_PUBLIC_URL``, verification links point at this server's own address.
    """
    settings = Settings()
    update: dict[str, object] = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        update["data_dir"] = data_dir
    if "public_url" not in settings.model_fields_set:
        host = str(update.get("host", settings.host))
        if host in _WILDCARDS:  # a wildcard is no address to put in a link
            host = "127.0.0.1"
        update["public_url"] = f"http://{host}:{update.get('port', settings.port)}"
    return settings.model_copy(update=update) if update else settings
