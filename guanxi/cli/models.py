"""Model commands: train, promote, rollback, list."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from guanxi.cli.errors import refusals
from guanxi.cli.output import dumps

if TYPE_CHECKING:
    from guanxi.services.training import TrainingOutcome


class Which(enum.StrEnum):
    relationship = "relationship"
    deal = "deal"
    tie = "tie"
    effect = "effect"
    all = "all"


def _echo(payload: object, as_json: bool, text: str) -> None:
    typer.echo(dumps(payload) if as_json else text)


def train_cmd(
    which: Annotated[Which, typer.Argument(help="relationship, deal, tie (tie persistence, for email data), "
                                           "effect (action uplifts) or all (relationship, deal and effect).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    learning_rate: Annotated[float | None, typer.Option(help="LightGBM learning rate.")] = None,
    num_leaves: Annotated[int | None, typer.Option(help="LightGBM leaves per tree.")] = None,
    horizon: Annotated[int | None, typer.Option(
        help="Label horizon in days (default: the label's own, or less to fit a short log).")] = None,
    min_history: Annotated[int | None, typer.Option(
        help="Days of history before the first training cutoff (default: 180, or less to fit a short log).")] = None,
    step: Annotated[int | None, typer.Option(help="Days between training cutoffs.")] = None,
    labels: Annotated[Path | None, typer.Option(
        help="Your own labels instead of the built-in ones (CSV or Parquet): rep_id, contact_id, as_of, label "
             "for relationship; opportunity_id, as_of, label for deal. Split by as_of.")] = None,
) -> None:
    """Train on the store, log to MLflow, register as challenger (the first version is also champion)."""
    import logging

    from guanxi.cli.data import store
    from guanxi.services.training import ALL, TrainOptions, read_own_labels, train_models, training_tables
    from guanxi.settings import get_settings

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # our own summary line says what matters
    params: dict[str, object] = {k: v for k, v in {"learning_rate": learning_rate, "num_leaves": num_leaves}.items()
                                 if v is not None}
    with refusals():
        own = read_own_labels(labels, which.value) if labels is not None else None
        options = TrainOptions(params, horizon, min_history or 180, step, own, str(labels), progress=not as_json,
                               min_history_given=min_history is not None)
        with store() as engine:
            tables = training_tables(engine)
        kinds = ALL if which is Which.all else (which.value,)
        run = train_models(tables, kinds, get_settings(), options, only_ready=which is Which.all,
                           on_trained=None if as_json else lambda r: typer.echo(_describe(r)))
    if as_json:
        typer.echo(dumps({"models": [r.summary() for r in run.trained],
                               "skipped": [dataclasses.asdict(s) for s in run.skipped]}))
    else:
        for s in run.skipped:
            typer.echo(f"skipped {s.model}: {s.why}")


def _describe(outcome: TrainingOutcome) -> str:
    r, m = outcome.logged, outcome.logged.metrics
    ci = f" (95 % interval {m['auc_ci_low']:.3f}–{m['auc_ci_high']:.3f})" if "auc_ci_low" in m else ""
    ece = f", ECE {m['ece']:.3f}" if "ece" in m else ""
    if outcome.calibration:
        ece += f" ({outcome.calibration} calibration"
        ece += f"; {m['ece_floor']:.3f} if perfectly calibrated, from the test set's size)" if "ece_floor" in m else ")"
    lift = f", lift@10% {m['lift_top_decile']:.2f}" if "lift_top_decile" in m else ""
    others = ", ".join(f"{k} AUC {v['auc']:.3f}" for k, v in r.baselines.items() if "auc" in v)
    return "\n".join([f"{r.model} v{r.version} ({', '.join(r.aliases)}), learned {outcome.label}: "
                      f"test AUC {m['auc']:.3f}{ci}{ece}{lift}" + (f"; {others}" if others else ""),
                      *(f"  note: {n}" for n in outcome.notes)])


def promote_cmd(
    model: Annotated[str, typer.Argument(help="Registered model, e.g. guanxi-relationship.")],
    force: Annotated[bool, typer.Option(help="Promote even if worse (needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why the override; recorded on the version.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make the challenger the champion if it is at least as good on the same held-out period."""
    from guanxi.settings import get_settings
    from training.registry import PromotionRefused, export_champion, promote

    try:
        comparison = promote(model, force=force, reason=reason)
    except PromotionRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except (LookupError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    export_champion(model, get_settings().models_dir)
    _echo({"champion": comparison.challenger, **comparison.__dict__}, as_json,
          f"{model}: champion is now v{comparison.challenger} ({comparison.describe()})")


def rollback_cmd(model: Annotated[str, typer.Argument(help="Registered model.")]) -> None:
    """Restore the previous champion."""
    from guanxi.settings import get_settings
    from training.registry import export_champion, rollback

    try:
        version = rollback(model)
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    export_champion(model, get_settings().models_dir)
    typer.echo(f"{model}: champion is back to v{version}")


def models_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Versions, aliases and key metrics of every model."""
    from training.registry import list_models

    rows = list_models()
    if as_json:
        typer.echo(dumps(rows))
        return
    if not rows:
        typer.echo("no models yet: train them with `guanxi train all`")
    for r in rows:
        aliases = ",".join(map(str, r["aliases"])) or "-"  # type: ignore[call-overload]
        auc = f"{r['auc']:.3f}" if r["auc"] is not None else "-"
        ece = f"{r['ece']:.3f}" if r["ece"] is not None else "-"
        if r.get("ece_floor") is not None:  # versions trained before the floor was logged have none
            ece += f" (floor {r['ece_floor']:.3f})"
        typer.echo(f"{r['model']:<24} v{r['version']:<4} {aliases:<20} AUC {auc}  ECE {ece}")


def doctor_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """What the data in the store supports: its levels, and what each model would learn or why it is skipped."""
    from crm.store import read_all
    from guanxi.cli.data import store
    from guanxi.services.readiness import LEVELS, assess

    with refusals(), store() as engine:
        ready = assess(read_all(engine))
    if as_json:
        typer.echo(dumps(dataclasses.asdict(ready)))
        return
    for level in LEVELS:
        typer.echo(f"{'yes' if ready.levels[level] else 'no ':3}  {level.replace('_', ' ')}")
    typer.echo("facts: " + ", ".join(f"{k} {v}" for k, v in ready.facts.items() if k != "logged_actions_by_kind"))
    kinds: dict[str, int] = ready.facts["logged_actions_by_kind"]  # type: ignore[assignment]
    if kinds:
        typer.echo("logged actions by kind: " + ", ".join(f"{k} {n:,}" for k, n in kinds.items()))
    for plan in ready.plans:
        if plan.trains:
            window = f", horizon {plan.horizon_days} d, history {plan.min_history_days} d" if plan.horizon_days else ""
            typer.echo(f"train {plan.model}: learns {plan.label} from {plan.why}{window}")
        else:
            typer.echo(f"skip  {plan.model}: {plan.why}")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_cmd)
    app.command("train")(train_cmd)
    app.command("promote")(promote_cmd)
    app.command("rollback")(rollback_cmd)
    app.command("models")(models_cmd)
