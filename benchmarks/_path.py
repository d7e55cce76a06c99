"""Imported first by the benchmark scripts: their folder holds ``features.py``, which would shadow the
project's ``features`` package, so the folder is taken off ``sys.path`` once this module is loaded."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("features", None)
