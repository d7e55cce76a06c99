"""Prometheus metrics of the API: requests, the models each worker serves, what the models predicted and
how often answers came from the cache.

With several workers (``guanxi serve --workers N``) every worker writes its samples to files under
``PROMETHEUS_MULTIPROC_DIR`` (``guanxi serve`` sets it to a fresh folder under the data home) and
``/metrics``, whichever worker answers, sums all of them. Without it (tests, one process) the samples
live in the app's own registry."""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PROBABILITY_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
GAIN_BUCKETS = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """One set of metrics per app; in multiprocess mode they are not registered anywhere (the files are)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        own = None if multiprocess() else self.registry
        self.requests = Counter("guanxi_requests", "HTTP requests", ["method", "route", "status"], registry=own)
        self.latency = Histogram("guanxi_request_seconds", "Request latency", ["route"], registry=own)
        self.reloads = Counter("guanxi_model_reloads", "New champions loaded while serving", registry=own)
        self.model_version = Gauge("guanxi_model_version", "Registered version each worker serves", ["model"],
                                   registry=own, multiprocess_mode="liveall")
        self.predictions = Histogram("guanxi_prediction_probability",
                                     "Probabilities in the answers computed (a cached answer counts once)", ["model"],
                                     buckets=PROBABILITY_BUCKETS, registry=own)
        self.gains = Histogram("guanxi_action_expected_gain", "Expected gain of the actions computed", ["action"],
                               buckets=GAIN_BUCKETS, registry=own)
        self.cache = Counter("guanxi_answer_cache", "Answers asked of a worker's cache", ["result"], registry=own)

    def served_models(self, versions: dict[str, str]) -> None:
        for model, version in versions.items():
            if version.isdigit():
                self.model_version.labels(model).set(int(version))

    def probabilities(self, model: str, values: Iterable[float | None]) -> None:
        for value in values:
            if value is not None:
                self.predictions.labels(model).observe(value)

    def actions(self, actions: Iterable[object]) -> None:
        """The probabilities and gains of recommendations (anything with those attributes)."""
        for a in actions:
            self.gains.labels(getattr(a, "action", "?")).observe(max(0.0, float(getattr(a, "expected_gain", 0.0))))
            self.probabilities("guanxi-effect", [getattr(a, "p_effective_if_done", None)])
            self.probabilities("guanxi-deal", [getattr(a, "p_win", None)])

    def cache_result(self, hit: bool) -> None:
        self.cache.labels("hit" if hit else "miss").inc()

    def exposition(self) -> bytes:
        if not multiprocess():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters keep counting in the totals)."""
    if multiprocess():
        mark_process_dead(pid)
