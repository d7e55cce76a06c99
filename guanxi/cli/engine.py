"""``guanxi recommend`` and ``guanxi evaluate-policy``: the next-best-action engine from the command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from guanxi.cli.errors import Refused, refusals
from guanxi.cli.options import degraded, parse_day
from guanxi.cli.output import dumps

if TYPE_CHECKING:
    from guanxi.services.answers import Recommendation
    from guanxi.services.policy import PolicyReport
    from serving.engine import Models


class WorldSize(enum.StrEnum):
    small = "small"
    demo = "demo"
    large = "large"


class Lang(enum.StrEnum):
    en = "en"
    zh = "zh"


def recommend_cmd(
    rep: Annotated[str, typer.Option(help="The rep, e.g. R0003.")],
    k: Annotated[int, typer.Option(min=1, max=100, help="How many actions.")] = 10,
    lang: Annotated[Lang, typer.Option(help="Language of the reasons.")] = Lang.en,
    as_of: Annotated[dt.datetime | None, typer.Option("--as-of", parser=parse_day,
                                                      help="Day to plan (default: the day after the data).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The rep's ranked next-best actions, each with its reasons."""
    from guanxi.cli.data import store
    from guanxi.services.answers import plan_day, rep_actions
    from guanxi.settings import get_settings
    from serving.catalog import load_catalog
    from serving.reasons import probability_name
    from serving.store_data import StoreData

    settings = get_settings()
    models = _models(settings.models_dir)
    with store() as engine, refusals(), StoreData(engine, settings.future_days) as data:
        if rep not in data.teams():
            raise Refused("invalid", f"--rep: no rep {rep!r} in the store")
        day = plan_day(data, settings, as_of.date() if as_of else None, era_end=data.read_era_end(rep))
        actions = rep_actions(data, models, load_catalog(), rep, day.as_of, k, lang.value)
    if as_json:
        typer.echo(dumps({"rep_id": rep, "as_of": str(day.as_of.date()), "models": models.versions,
                               "labels": models.labels, "actions": [dataclasses.asdict(a) for a in actions]},))
        return
    typer.echo(f"{rep}: nothing to recommend on {day.as_of.date()}" if not actions else
               "\n".join(_lines(a, probability_name(models.tie_label, lang.value)) for a in actions))


def _lines(a: Recommendation, probability: str) -> str:
    gain = f"{a.expected_gain:,.0f}" if a.gain_unit == "money" else f"{100 * a.expected_gain:+.1f} pts"
    if a.contact_id is None:  # an action on a deal without contacts
        head = (f"{a.rank:>2}. {a.action:<22} deal {a.opportunity_id} ({a.account_id or 'no account'})  gain {gain}  "
                f"P(win) {a.p_win or 0:.0%} -> {a.p_win_if_done or 0:.0%}")
    else:
        head = (f"{a.rank:>2}. {a.action:<22} {a.contact_id} ({a.account_id})  gain {gain}  "
                f"{probability} {a.p_effective or 0:.0%} -> {a.p_effective_if_done or 0:.0%}")
    return "\n".join([head, *(f"      - {r.text}" for r in a.reasons)])


def _models(folder: Path) -> Models:
    from serving.models import load_models

    try:
        return load_models(folder)[0]
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def evaluate_policy_cmd(
    size: Annotated[WorldSize, typer.Option(help="Simulated world.")] = WorldSize.demo,
    seed: Annotated[int, typer.Option(help="World seed (the one the models were trained on).")] = 7,
    weeks: Annotated[int, typer.Option(min=1, help="Weeks to roll forward.")] = 26,
    compliance: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of recommendations reps do.")] = 0.8,
    k: Annotated[int, typer.Option(min=1, help="Actions per rep per day.")] = 3,
    offpolicy: Annotated[bool, typer.Option(help="Also check the off-policy estimate against the truth.")] = True,
    variant: Annotated[str, typer.Option(help="World variant (as given to `guanxi simulate`).")] = "base",
    drop: Annotated[list[str] | None, typer.Option(help="What the policies' export leaves out: deals, potential "
                                                   "(as given to `guanxi simulate`).")] = None,
    thin_actions: Annotated[float | None, typer.Option(help="Share of the reps' logged actions the export keeps.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Roll the simulated world forward under each policy, on the same future, and compare what they bring."""
    from guanxi.services.policy import evaluate_policy
    from guanxi.settings import get_settings

    say = (lambda m: None) if as_json else (lambda m: typer.echo(m, err=True))
    with refusals():
        report = evaluate_policy(get_settings(), size.value, seed, weeks, compliance, k, offpolicy, say, variant,
                                 degraded(drop, thin_actions))
    typer.echo(dumps(dataclasses.asdict(report)) if as_json else _policy_table(report))


def _policy_table(report: PolicyReport) -> str:
    lines = [f"{'policy':<11} {'won revenue':>13} {'expected':>13} {'vs habits':>12} {'new effective':>14} "
             f"{'actions':>8}"]
    lines += [f"{name:<11} {r['won_revenue']:>13,.0f} {r['expected_revenue']:>13,.0f} "
              f"{r['incremental_expected_revenue']:>+12,.0f} {r['new_effective']:>14,} {r['actions']:>8,}"
              for name, r in report.policies.items()]
    share, ratio = report.share_of_oracle(), report.vs_propensity()
    lines.append(f"guanxi: {share:.0%} of the oracle's increment in expected won revenue, {ratio:.2f}x propensity's"
                 if share is not None and ratio is not None else "guanxi: increments too small to compare")
    if report.offpolicy:
        o = report.offpolicy
        lines.append(f"off-policy (doubly robust) {o['value']:.0f} vs true {o['truth']:.0f} effective ties: "
                     f"{o['relative_error']:.1%} off")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend_cmd)
    app.command("evaluate-policy")(evaluate_policy_cmd)
