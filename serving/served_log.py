"""What was recommended, written by one thread per worker in batches, never by the request that served it.

Each answer's rows (``guanxi.services.views.served_rows``) are queued and a writer thread stores what
has queued every ``interval`` seconds, ``batch`` rows a transaction: a write per request was a
transaction (and, on SQLite, the store's one writer lock) per page view, and answers from cache waited
on it; one transaction for everything queued held that lock for seconds under load, and API writes
waited on it. A store busy
with a long write keeps the rows queued for the next round; past ``limit`` queued rows the oldest are
dropped and counted (``dropped``), so a stuck store cannot grow a worker's memory. ``close`` (at
shutdown) writes what is left.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from sqlalchemy.engine import Engine

from crm.store import log_served_rows

log = logging.getLogger("guanxi.served")


class ServedLog:
    def __init__(self, engine: Engine, interval: float = 0.25, limit: int = 100_000, batch: int = 2_000) -> None:
        self.engine = engine
        self.interval = interval
        self.limit = limit
        self.batch = batch
        self.dropped = 0
        self._rows: deque[dict[str, object]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def add(self, rows: list[dict[str, object]]) -> None:
        """Queue an answer's rows (returns at once)."""
        if not rows:
            return
        with self._lock:
            self._rows.extend(rows)
            while len(self._rows) > self.limit:
                self._rows.popleft()
                self.dropped += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="served-log", daemon=True)
                self._thread.start()

    def flush(self) -> bool:
        """Write what is queued now, ``batch`` rows a transaction (a long one would hold SQLite's one write
        lock from the API's writes); False when the store was busy (the rows go back to the queue)."""
        while True:
            with self._lock:
                chunk = [self._rows.popleft() for _ in range(min(self.batch, len(self._rows)))]
            if not chunk:
                return True
            try:
                written = log_served_rows(self.engine, chunk)
            except Exception as exc:  # a log must not take the worker down; say so and keep the rows
                log.error("served recommendations not written: %s: %s", type(exc).__name__, exc)
                written = False
            if not written:
                with self._lock:
                    self._rows.extendleft(reversed(chunk))
                    while len(self._rows) > self.limit:
                        self._rows.popleft()
                        self.dropped += 1
                return False

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval)
            self.flush()
