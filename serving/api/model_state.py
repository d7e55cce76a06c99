"""The models a worker serves: champions from the MLflow registry, or the exported bundles when the
registry cannot be reached; a poll swaps in a new champion and keeps the old one if the new fails."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from guanxi.settings import Settings
from serving.engine import Models
from serving.models import load_models
from training.model import GuanxiClassifier

NAMES = ("guanxi-effect", "guanxi-relationship", "guanxi-deal")
log = logging.getLogger("guanxi.api")


@dataclass(frozen=True)
class Loaded:
    models: Models
    deal: GuanxiClassifier | None
    source: str  # "registry" or "bundles"


class ModelHolder:
    """Thread-safe holder: requests read ``current`` while a poll may replace it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.current: Loaded | None = None
        self.last_error: str | None = None

    def _registry_versions(self) -> dict[str, str]:
        from training.tracking import CHAMPION, alias_version, configure

        client = configure()
        versions = {}
        for name in NAMES:
            v = alias_version(client, name, CHAMPION)
            if v is not None:
                versions[name] = v
        return versions

    @property
    def folder(self) -> Path:
        """Where workers keep their copies of the registry's champions, one sub-folder per process."""
        return self.settings.home / "serving-models"

    def sweep(self) -> list[Path]:
        """Remove the copies of workers that are gone (killed, or stopped without cleaning up)."""
        removed = []
        for path in self.folder.glob("*-*") if self.folder.is_dir() else []:
            pid = path.name.split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    def close(self) -> None:
        """Remove this worker's copies (the worker is stopping)."""
        for path in self.folder.glob(f"{os.getpid()}-*") if self.folder.is_dir() else []:
            shutil.rmtree(path, ignore_errors=True)

    def _from_registry(self, versions: dict[str, str]) -> Loaded:
        from training.registry import export_champion

        # each worker its own copy: LightGBM and fork do not mix, and two workers must not share files
        folder = self.folder / f"{os.getpid()}-{'-'.join(versions.values())}"
        for name in versions:
            export_champion(name, folder)
        models, deal = load_models(folder)
        return Loaded(models, deal, "registry")

    def load(self) -> Loaded:
        """Registry first (when enabled), bundles in ``models_dir`` otherwise."""
        loaded = None
        if self.settings.use_registry:
            try:
                versions = self._registry_versions()
                if versions:  # without an effect model the prior serves on the relationship model
                    loaded = self._from_registry(versions)
            except Exception as exc:  # registry down or broken: serve the bundles
                log.warning("model registry unavailable (%s); using the bundles in %s", exc, self.settings.models_dir)
        if loaded is None:
            models, deal = load_models(self.settings.models_dir)
            loaded = Loaded(models, deal, "bundles")
        with self._lock:
            self.current = loaded
        return loaded

    def poll_once(self) -> bool:
        """Load the registry's champions if they changed; True when a new set is now served."""
        if not self.settings.use_registry:
            return False
        try:
            versions = self._registry_versions()
            current = self.current
            if current is not None and current.source == "registry" and all(
                    current.models.versions.get(n) == v for n, v in versions.items()):
                return False
            loaded = self._from_registry(versions)
        except Exception as exc:  # keep serving what we have
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("new champion failed to load, still serving the old one: %s", self.last_error)
            return False
        with self._lock:
            old, self.current = self.current, loaded
        self.last_error = None
        if old is not None and old.source == "registry":
            for path in self.folder.glob(f"{os.getpid()}-*"):
                if path.name != f"{os.getpid()}-{'-'.join(versions.values())}":
                    shutil.rmtree(path, ignore_errors=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
