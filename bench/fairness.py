"""How close each way of combining judges' scores comes to the entries' true order.

A simulated contest: entries of known true quality, judged by K = 3 judges each out of a panel
in which some judges are lenient, some harsh, some noisy (their leniency, spread and noise are
drawn per judge). Each aggregation's ranking is compared with the truth by Kendall's tau
(1 = the same order). Baselines in the same run: the raw mean (what a spreadsheet does), and a
Crowd-BT-style pairwise method at equal judge effort (each judge looks at the same number of
entries, two per comparison, and says which is better; a Bradley-Terry model with per-judge
reliability turns the comparisons into scores).

Goal: the default method (normalised) beats the raw mean by at least 0.05.

    .venv/bin/python bench/fairness.py [--entries 600] [--judges 30] [--runs 20]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judging.scoring import AGGREGATIONS, JudgeTotal, aggregate

MAX_TOTAL = 10.0
K = 3


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Tau-b over all pairs (ties in either ranking count for neither side)."""
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), k=1)
    sa, sb = da[upper], db[upper]
    concordant_minus_discordant = float(np.sum(sa * sb))
    n_a, n_b = float(np.sum(sa != 0)), float(np.sum(sb != 0))
    return concordant_minus_discordant / math.sqrt(n_a * n_b) if n_a and n_b else 0.0


def simulate_panel(
    rng: np.random.Generator, judges: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bias = rng.normal(0.0, 1.0, judges)  # lenient (> 0) or harsh (< 0), in points out of 10
    scale = rng.uniform(0.6, 1.4, judges)  # how widely the judge spreads marks
    noise = rng.uniform(0.3, 1.2, judges)  # how inconsistent the judge is
    return bias, scale, noise


def balanced_assignment(rng: np.random.Generator, entries: int, judges: int) -> np.ndarray:
    """K distinct judges per entry, loads within one of each other."""
    order = rng.permutation(judges)
    slots = np.tile(order, (entries * K) // judges + 1)[: entries * K]
    return slots.reshape(entries, K)


def rubric_scores(
    rng: np.random.Generator, quality: np.ndarray, panel: np.ndarray, judges: tuple[np.ndarray, ...]
) -> list[JudgeTotal]:
    bias, scale, noise = judges
    totals = []
    for entry, row in enumerate(panel):
        for judge in row:
            raw = 6 + scale[judge] * (quality[entry] - 6) + bias[judge]
            raw += rng.normal(0, noise[judge])
            # Marks are given in half points between 0 and 10.
            total = float(np.clip(np.round(raw * 2) / 2, 0, MAX_TOTAL))
            totals.append(JudgeTotal(entry, int(judge), total))
    return totals


def crowd_bt(
    rng: np.random.Generator, quality: np.ndarray, judges: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Pairwise comparisons at equal effort, fitted by Bradley-Terry with judge reliability."""
    entries = len(quality)
    _bias, scale, noise = judges
    comparisons = entries * K // 2
    left = rng.integers(0, entries, comparisons)
    right = (left + rng.integers(1, entries, comparisons)) % entries
    who = rng.integers(0, len(noise), comparisons)
    # A judge's leniency cancels in a comparison; spread and noise do not.
    margin = scale[who] * (quality[left] - quality[right]) + rng.normal(
        0, noise[who] * math.sqrt(2)
    )
    left_wins = margin > 0
    winner = np.where(left_wins, left, right)
    loser = np.where(left_wins, right, left)
    strength = np.zeros(entries)
    reliability = np.full(len(noise), 0.8)
    for _ in range(60):
        weight = reliability[who]
        # One minorise-maximise step of the weighted Bradley-Terry likelihood.
        wins = np.bincount(winner, weights=weight, minlength=entries) + 0.5
        p = np.exp(strength)
        denominator = weight / (p[winner] + p[loser])
        games = np.bincount(winner, denominator, entries) + np.bincount(loser, denominator, entries)
        strength = np.log(wins / (games + 1e-12))
        strength -= strength.mean()
        # A judge's reliability: how often they agree with the current estimate.
        agrees = (strength[winner] > strength[loser]).astype(float)
        agreement = np.bincount(who, agrees, len(noise)) + 1
        seen = np.bincount(who, minlength=len(noise)) + 2
        reliability = np.clip(agreement / seen, 0.5, 0.99)
    return strength


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=600)
    parser.add_argument("--judges", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    taus: dict[str, list[float]] = {name: [] for name in (*AGGREGATIONS, "crowd_bt")}
    started = time.perf_counter()
    for run in range(args.runs):
        rng = np.random.default_rng(args.seed + run)
        quality = np.clip(rng.normal(6.0, 1.5, args.entries), 0, MAX_TOTAL)
        panel_traits = simulate_panel(rng, args.judges)
        panel = balanced_assignment(rng, args.entries, args.judges)
        totals = rubric_scores(rng, quality, panel, panel_traits)
        for method in AGGREGATIONS:
            scores = aggregate(totals, method=method, max_total=MAX_TOTAL)
            estimate = np.array([scores[e].final for e in range(args.entries)])
            taus[method].append(kendall_tau(estimate, quality))
        taus["crowd_bt"].append(kendall_tau(crowd_bt(rng, quality, panel_traits), quality))
    elapsed = time.perf_counter() - started

    print(
        f"fairness: {args.entries} entries, {args.judges} judges, K = {K}, {args.runs} runs "
        f"({elapsed:.1f} s)"
    )
    print(f"{'method':<16}{'Kendall tau':>12}{'sd':>8}")
    for name, values in taus.items():
        label = name + (" (default)" if name == "normalised" else "")
        label += " (baseline)" if name in ("mean", "crowd_bt") else ""
        print(f"{label:<28}{statistics.mean(values):>8.3f}{statistics.stdev(values):>8.3f}")
    gain = statistics.mean(taus["normalised"]) - statistics.mean(taus["mean"])
    versus_bt = statistics.mean(taus["normalised"]) - statistics.mean(taus["crowd_bt"])
    print(
        f"normalised - raw mean = {gain:+.3f} (goal >= +0.05): "
        + ("met" if gain >= 0.05 else "NOT met")
    )
    print(f"normalised - crowd_bt = {versus_bt:+.3f} at equal judge effort")


if __name__ == "__main__":
    main()
