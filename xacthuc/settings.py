"""Settings, read once at the edge (CLI, app factory) from ``XACTHUC_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the service has. Domain code never reads these: the edges pass explicit values down."""

    model_config = SettingsConfigDict(env_prefix="XACTHUC_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where SQLite, the keystore and anvil state live")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under data_dir")
    rpc_url: str | None = Field(default=None, description="Ethereum JSON-RPC URL; unset: start the embedded anvil")
    registry_address: str | None = Field(default=None, description="DocumentRegistry address on rpc_url")
    public_url: str = Field(default="http://127.0.0.1:8000", description="Base of verification links")
    host: str = "127.0.0.1"
    port: int = 8000
    batch_interval: float = Field(default=2.0, gt=0, description="Seconds the oldest leaf may wait")
    batch_max: int = Field(default=1024, ge=1, le=65536, description="Leaves that cut a batch at once")
    confirmations: int = Field(default=1, ge=1, description="Blocks on top of an anchor before it counts")
    finality_depth: int = Field(default=12, ge=0, description="Blocks after which a confirmed anchor is final")
    upload_limit: int = Field(default=50 * 1024 * 1024, ge=1, description="Largest accepted upload in bytes")
    keystore_passphrase: str | None = Field(default=None, repr=False)
    keystore_passphrase_file: Path | None = None
    anvil_bin: Path | None = None
    anvil_port: int = 8545
    chain_id: int = 31337
    dev_mode: bool = Field(default=True, description="Generate a dev passphrase and demo agencies")
    kb_freshness_seconds: int = Field(default=300, ge=1)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'xacthuc.db').resolve()}"


def load_settings(data_dir: Path | None = None) -> Settings:
    """Read the settings; an explicit ``--data-dir`` wins over the environment."""
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings
