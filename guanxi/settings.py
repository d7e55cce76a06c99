"""One settings object for every layer, read from ``GUANXI_*`` environment variables."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm.contract import EARLIEST_TS, FUTURE_DAYS


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``GUANXI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GUANXI_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=lambda: default_home(), description="Data home: store, MLflow runs, "
                       "scores, caches. A relative path is taken from the folder the command starts in; every "
                       "other relative path is under the data home.",
                       json_schema_extra={"shown": "`$XDG_DATA_HOME/guanxi` (`~/.local/share/guanxi`); "
                                                   "`make` sets `./var`"})
    database_url: str | None = Field(
        default=None, description="Any SQLAlchemy URL, e.g. postgresql+psycopg://user@host:5432/guanxi.",
        json_schema_extra={"shown": "`sqlite:///$GUANXI_HOME/guanxi.db`"})
    models_dir: Path = Field(default=Path("models"), description="Where the champion bundles are exported "
                             "(relative: under the data home).", json_schema_extra={
                                 "shown": "`$GUANXI_HOME/models`; `make` sets `./models`"})
    cache_dir: Path = Field(default=Path("cache"), description="Compiled kernels (numba) and other caches "
                            "(relative: under the data home).", json_schema_extra={"shown": "`$GUANXI_HOME/cache`"})
    catalog: Path | None = Field(default=None, description="An organisation's own action catalog (TOML, the "
                                 "format of serving/catalog.toml), checked at load; default: the shipped one.")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI (runs and the model registry).",
        json_schema_extra={"shown": "`MLFLOW_TRACKING_URI`, else `sqlite:///$GUANXI_HOME/mlflow.db`"})

    api_keys: str = Field(
        default="",
        description="API keys, comma-separated: KEY or sha256:<hex>, optionally scoped as KEY@R0001+team-1 "
        "(reps or teams). Empty: the server only binds to 127.0.0.1.",
    )
    cors_origins: str = Field(
        default="", description="Browser origins allowed to call the API (comma-separated, e.g. a CRM's "
        "https://crm.example.com); empty: none.")
    band_good: float = Field(default=0.5, description="Health band Good from this P(effective) up.")
    band_fair: float = Field(default=0.2, description="Health band Fair from this P(effective) up (else Poor).")
    band_by_base_rate: bool = Field(default=True, description="Scale both band thresholds by the relationship "
                                    "model's base rate / 0.2 (the rate they were set for), so that a rare label "
                                    "does not put every tie in Poor; the same in the API and in batch.")
    model_poll_seconds: float = Field(default=60.0, description="How often the API looks for a new champion.")
    use_registry: bool = Field(default=True, description="API: load champions from MLflow (else bundles only).")

    earliest_ts: dt.datetime = Field(
        default=EARLIEST_TS,
        description="Timestamps (interactions, feedback, imports) before this are refused.")
    future_days: float = Field(
        default=FUTURE_DAYS, ge=0, description="Timestamps more than this many days after now are refused.")
    as_of_margin_days: int = Field(
        default=366, ge=0, description="API: `as_of` may lie at most this many days past the latest data or today.")
    lock_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a write waits for the store's write lock before 503.")
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="API: larger request bodies get 413.")
    erasure_secret: str | None = Field(
        default=None, description="Key of the HMAC that names erased contacts in the audit and the tombstones "
        "(give every process of a deployment the same one).",
        json_schema_extra={"shown": "a random key kept in `$GUANXI_HOME/erasure.key`"})

    @model_validator(mode="after")
    def _one_base(self) -> Settings:
        """The data home absolute, and every other relative path under it, whatever folder a command runs in."""
        self.home = self.home.expanduser().resolve()
        for name in ("models_dir", "cache_dir", "catalog"):
            value = getattr(self, name)
            if value is not None and not value.expanduser().is_absolute():
                setattr(self, name, self.home / value)
            elif value is not None:
                setattr(self, name, value.expanduser())
        return self

    def ts_window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The accepted range of event timestamps, read at the call (``now`` moves)."""
        import pandas as pd

        now = pd.Timestamp.now(tz="UTC")
        return pd.Timestamp(self.earliest_ts).tz_convert("UTC"), now + pd.Timedelta(days=self.future_days)

    def erasure_key(self) -> bytes:
        """The HMAC key for erased ids: the setting, else a random key created once under the data home."""
        if self.erasure_secret:
            return self.erasure_secret.encode()
        path = self.home / "erasure.key"
        if not path.exists():
            import secrets

            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    @property
    def db_url(self) -> str:
        """The store URL, falling back to ``sqlite:///<home>/guanxi.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'guanxi.db').resolve()}"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: ``GUANXI_MLFLOW_TRACKING_URI``, then ``MLFLOW_TRACKING_URI``, then SQLite."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return os.environ["MLFLOW_TRACKING_URI"]
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"


def configuration_table() -> str:
    """The README's configuration table, generated from the fields (a test keeps the two equal)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = extra.get("shown")
        if shown is None:
            value = field.default
            shown = "empty" if value in ("", None) else f"`{value:%Y-%m-%d}`" if isinstance(value, dt.datetime) \
                else f"`{str(value).lower() if isinstance(value, bool) else value}`"
        rows.append(f"| `GUANXI_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows)


def default_home() -> Path:
    """``$XDG_DATA_HOME/guanxi``, else ``~/.local/share/guanxi``: the same store from any folder."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "guanxi"


@lru_cache
def get_settings() -> Settings:
    """Settings read once per process; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
