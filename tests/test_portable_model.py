"""A registered champion is self-contained: it loads with ``mlflow.pyfunc.load_model`` in a clean
virtualenv that has only the model's own requirements (no checkout, no Guanxi installed), and scores a
frame exactly as the training process does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from crm.sim.simulate import simulate
from guanxi.settings import get_settings
from tests.conftest import ROOT
from training.tracking import configure, log_trained
from training.train import train
from training.trained import EffectRun
from training.uplift import effect_dataset, fit_effect_model

pytestmark = pytest.mark.slow  # trains models and builds a virtualenv

SCRIPT = """
import json, sys
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_registry_uri(sys.argv[1])
try:
    import guanxi  # noqa: F401
    leaked = True
except ImportError:
    leaked = False
out = {"leaked": leaked}
for name, frame in json.loads(sys.argv[2]).items():
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    out[name] = model.predict(pd.read_parquet(frame))["probability"].tolist()
print("RESULT " + json.dumps(out))
"""


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is needed to build the clean virtualenv: run the suite with `make test`, which installs it")
    return found


def test_registered_champions_load_and_score_in_a_clean_virtualenv(home: Path, tmp_path: Path) -> None:
    world = simulate("small", seed=5)
    configure()
    rel = train(world.tables, "relationship", horizon_days=90)
    rows = effect_dataset(world.tables, horizon_days=90, min_history_days=90)
    effect = EffectRun(fit_effect_model(rows, bags=1), rows)
    frames, expected = {}, {}
    for trained, inputs in ((rel, rel.evaluation_set()[rel.dataset.features].head(200)),
                            (effect, effect.example()[0])):
        logged = log_trained(trained)
        path = tmp_path / f"{logged.model}.parquet"
        inputs.to_parquet(path)
        frames[logged.model] = str(path)
        expected[logged.model] = mlflow.pyfunc.load_model(f"models:/{logged.model}@champion").predict(inputs)

    meta = mlflow.pyfunc.load_model(f"models:/{rel.name}@champion").metadata
    requirements = Path(mlflow.artifacts.download_artifacts(f"models:/{rel.name}@champion",
                                                            dst_path=str(tmp_path / "m")))
    assert not list(requirements.rglob("python_model.pkl")), "the model must be logged from code, not pickled"
    assert {"training", "features", "crm"} <= {p.name for p in (requirements / "code").iterdir()}
    assert meta.flavors["python_function"].get("model_code_path"), "models-from-code entry point expected"

    venv = tmp_path / "clean"
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    "-r", str(requirements / "requirements.txt")], check=True, env=env, timeout=900)
    done = subprocess.run([str(venv / "bin" / "python"), "-c", SCRIPT, get_settings().tracking_uri, json.dumps(frames)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["leaked"] is False, "the clean virtualenv must not see this checkout"
    for name, scores in expected.items():
        assert isinstance(scores, pd.DataFrame)
        np.testing.assert_allclose(result[name], scores["probability"].to_numpy(), rtol=0, atol=1e-9)
        assert 0 < np.mean(result[name]) < 1
