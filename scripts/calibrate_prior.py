"""Calibrate the shipped effect prior (serving/effect_prior.toml) on a simulated world.

    python scripts/calibrate_prior.py EFFECT_BUNDLE [--size demo --seed 1]

For every action kind: the mean log-odds shift of P(effective) (every pair) and of P(win) (pairs whose
account has an open deal) that the effect model trained on that world predicts for one action of the
kind, on the world's last day. Prints the [kind.*] tables to paste into the prior, with the figures
rounded to 3 decimals.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--size", default="demo")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from crm.sim.simulate import simulate
    from features.actions import KINDS
    from serving.candidates import candidates, default_as_of
    from training.uplift import EffectModel

    tables = simulate(args.size, seed=args.seed).tables
    cands = candidates(tables, default_as_of(tables))
    effects = EffectModel.load(args.bundle).effects(cands, list(KINDS))

    def shift(frame, rows):  # noqa: ANN001, ANN202
        base = np.clip(frame["_base"].to_numpy()[rows], 1e-6, 1 - 1e-6)
        out = {}
        for k in KINDS:
            done = np.clip(base + frame[k].to_numpy()[rows], 1e-6, 1 - 1e-6)
            out[k] = float(np.mean(np.log(done / (1 - done)) - np.log(base / (1 - base))))
        return out, float(np.mean(base))

    eff, base_eff = shift(effects["effective"], np.ones(len(cands), dtype=bool))
    deal = cands["deal_open"].to_numpy() > 0
    win, base_win = shift(effects["win"], deal) if deal.any() else ({k: 0.0 for k in KINDS}, 0.3)
    print(f"base_effective = {base_eff:.3f}\nbase_win = {base_win:.3f}\n")
    for k in KINDS:
        print(f"[kind.{k}]\neffective = {eff[k]:.3f}\nwin = {win[k]:.3f}\n")


if __name__ == "__main__":
    main()
