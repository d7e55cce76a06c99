"""``guanxi recommend`` and ``guanxi evaluate-policy``: the next-best-action engine from the command line."""

from __future__ import annotations

import enum
import json
from typing import Annotated

import typer


class Lang(enum.StrEnum):
    en = "en"
    zh = "zh"


def recommend_cmd(
    rep: Annotated[str, typer.Option(help="The rep, e.g. R0003.")],
    k: Annotated[int, typer.Option(min=1, max=100, help="How many actions.")] = 10,
    lang: Annotated[Lang, typer.Option(help="Language of the reasons.")] = Lang.en,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day to plan (default: the day after the data).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The rep's ranked next-best actions, each with its reasons."""
    from crm.store import read_all
    from guanxi.cli.data import store
    from guanxi.settings import get_settings
    from serving.candidates import default_as_of
    from serving.catalog import load_catalog
    from serving.feedback import history
    from serving.models import load_models
    from serving.recommend import recommend

    try:
        models, _ = load_models(get_settings().models_dir)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    catalog = load_catalog()
    with store() as engine:
        tables = read_all(engine)
        if tables["interactions"].empty:
            typer.echo("the store has no interactions: import or simulate some first", err=True)
            raise typer.Exit(1)
        if rep not in set(tables["reps"]["rep_id"].astype(str)):
            typer.echo(f"--rep: no rep {rep!r} in the store", err=True)
            raise typer.Exit(2)
        day = as_of or str(default_as_of(tables).date())
        past = history(engine, tables, day, catalog, [rep])
    actions = recommend(tables, day, models, rep, k=k, lang=lang.value, history=past, catalog=catalog)
    if as_json:
        typer.echo(json.dumps({"rep_id": rep, "as_of": day, "models": models.versions,
                               "actions": actions.to_dict(orient="records")}, default=str, ensure_ascii=False))
        return
    if actions.empty:
        typer.echo(f"{rep}: nothing to recommend on {day}")
    for row in actions.itertuples():
        typer.echo(f"{row.rank:>2}. {row.action:<22} {row.contact_id} ({row.account_id})  gain {row.gain:,.0f}  "
                   f"P(effective) {row.p_effective:.0%} -> {row.p_effective_if_done:.0%}")
        for reason in row.reasons:
            typer.echo(f"      - {reason['text']}")


def evaluate_policy_cmd(
    size: Annotated[str, typer.Option(help="Simulated world: small, demo or large.")] = "demo",
    seed: Annotated[int, typer.Option(help="World seed (the one the models were trained on).")] = 7,
    weeks: Annotated[int, typer.Option(min=1, help="Weeks to roll forward.")] = 26,
    compliance: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of recommendations reps do.")] = 0.8,
    k: Annotated[int, typer.Option(min=1, help="Actions per rep per day.")] = 3,
    offpolicy: Annotated[bool, typer.Option(help="Also check the off-policy estimate against the truth.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Roll the simulated world forward under each policy, on the same future, and compare what they bring."""
    import time

    from crm.sim.params import SIZES
    from crm.sim.simulate import simulate
    from guanxi.settings import get_settings
    from serving.models import load_models
    from serving.policy_eval import evaluate_policies, log_policy_evaluation, offpolicy_check

    if size not in SIZES:
        typer.echo(f"--size must be one of {', '.join(SIZES)}", err=True)
        raise typer.Exit(2)
    try:
        models, deal_model = load_models(get_settings().models_dir)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    started = time.perf_counter()
    say = (lambda m: None) if as_json else (lambda m: typer.echo(m, err=True))
    say(f"simulating the {size} world (seed {seed}) ...")
    sim = simulate(size, seed)
    results = evaluate_policies(sim, models, deal_model, weeks=weeks, k=k, compliance=compliance,
                                progress=lambda name: say(f"rolling {weeks} weeks forward: {name}"))
    payload: dict[str, object] = {"policies": results, "weeks": weeks, "k": k, "compliance": compliance,
                                  "size": size, "seed": seed, "models": models.versions}
    if offpolicy:
        say("off-policy estimate vs the simulator's truth ...")
        payload["offpolicy"] = offpolicy_check(sim, models, k=k)
    payload["seconds"] = round(time.perf_counter() - started, 1)
    payload["run_id"] = log_policy_evaluation(payload)
    if as_json:
        typer.echo(json.dumps(payload, default=str))
        return
    oracle = results["oracle"]["incremental_expected_revenue"]
    typer.echo(f"{'policy':<11} {'won revenue':>13} {'expected':>13} {'vs habits':>12} {'new effective':>14} "
               f"{'actions':>8}")
    for name, r in results.items():
        typer.echo(f"{name:<11} {r['won_revenue']:>13,.0f} {r['expected_revenue']:>13,.0f} "
                   f"{r['incremental_expected_revenue']:>+12,.0f} {r['new_effective']:>14,} {r['actions']:>8,}")
    g = results["guanxi"]["incremental_expected_revenue"]
    p = results["propensity"]["incremental_expected_revenue"]
    typer.echo(f"guanxi: {g / oracle:.0%} of the oracle's increment in expected won revenue, {g / p:.2f}x propensity's"
               if oracle > 0 and p > 0 else "guanxi: increments too small to compare")
    if offpolicy:
        o = payload["offpolicy"]
        typer.echo(f"off-policy (doubly robust) {o['value']:.0f} vs true {o['truth']:.0f} effective ties: "
                   f"{o['relative_error']:.1%} off")


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend_cmd)
    app.command("evaluate-policy")(evaluate_policy_cmd)
