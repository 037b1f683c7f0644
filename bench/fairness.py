"""How close each way of combining judges' scores comes to the entries' true order.

A simulated contest: entries of known true quality, judged by K = 3 judges each out of a panel
in which some judges are lenient, some harsh, some noisy (their leniency, spread and noise are
drawn per judge). Each aggregation's ranking is compared with the truth by Kendall's tau
(1 = the same order). Baselines in the same run: the raw mean (what a spreadsheet does), and a
Crowd-BT-style pairwise method at equal judge effort (each judge looks at the same number of
entries, two per comparison, and says which is better; a Bradley-Terry model with per-judge
reliability turns the comparisons into scores).

Goal: the default method (normalised) beats the raw mean by at least 0.05.

The comparative final (``judging.comparative``): the same entries and panel, each entry in
exactly 10 comparisons planned in advance (non-adaptive), given out to the judges with loads
within one; a judge sees the true difference through their own spread and noise (leniency
cancels) and picks the better. Reported: the scale's reliability as the fit reports it (goal
>= 0.8 at 10 comparisons per entry) beside what it estimates, known here (the strengths'
squared correlation with the true quality, "r2 with truth"), beside the correlation with a
second round planned and judged afresh (what the literature checks the reliability against),
and beside maximum likelihood's separation formula on the same fit; Kendall tau, the share of
the true top 10 found in each method's top 10, and how often the true best entry comes first;
beside them the rubric's raw mean and normalised score at K = 3 and at equal judge time (with
their r2 with truth too).

Time model (stated, not measured): one comparison of two entries costs a judge as long as
scoring one entry with the rubric (each reads two pieces but gives one decision instead of a
mark per criterion). So 10 comparisons per entry (5 per entry, as each involves two) take the
time of K = 5 rubric scorings per entry.

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

from judging.comparative import INFIT_WARNING, Comparison, fit, plan_pairs, share_pairs
from judging.scoring import AGGREGATIONS, JudgeTotal, aggregate

MAX_TOTAL = 10.0
K = 3
COMPARISONS_PER_ENTRY = 10
# A comparison costs the judge time of one rubric scoring (see the module's time model).
EQUAL_TIME_K = COMPARISONS_PER_ENTRY // 2
TOP = 10
# Comparisons per entry at which both planners are measured.
SWEEP = (5, 10, 15, 20)
PLANNERS = ("random", "informed")
# Added to a run's seed to plan its second comparative round.
SECOND_ROUND = 100_000


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


def balanced_assignment(
    rng: np.random.Generator, entries: int, judges: int, k: int = K
) -> np.ndarray:
    """k distinct judges per entry, loads within one of each other."""
    order = rng.permutation(judges)
    slots = np.tile(order, (entries * k) // judges + 1)[: entries * k]
    return slots.reshape(entries, k)


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


def comparative_final(
    rng: np.random.Generator,
    quality: np.ndarray,
    judges: tuple[np.ndarray, ...],
    seed: int,
    per_entry: int = COMPARISONS_PER_ENTRY,
    prior: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float, dict[int, float]]:
    """The comparative round: the strengths, the scale's reliability as the fit reports it and
    as maximum likelihood's separation formula would have it, each judge's infit. With
    ``prior`` (each entry's score in the round before) the pairs are planned from it."""
    _bias, scale, noise = judges
    pairs = plan_pairs(
        range(len(quality)),
        per_entry=per_entry,
        seed=seed,
        prior=None if prior is None else dict(enumerate(prior.tolist())),
    )
    made = []
    for judge, left, right in share_pairs(pairs, range(len(noise))):
        margin = scale[judge] * (quality[left] - quality[right])
        margin += rng.normal(0, noise[judge] * math.sqrt(2))
        made.append(
            Comparison(judge, left, right) if margin > 0 else Comparison(judge, right, left)
        )
    result = fit(made, entries=range(len(quality)))
    strength = np.array([result.strength[e] for e in range(len(quality))])
    error = np.array([result.standard_error[e] for e in range(len(quality))])
    spread = float(np.var(strength))
    separation = (spread - float(np.mean(error**2))) / spread
    return strength, result.reliability, separation, result.judge_infit


def true_reliability(estimate: np.ndarray, quality: np.ndarray) -> float:
    """What a reliability claims to estimate, known here: the share of the estimate's variance
    that the true quality explains (its squared correlation with it)."""
    return float(np.corrcoef(estimate, quality)[0, 1] ** 2)


def top_recall(estimate: np.ndarray, quality: np.ndarray) -> float:
    """The share of the true top entries that the estimate also puts in its top."""
    true_top = set(np.argsort(-quality)[:TOP].tolist())
    found_top = set(np.argsort(-estimate, kind="stable")[:TOP].tolist())
    return len(true_top & found_top) / TOP


def rubric_estimate(
    rng: np.random.Generator,
    quality: np.ndarray,
    traits: tuple[np.ndarray, ...],
    judges: int,
    k: int,
    method: str,
) -> np.ndarray:
    panel = balanced_assignment(rng, len(quality), judges, k)
    totals = rubric_scores(rng, quality, panel, traits)
    scores = aggregate(totals, method=method, max_total=MAX_TOTAL)
    return np.array([scores[e].final for e in range(len(quality))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=600)
    parser.add_argument("--judges", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    taus: dict[str, list[float]] = {name: [] for name in (*AGGREGATIONS, "crowd_bt")}
    # The final: (tau, top recall, true best first) per method, over the runs.
    final_methods = [
        f"mean, K = {K}",
        f"normalised, K = {K}",
        f"mean, K = {EQUAL_TIME_K} (equal time)",
        f"normalised, K = {EQUAL_TIME_K} (equal time)",
        f"comparative, {COMPARISONS_PER_ENTRY} per entry",
        f"comparative, {COMPARISONS_PER_ENTRY} per entry, informed plan",
    ]
    # (tau, top recall, true best first, true reliability) per method, over the runs.
    final: dict[str, list[tuple[float, float, bool, float]]] = {name: [] for name in final_methods}
    # (planner, comparisons per entry) -> (reliability, separation formula, true reliability,
    # correlation with a second round, tau, top recall, true best first).
    swept: dict[tuple[str, int], list[tuple[float, float, float, float, float, float, bool]]] = {
        (planner, n): [] for planner in PLANNERS for n in SWEEP
    }
    infit_noise: list[float] = []
    flagged_noise: list[float] = []
    flagged = 0
    started = time.perf_counter()
    for run in range(args.runs):
        rng = np.random.default_rng(args.seed + run)
        quality = np.clip(rng.normal(6.0, 1.5, args.entries), 0, MAX_TOTAL)
        panel_traits = simulate_panel(rng, args.judges)
        panel = balanced_assignment(rng, args.entries, args.judges)
        totals = rubric_scores(rng, quality, panel, panel_traits)
        first_round: dict[str, np.ndarray] = {}
        for method in AGGREGATIONS:
            scores = aggregate(totals, method=method, max_total=MAX_TOTAL)
            estimate = np.array([scores[e].final for e in range(args.entries)])
            first_round[method] = estimate
            taus[method].append(kendall_tau(estimate, quality))
        taus["crowd_bt"].append(kendall_tau(crowd_bt(rng, quality, panel_traits), quality))

        estimates = {
            final_methods[0]: rubric_estimate(rng, quality, panel_traits, args.judges, K, "mean"),
            final_methods[1]: rubric_estimate(
                rng, quality, panel_traits, args.judges, K, "normalised"
            ),
            final_methods[2]: rubric_estimate(
                rng, quality, panel_traits, args.judges, EQUAL_TIME_K, "mean"
            ),
            final_methods[3]: rubric_estimate(
                rng, quality, panel_traits, args.judges, EQUAL_TIME_K, "normalised"
            ),
        }
        best = int(np.argmax(quality))
        # The round before: the default (normalised) rubric scores at K = 3.
        prior = first_round["normalised"]
        infit: dict[int, float] = {}
        for planner in PLANNERS:
            for per_entry in SWEEP:
                found, found_reliability, separation, found_infit = comparative_final(
                    rng,
                    quality,
                    panel_traits,
                    args.seed + run,
                    per_entry,
                    prior if planner == "informed" else None,
                )
                if per_entry == COMPARISONS_PER_ENTRY:
                    estimates[final_methods[PLANNERS.index(planner) + 4]] = found
                    if planner == "random":
                        infit = found_infit
                # The same round again, planned and judged afresh by the same panel.
                again, *_ = comparative_final(
                    rng,
                    quality,
                    panel_traits,
                    args.seed + run + SECOND_ROUND,
                    per_entry,
                    prior if planner == "informed" else None,
                )
                swept[(planner, per_entry)].append(
                    (
                        found_reliability,
                        separation,
                        true_reliability(found, quality),
                        float(np.corrcoef(found, again)[0, 1]),
                        kendall_tau(found, quality),
                        top_recall(found, quality),
                        int(np.argsort(-found, kind="stable")[0]) == best,
                    )
                )
        for name, estimate in estimates.items():
            first = int(np.argsort(-estimate, kind="stable")[0])
            final[name].append(
                (
                    kendall_tau(estimate, quality),
                    top_recall(estimate, quality),
                    first == best,
                    true_reliability(estimate, quality),
                )
            )
        noise = panel_traits[2]
        infit_noise.append(float(np.corrcoef([infit[j] for j in sorted(infit)], noise)[0, 1]))
        for judge, value in infit.items():
            if value > INFIT_WARNING:
                flagged += 1
                flagged_noise.append(float(noise[judge]))
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

    print()
    print(
        f"comparative final: {COMPARISONS_PER_ENTRY} comparisons per entry, planned in advance; "
        f"time model: one comparison = one rubric scoring, so equal time = K = {EQUAL_TIME_K}"
    )
    print(
        f"{'method':<44}{'tau':>7}{f'top-{TOP} recall':>15}{'true best 1st':>15}"
        f"{'r2 with truth':>15}"
    )
    for name, rows in final.items():
        tau = statistics.mean(r[0] for r in rows)
        recall = statistics.mean(r[1] for r in rows)
        best_first = sum(1 for r in rows if r[2]) / len(rows)
        explained = statistics.mean(r[3] for r in rows)
        print(f"{name:<44}{tau:>7.3f}{recall:>15.2f}{best_first:>14.0%}{explained:>15.3f}")
    for planner in PLANNERS:
        reliabilities = [r[0] for r in swept[(planner, COMPARISONS_PER_ENTRY)]]
        mean_reliability = statistics.mean(reliabilities)
        print(
            f"reliability, {planner} plan: mean {mean_reliability:.3f}, "
            f"min {min(reliabilities):.3f}, max {max(reliabilities):.3f} (goal >= 0.8): "
            + ("met" if mean_reliability >= 0.8 else "NOT met")
        )
    print()
    print(
        "planners: random pairs, or pairs informed by the round before (the normalised "
        "rubric scores at K = 3; near neighbours, a share of random rounds)"
    )
    print(
        "reliability: as the fit reports it; 'ML sep.': maximum likelihood's separation formula "
        "on the same fit; 'r2 truth': the strengths' squared correlation with the true quality; "
        "'r again': their correlation with a second round's (planned and judged afresh)"
    )
    print(
        f"{'planner':<10}{'per entry':>10}{'reliability':>13}{'min':>7}{'ML sep.':>9}"
        f"{'r2 truth':>10}{'r again':>9}{'tau':>8}{f'top-{TOP} recall':>15}{'true best 1st':>15}"
    )
    for (planner, per_entry), rows in swept.items():
        values = [r[0] for r in rows]
        print(
            f"{planner:<10}{per_entry:>10}{statistics.mean(values):>13.3f}{min(values):>7.3f}"
            f"{statistics.mean(r[1] for r in rows):>9.3f}"
            f"{statistics.mean(r[2] for r in rows):>10.3f}"
            f"{statistics.mean(r[3] for r in rows):>9.3f}"
            f"{statistics.mean(r[4] for r in rows):>8.3f}"
            f"{statistics.mean(r[5] for r in rows):>15.2f}"
            f"{sum(1 for r in rows if r[6]) / len(rows):>14.0%}"
        )
    judges_seen = args.judges * args.runs
    print(
        f"judges' infit: correlation with their true noise {statistics.mean(infit_noise):+.2f}; "
        f"{flagged} of {judges_seen} over {INFIT_WARNING}"
        + (
            f" (their noise {statistics.mean(flagged_noise):.2f} against the panel's 0.75)"
            if flagged_noise
            else ""
        )
    )


if __name__ == "__main__":
    main()
