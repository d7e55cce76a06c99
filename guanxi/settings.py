"""One settings object for every layer, read from ``GUANXI_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``GUANXI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GUANXI_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="Data home: store, MLflow runs, scores.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file under the data home."
    )
    models_dir: Path = Field(default=Path("models"), description="Where the champion bundles are exported.")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default is a SQLite store under the data home."
    )

    api_keys: str = Field(
        default="",
        description="API keys, comma-separated: KEY or sha256:<hex>, optionally scoped as KEY@R0001+team-1 "
        "(reps or teams). Empty: the server only binds to 127.0.0.1.",
    )
    band_good: float = Field(default=0.5, description="Health band Good from this P(effective) up.")
    band_fair: float = Field(default=0.2, description="Health band Fair from this P(effective) up (else Poor).")
    model_poll_seconds: float = Field(default=60.0, description="How often the API looks for a new champion.")
    use_registry: bool = Field(default=True, description="API: load champions from MLflow (else bundles only).")

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


@lru_cache
def get_settings() -> Settings:
    """Settings read once per process; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
