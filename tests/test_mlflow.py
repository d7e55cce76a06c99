"""Training through MLflow: registry aliases, promotion refused for a worse model, rollback, bundles,
and the same commands against a real ``mlflow server`` process."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm.sim.simulate import simulate
from guanxi.cli import app
from guanxi.settings import get_settings
from training.model import GuanxiClassifier
from training.registry import IncomparableModels, PromotionRefused, list_models, promote, rollback
from training.tracking import log_trained
from training.train import train

pytestmark = pytest.mark.slow  # trains models or starts servers: `make test`, not `make test-fast`

runner = CliRunner()


@pytest.fixture(scope="module")
def small():
    return simulate("small", seed=5)


def _aliases(model: str) -> dict[str, list[str]]:
    return {r["version"]: r["aliases"] for r in list_models() if r["model"] == model}


def test_register_refuse_force_and_rollback(small, home: Path) -> None:  # noqa: ANN001
    first = log_trained(train(small.tables, "relationship", horizon_days=90))
    assert first.version == "1" and set(first.aliases) == {"champion", "challenger"}
    crippled = train(small.tables, "relationship", horizon_days=90, features=["events_365d"])
    second = log_trained(crippled)
    assert second.aliases == ["challenger"]
    assert _aliases("guanxi-relationship") == {"1": ["champion"], "2": ["challenger"]}
    with pytest.raises(PromotionRefused) as refused:
        promote("guanxi-relationship")
    message = str(refused.value)
    assert "challenger v2: AUC" in message and "champion v1: AUC" in message
    assert _aliases("guanxi-relationship")["1"] == ["champion"]  # nothing moved
    with pytest.raises(ValueError, match="--force needs --reason"):
        promote("guanxi-relationship", force=True)
    promote("guanxi-relationship", force=True, reason="test of the override")
    assert _aliases("guanxi-relationship") == {"1": [], "2": ["challenger", "champion"]}
    assert rollback("guanxi-relationship") == "1"
    assert _aliases("guanxi-relationship")["1"] == ["champion"]


def test_cli_train_exports_a_bundle_that_predicts_like_the_registry(home: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("GUANXI_MODELS_DIR", str(home / "models"))
    get_settings.cache_clear()
    assert runner.invoke(app, ["simulate", "--size", "small", "--seed", "5", "--json"]).exit_code == 0
    monkeypatch.setattr("training.train.LABELS", _short_horizons())
    result = runner.invoke(app, ["train", "relationship", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])["models"][0]
    assert payload["model"] == "guanxi-relationship" and payload["metrics"]["auc"] > 0.6
    assert payload["auc"] == payload["metrics"]["auc"] and payload["model_version"] == "1"
    assert set(payload["baseline_auc"]) == {"logistic", "activity_health"}
    assert payload["n_train"] > payload["n_test"] > 0 and payload["seconds"] > 0
    assert {"pr_auc", "brier", "ece", "oracle_auc"} <= set(payload)
    bundle = Path(payload["bundle"])
    for name in ("booster.txt", "model.json", "label.json", "metrics.json", "training_window.json", "versions.json"):
        assert (bundle / name).exists(), name
    model = GuanxiClassifier.load(bundle)
    assert payload["calibration"] == model.calibration_.kind
    assert json.loads((bundle / "label.json").read_text())["name"] == "effective_relationship"
    listed = runner.invoke(app, ["models", "--json"])
    assert json.loads(listed.stdout)[0]["aliases"] == ["challenger", "champion"]
    assert json.loads(listed.stdout)[0]["ece_floor"] == pytest.approx(payload["ece_floor"])
    assert f"(floor {payload['ece_floor']:.3f})" in runner.invoke(app, ["models"]).stdout
    assert model.features_ == json.loads((bundle / "model.json").read_text())["features"]


def _short_horizons():  # noqa: ANN202
    from training.labels import LABELS, LabelDefinition

    return {k: LabelDefinition(v.name, v.entity, v.function, 90 if v.horizon_days else 0) for k, v in LABELS.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_against_a_real_mlflow_server(small, home: Path, mlflow_server: str, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    get_settings.cache_clear()
    assert get_settings().tracking_uri == mlflow_server
    logged = log_trained(train(small.tables, "relationship", horizon_days=90))
    assert logged.version == "1"
    with urllib.request.urlopen(f"{mlflow_server}/api/2.0/mlflow/registered-models/get?name=guanxi-relationship") as r:
        body = json.loads(r.read())
    aliases = {a["alias"] for a in body["registered_model"].get("aliases", [])}
    assert aliases == {"champion", "challenger"}
    listed = runner.invoke(app, ["models", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["model"] == "guanxi-relationship"


def test_a_champion_with_other_features_is_refused_with_their_names_and_forced_with_a_reason(
        small, home: Path) -> None:  # noqa: ANN001
    """A renamed feature (say a lifetime count replaced by a windowed one) leaves the old champion unable to
    score the new test rows: say which features, and let --force --reason replace it."""
    log_trained(train(small.tables, "relationship", horizon_days=90, features=["events_365d", "n_90d"]))
    renamed = train(small.tables, "relationship", horizon_days=90, features=["events_365d"])
    renamed.dataset.frame = renamed.dataset.frame.drop(columns=["n_90d"])
    log_trained(renamed)
    with pytest.raises(IncomparableModels, match=r"guanxi-relationship v1 needs features .*\(n_90d\)"):
        promote("guanxi-relationship")
    result = runner.invoke(app, ["promote", "guanxi-relationship"])
    assert result.exit_code == 2 and "n_90d" in result.output and "Traceback" not in result.output
    assert _aliases("guanxi-relationship") == {"1": ["champion"], "2": ["challenger"]}
    comparison = promote("guanxi-relationship", force=True, reason="features renamed")
    assert "champion v1: not scored" in comparison.describe()
    assert _aliases("guanxi-relationship") == {"1": [], "2": ["challenger", "champion"]}
