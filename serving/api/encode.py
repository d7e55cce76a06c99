"""A rep's next-best actions as JSON bytes, encoded once per cached answer.

An answer from the cache was re-validated and re-encoded by FastAPI on every request (the response model
over ten actions and their reasons): most of a cached request's time. The actions' JSON is kept beside
the cached answer itself (the list object the worker's answer cache returns, :meth:`StoreData.memo`), and
each response is that JSON with the request's own freshness around it; ``tests/test_api.py`` checks
that the bytes equal the response model's own encoding.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import cache

import orjson
from pydantic import TypeAdapter

from guanxi.services.answers import Recommendation
from serving.api.schemas import Freshness

KEEP = 512  # encoded answers a worker keeps (as many as answers: serving.store_data.ANSWER_CACHE)
_lock = threading.Lock()
_encoded: OrderedDict[int, tuple[list[Recommendation], bytes]] = OrderedDict()


@cache
def _adapter() -> TypeAdapter[list[Recommendation]]:
    return TypeAdapter(list[Recommendation])


def actions_json(actions: list[Recommendation]) -> tuple[bytes, bool]:
    """The JSON array of these actions, encoded once per list object (the cache returns the same list
    while the answer holds; the entry keeps the list, so its id is not reused meanwhile), and whether
    this is the first time (the answer was just computed)."""
    key = id(actions)
    with _lock:
        hit = _encoded.get(key)
        if hit is not None and hit[0] is actions:
            _encoded.move_to_end(key)
            return hit[1], False
    body = _adapter().dump_json(actions)
    with _lock:
        _encoded[key] = (actions, body)
        while len(_encoded) > KEEP:
            _encoded.popitem(last=False)
    return body, True


def next_best_actions(rep_id: str, freshness: Freshness, models: dict[str, str], labels: dict[str, str],
                      actions: list[Recommendation]) -> tuple[bytes, bool]:
    """``NextBestActions``'s JSON, field for field, and whether the actions were new (see ``actions_json``)."""
    encoded, new = actions_json(actions)
    return b"".join((b'{"rep_id":', orjson.dumps(rep_id), b',"freshness":', freshness.model_dump_json().encode(),
                     b',"models":', orjson.dumps(models), b',"labels":', orjson.dumps(labels), b',"actions":',
                     encoded, b"}")), new
