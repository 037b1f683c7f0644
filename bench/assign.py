"""Benchmark of judging.assignment.assign: wall time, peak memory and load spread.

Instances: K = 3, unlimited capacities, entries in units of about 100 entries (a unit drawn at
random per entry), each unit in conflict with each judge with probability 5 %.

Sizes and baselines (each measured in the same run, in the same process as the figure):
- small (1,000 x 30) and medium (100,000 x 2,000): a naive greedy in pure Python that gives each
  entry, in order, the K least-loaded judges it is not in conflict with (a heap of loads). The
  ratio is assign's time / the greedy's time (below 1 = faster than the greedy).
- large (1,700,000 x 10,000): the greedy would take minutes, so the baseline is the time to sort
  the input once (argsort of the entry ids, unique of the entry units, sort of the unit-conflict
  keys), a floor any method pays. The ratio is assign's time / that floor.

Goals: medium within 5 s, large within 60 s on the 2-core reference machine, spread <= 1.
Peak memory: each size runs in a fresh process; "peak RSS" is that process's high-water mark
(instance included), "above input" is that peak minus the resident size just before assign.

Usage: .venv/bin/python bench/assign.py [--sizes small,medium,large]
"""

from __future__ import annotations

import argparse
import heapq
import multiprocessing
import resource
import time
from pathlib import Path

import numpy as np

from judging.assignment import AssignmentProblem, assign

SIZES = {"small": (1_000, 30), "medium": (100_000, 2_000), "large": (1_700_000, 10_000)}
GOALS = {"small": None, "medium": 5.0, "large": 60.0}
K = 3
UNIT_SIZE = 100
CONFLICT_SHARE = 0.05


def make_problem(n: int, n_judges: int, seed: int = 1) -> AssignmentProblem:
    rng = np.random.default_rng(seed)
    n_units = max(1, n // UNIT_SIZE)
    judge_ids = np.arange(1, n_judges + 1, dtype=np.int64)
    pairs = []
    # Draw the unit x judge conflict matrix in chunks: 17 k x 10 k at once would be 1.4 GB.
    chunk = max(1, 10_000_000 // n_judges)
    for start in range(0, n_units, chunk):
        rows = min(chunk, n_units - start)
        unit, judge = np.nonzero(rng.random((rows, n_judges)) < CONFLICT_SHARE)
        pairs.append(np.stack((judge_ids[judge], unit + start), axis=1))
    return AssignmentProblem(
        entry_ids=np.arange(1_000_000, 1_000_000 + n, dtype=np.int64),
        entry_units=rng.integers(0, n_units, n).astype(np.int64),
        judge_ids=judge_ids,
        judge_capacity=np.full(n_judges, -1, dtype=np.int64),
        k=K,
        unit_conflicts=np.concatenate(pairs).astype(np.int64),
        entry_conflicts=np.zeros((0, 2), dtype=np.int64),
        existing=np.zeros((0, 2), dtype=np.int64),
        seed=7,
    )


def greedy(problem: AssignmentProblem) -> tuple[float, int]:
    """The baseline: least-loaded eligible judges per entry from a heap. (seconds, spread)"""
    started = time.perf_counter()
    blocked: dict[int, set[int]] = {}
    for judge, unit in problem.unit_conflicts.tolist():
        blocked.setdefault(unit, set()).add(judge)
    heap = [(0, judge) for judge in problem.judge_ids.tolist()]
    heapq.heapify(heap)
    for unit in problem.entry_units.tolist():
        conflicts = blocked.get(unit, set())
        taken: list[tuple[int, int]] = []
        skipped: list[tuple[int, int]] = []
        while len(taken) < problem.k and heap:
            item = heapq.heappop(heap)
            (skipped if item[1] in conflicts else taken).append(item)
        for load, judge in taken:
            heapq.heappush(heap, (load + 1, judge))
        for item in skipped:
            heapq.heappush(heap, item)
    loads = [load for load, _ in heap]
    return time.perf_counter() - started, max(loads) - min(loads)


def sort_floor(problem: AssignmentProblem) -> float:
    started = time.perf_counter()
    np.argsort(problem.entry_ids)
    np.unique(problem.entry_units)
    np.sort(problem.unit_conflicts[:, 1] * problem.judge_ids.size + problem.unit_conflicts[:, 0])
    return time.perf_counter() - started


def check(problem: AssignmentProblem, pairs: np.ndarray) -> str:
    """Every entry has K distinct judges and no pair is in conflict."""
    entry_pos = np.searchsorted(problem.entry_ids, pairs[:, 0])
    per_entry = np.bincount(entry_pos, minlength=problem.entry_ids.size)
    stride = int(problem.judge_ids.max()) + 1
    conflict_keys = np.sort(problem.unit_conflicts[:, 1] * stride + problem.unit_conflicts[:, 0])
    keys = problem.entry_units[entry_pos] * stride + pairs[:, 1]
    pos = np.minimum(np.searchsorted(conflict_keys, keys), conflict_keys.size - 1)
    conflicts = int((conflict_keys[pos] == keys).sum())
    distinct = np.unique(entry_pos * stride + pairs[:, 1]).size == pairs.shape[0]
    ok = bool((per_entry == problem.k).all()) and conflicts == 0 and distinct
    return "valid" if ok else f"INVALID (conflicts {conflicts}, distinct {distinct})"


def resident_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def run(name: str) -> str:
    n, n_judges = SIZES[name]
    problem = make_problem(n, n_judges)
    input_mib = (
        sum(
            a.nbytes
            for a in (
                problem.entry_ids,
                problem.entry_units,
                problem.judge_ids,
                problem.unit_conflicts,
            )
        )
        / 2**20
    )
    before = resident_mib()
    started = time.perf_counter()
    result = assign(problem)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spread = int(result.loads.max() - result.loads.min())
    if name == "large":
        base_seconds, base_spread = sort_floor(problem), None
        base_name = "sort the input"
    else:
        base_seconds, base_spread = greedy(problem)
        base_name = "greedy heap"
    goal = GOALS[name]
    verdict = "" if goal is None else (" [goal met]" if seconds <= goal else " [GOAL MISSED]")
    base_extra = "" if base_spread is None else f", spread {base_spread}"
    return (
        f"{name:6} {n:>9,} entries x {n_judges:>6,} judges "
        f"({problem.unit_conflicts.shape[0]:,} unit conflicts, input {input_mib:,.0f} MiB)\n"
        f"       assign {seconds:7.3f} s{verdict}; peak RSS {peak:,.0f} MiB "
        f"(above input {peak - before:,.0f} MiB); spread {spread} "
        f"(loads {result.loads.min()}..{result.loads.max()}); shortfalls "
        f"{len(result.shortfalls)}; {check(problem, result.new_pairs)}\n"
        f"       baseline ({base_name}) {base_seconds:7.3f} s{base_extra}; "
        f"ratio assign/baseline {seconds / base_seconds:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="small,medium,large", help="comma-separated: small, medium, large"
    )
    sizes = [s.strip() for s in parser.parse_args().sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s): {', '.join(unknown)}")
    # A fresh process per size, so each peak RSS belongs to that size alone.
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1) as pool:
        for name in sizes:
            print(pool.apply(run, (name,)), flush=True)


if __name__ == "__main__":
    main()
