"""Policy evaluation on a simulated world: every policy rolled forward on the same future, the off-policy
estimate checked against the simulator's truth, and the run logged to MLflow."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from guanxi.services.errors import Refused
from guanxi.settings import Settings


@dataclass(frozen=True)
class PolicyReport:
    policies: dict[str, dict[str, float]]
    weeks: int
    k: int
    compliance: float
    size: str
    seed: int
    models: dict[str, str]
    offpolicy: dict[str, float] | None
    seconds: float
    run_id: str

    def share_of_oracle(self) -> float | None:
        """Guanxi's expected increment over habits as a share of the oracle's."""
        oracle = self.policies["oracle"]["incremental_expected_revenue"]
        return self.policies["guanxi"]["incremental_expected_revenue"] / oracle if oracle > 0 else None

    def vs_propensity(self) -> float | None:
        p = self.policies["propensity"]["incremental_expected_revenue"]
        return self.policies["guanxi"]["incremental_expected_revenue"] / p if p > 0 else None


def evaluate_policy(settings: Settings, size: str, seed: int, weeks: int, compliance: float, k: int,
                    offpolicy: bool, say: Callable[[str], None] = lambda _: None) -> PolicyReport:
    """Simulate the world the models were trained on, roll each policy forward, log the figures."""
    from crm.sim.params import SIZES
    from crm.sim.simulate import simulate
    from serving.models import load_models
    from serving.policy_eval import evaluate_policies, log_policy_evaluation, offpolicy_check

    if size not in SIZES:
        raise Refused("invalid", f"--size must be one of {', '.join(SIZES)}")
    try:
        models, deal_model = load_models(settings.models_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise Refused("unavailable", str(exc)) from None
    started = time.perf_counter()
    say(f"simulating the {size} world (seed {seed}) ...")
    sim = simulate(size, seed)
    results = evaluate_policies(sim, models, deal_model, weeks=weeks, k=k, compliance=compliance,
                                progress=lambda name: say(f"rolling {weeks} weeks forward: {name}"))
    payload: dict[str, object] = {"policies": results, "weeks": weeks, "k": k, "compliance": compliance,
                                  "size": size, "seed": seed, "models": models.versions, "offpolicy": None}
    if offpolicy:
        say("off-policy estimate vs the simulator's truth ...")
        payload["offpolicy"] = offpolicy_check(sim, models, k=k)
    payload["seconds"] = round(time.perf_counter() - started, 1)
    payload["run_id"] = log_policy_evaluation(payload)
    return PolicyReport(**payload)  # type: ignore[arg-type]
