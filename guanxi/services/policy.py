"""Policy evaluation on a simulated world: every policy rolled forward on the same future, the off-policy
estimate checked against the simulator's truth, and the run logged to MLflow."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from crm.sim.degrade import Degrade
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
    variant: str = "base"
    export: str = "the full export"
    """What the policies' view of the log leaves out (``crm.sim.degrade.Degrade.describe``)."""
    ratios: dict[str, float | None] = field(default_factory=dict)
    """``share_of_oracle`` and ``vs_propensity`` (see the methods), for ``--json``."""

    def share_of_oracle(self) -> float | None:
        """Guanxi's expected increment over habits as a share of the oracle's."""
        oracle = self.policies["oracle"]["incremental_expected_revenue"]
        return self.policies["guanxi"]["incremental_expected_revenue"] / oracle if oracle > 0 else None

    def vs_propensity(self) -> float | None:
        p = self.policies["propensity"]["incremental_expected_revenue"]
        return self.policies["guanxi"]["incremental_expected_revenue"] / p if p > 0 else None


def evaluate_policy(settings: Settings, size: str, seed: int, weeks: int, compliance: float, k: int,
                    offpolicy: bool, say: Callable[[str], None] = lambda _: None, variant: str = "base",
                    degrade: Degrade | None = None) -> PolicyReport:
    """Simulate the world the models were trained on, roll each policy forward, log the figures.
    ``variant`` and ``degrade`` are the world and the export the models were trained on (`guanxi simulate`
    takes the same options); the world and the oracle keep their full truth."""
    from crm.sim.params import SIZES, VARIANTS
    from crm.sim.simulate import simulate
    from serving.models import load_models
    from serving.policy_eval import evaluate_policies, log_policy_evaluation, offpolicy_check

    if size not in SIZES:
        raise Refused("invalid", f"--size must be one of {', '.join(SIZES)}")
    if variant not in VARIANTS:
        raise Refused("invalid", f"--variant must be one of {', '.join(VARIANTS)}")
    degrade = degrade or Degrade()
    try:
        models, deal_model = load_models(settings.models_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise Refused("unavailable", str(exc)) from None
    started = time.perf_counter()
    say(f"simulating the {size} world (seed {seed}, variant {variant}); the policies read {degrade.describe()} ...")
    sim = simulate(size, seed, variant=variant)
    results = evaluate_policies(sim, models, deal_model, weeks=weeks, k=k, compliance=compliance,
                                progress=lambda name: say(f"rolling {weeks} weeks forward: {name}"), degrade=degrade)
    payload: dict[str, object] = {"policies": results, "weeks": weeks, "k": k, "compliance": compliance,
                                  "size": size, "seed": seed, "models": models.versions, "offpolicy": None,
                                  "variant": variant, "export": degrade.describe()}
    if offpolicy and models.effect_source == "prior":
        say("off-policy check skipped: it weighs the logged actions by a learned effect model, and the shipped "
            "prior is serving")
    elif offpolicy:
        say("off-policy estimate vs the simulator's truth ...")
        payload["offpolicy"] = offpolicy_check(sim, models, k=k)
    payload["seconds"] = round(time.perf_counter() - started, 1)
    payload["run_id"] = log_policy_evaluation(payload)
    report = PolicyReport(**payload)  # type: ignore[arg-type]
    return dataclasses.replace(report, ratios={"share_of_oracle": report.share_of_oracle(),
                                               "vs_propensity": report.vs_propensity()})
