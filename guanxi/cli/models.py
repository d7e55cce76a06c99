"""Model commands: train, promote, rollback, list."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer


class Which(enum.StrEnum):
    relationship = "relationship"
    deal = "deal"
    tie = "tie"
    effect = "effect"
    all = "all"


def _echo(payload: object, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(payload, default=str) if as_json else text)


def train_cmd(
    which: Annotated[Which, typer.Argument(help="relationship, deal, tie (tie persistence, for email data), "
                                           "effect (action uplifts) or all (relationship, deal and effect).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    learning_rate: Annotated[float | None, typer.Option(help="LightGBM learning rate.")] = None,
    num_leaves: Annotated[int | None, typer.Option(help="LightGBM leaves per tree.")] = None,
    horizon: Annotated[int | None, typer.Option(help="Label horizon in days (default: the label's own).")] = None,
    min_history: Annotated[int, typer.Option(help="Days of history before the first training cutoff.")] = 180,
    step: Annotated[int | None, typer.Option(help="Days between training cutoffs.")] = None,
    labels: Annotated[Path | None, typer.Option(
        help="Your own labels instead of the built-in ones (CSV or Parquet): rep_id, contact_id, as_of, label "
             "for relationship; opportunity_id, as_of, label for deal. Split by as_of.")] = None,
) -> None:
    """Train on the store, log to MLflow, register as challenger (the first version is also champion)."""
    import logging
    import time

    from crm.store import read_all
    from guanxi.cli.data import store
    from guanxi.settings import get_settings
    from training.registry import export_champion
    from training.tracking import log_result
    from training.train import train

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # our own summary line says what matters
    with store() as engine:
        tables = read_all(engine)
    kinds = ["relationship", "deal", "effect"] if which is Which.all else [which.value]
    own = None
    if labels is not None:
        if which not in (Which.relationship, Which.deal):
            typer.echo(f"--labels is for one model, relationship or deal, not {which.value}", err=True)
            raise typer.Exit(2)
        from training.own_labels import read_labels

        try:
            own = read_labels(labels, which.value)
        except ValueError as exc:
            typer.echo(f"{which.value}: cannot read the labels: {exc}", err=True)
            raise typer.Exit(1) from None
    params = {k: v for k, v in {"learning_rate": learning_rate, "num_leaves": num_leaves}.items() if v is not None}
    results = []
    for kind in kinds:
        if kind == "effect":
            results.append(_train_effect(tables, params, horizon, min_history, step, as_json))
            continue
        started = time.perf_counter()
        try:
            result = train(tables, kind, params=params or None, horizon_days=horizon, min_history_days=min_history,
                           step_days=step, progress=not as_json, labels=own, labels_source=str(labels))
        except ValueError as exc:
            typer.echo(f"{kind}: cannot train: {exc}", err=True)
            raise typer.Exit(1) from None
        logged = log_result(result, params)
        logged["bundle"] = str(export_champion(result.name, get_settings().models_dir))
        logged.update(_summary(logged, result.n_train, result.n_test, started), notes=result.notes,
                      label=result.label.name, calibration=result.model.calibration_.kind)
        results.append(logged)
        m = logged["metrics"]
        base = ", ".join(f"{k} AUC {v['auc']:.3f}" for k, v in logged["baselines"].items())
        if not as_json:
            typer.echo(f"{logged['model']} v{logged['version']} ({', '.join(logged['aliases'])}): test AUC "
                       f"{m['auc']:.3f} (95 % interval {m['auc_ci_low']:.3f}–{m['auc_ci_high']:.3f}), ECE "
                       f"{m['ece']:.3f} ({logged['calibration']} calibration; {m['ece_floor']:.3f} if perfectly "
                       f"calibrated, from the test set's size), lift@10% "
                       f"{m['lift_top_decile']:.2f}; {base}")
            for note in result.notes:
                typer.echo(f"  note: {note}")
    if as_json:
        typer.echo(json.dumps({"models": results}, default=str))


def _summary(logged: dict[str, object], n_train: int, n_test: int, started: float) -> dict[str, object]:
    """The flat figures of ``--json``: the model's test metrics, each baseline's AUC, sizes, time, version.
    ``oracle_auc`` is only known on a simulated world (``benchmarks/models.py`` measures it): null here."""
    import time

    m = logged["metrics"]
    return {**{k: m.get(k) for k in ("auc", "pr_auc", "brier", "ece", "ece_floor")},
            "auc_ci": [m["auc_ci_low"], m["auc_ci_high"]] if "auc_ci_low" in m else None,
            "baseline_auc": {k: v["auc"] for k, v in logged["baselines"].items()}, "oracle_auc": None,
            "n_train": n_train, "n_test": n_test,
            "seconds": round(time.perf_counter() - started, 1), "model_version": logged["version"]}


def _train_effect(tables: dict, params: dict[str, object], horizon: int | None, min_history: int, step: int | None,
                  as_json: bool) -> dict[str, object]:
    import time

    from guanxi.settings import get_settings
    from training.registry import export_champion
    from training.tracking import log_effect
    from training.uplift import effect_dataset, fit_effect_model

    started = time.perf_counter()
    try:
        rows = effect_dataset(tables, horizon_days=horizon or 180, step_days=step or 28,
                              min_history_days=min_history, progress=not as_json)
        model = fit_effect_model(rows, params or None)
    except ValueError as exc:
        typer.echo(f"effect: cannot train: {exc}", err=True)
        raise typer.Exit(1) from None
    logged = log_effect(model, rows, params)
    logged["bundle"] = str(export_champion(logged["model"], get_settings().models_dir))
    last = rows["cutoff"].max()
    logged.update(_summary(logged, int((rows["cutoff"] < last).sum()), int((rows["cutoff"] == last).sum()), started))
    if not as_json:
        m, w = logged["metrics"], logged["win_metrics"]
        typer.echo(f"{logged['model']} v{logged['version']} ({', '.join(logged['aliases'])}): P(effective | actions) "
                   f"test AUC {m['auc']:.3f}, ECE {m['ece']:.3f}; P(win | actions) AUC {w['auc']:.3f}")
    return logged


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
        typer.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        auc = f"{r['auc']:.3f}" if r["auc"] is not None else "-"
        ece = f"{r['ece']:.3f}" if r["ece"] is not None else "-"
        if r.get("ece_floor") is not None:  # versions trained before the floor was logged have none
            ece += f" (floor {r['ece_floor']:.3f})"
        typer.echo(f"{r['model']:<24} v{r['version']:<4} {','.join(r['aliases']) or '-':<20} AUC {auc}  ECE {ece}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("promote")(promote_cmd)
    app.command("rollback")(rollback_cmd)
    app.command("models")(models_cmd)
