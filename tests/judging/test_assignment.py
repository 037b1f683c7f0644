"""Assignment invariants, checked against an independent model of the rules.

The model (plain Python sets) decides which pairs are allowed, what each entry still needs and
why an entry is short. Small instances are compared with a brute force over every valid
assignment; larger ones with the optimality certificate (no augmenting path and no path that
moves load from a judge to one at least 2 lighter), searched here independently of the code.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judging import assignment
from judging.assignment import (
    CAPACITY_EXHAUSTED,
    TOO_FEW_ELIGIBLE_JUDGES,
    AssignmentInputError,
    AssignmentProblem,
    AssignmentResult,
    Shortfall,
    assign,
    assign_pairs,
)

UNKNOWN = -7  # an id no entry, judge or unit has


@dataclass(frozen=True)
class Case:
    entries: list[tuple[int, int | None]]
    judges: list[tuple[int, int | None]]
    k: int
    unit_conflicts: list[tuple[int, int]] = field(default_factory=list)
    entry_conflicts: list[tuple[int, int]] = field(default_factory=list)
    existing: list[tuple[int, int]] = field(default_factory=list)
    seed: int = 0

    def run(self) -> AssignmentResult:
        return assign_pairs(
            self.entries,
            self.judges,
            k=self.k,
            unit_conflicts=self.unit_conflicts,
            entry_conflicts=self.entry_conflicts,
            existing=self.existing,
            seed=self.seed,
        )


class Model:
    """The rules, written plainly."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.entry_ids = [e for e, _ in case.entries]
        self.judge_ids = [j for j, _ in case.judges]
        self.unit = dict(case.entries)
        self.cap = dict(case.judges)
        self.existing = set(case.existing)
        self.unit_conflicts = set(case.unit_conflicts)
        self.entry_conflicts = set(case.entry_conflicts)
        self.have = Counter(e for e, _ in self.existing)
        self.base = Counter(j for _, j in self.existing)

    def conflict(self, entry: int, judge: int) -> bool:
        unit = self.unit[entry]
        return (judge, entry) in self.entry_conflicts or (
            unit is not None and (judge, unit) in self.unit_conflicts
        )

    def may_take(self, entry: int, judge: int) -> bool:
        return not self.conflict(entry, judge) and (entry, judge) not in self.existing

    def open_judges(self, entry: int) -> list[int]:
        return [j for j in self.judge_ids if self.may_take(entry, j)]

    def need(self, entry: int) -> int:
        return max(0, self.case.k - self.have[entry])

    def eligible(self, entry: int) -> int:
        return sum(not self.conflict(entry, j) for j in self.judge_ids)

    def reason(self, entry: int) -> str:
        if self.have[entry] + len(self.open_judges(entry)) < self.case.k:
            return TOO_FEW_ELIGIBLE_JUDGES
        return CAPACITY_EXHAUSTED

    def spare(self, judge: int, load: int) -> bool:
        cap = self.cap[judge]
        return cap is None or load < cap


def check_valid(case: Case, result: AssignmentResult) -> dict[int, set[int]]:
    """Every rule a single result must satisfy; returns the new judges per entry."""
    model = Model(case)
    pairs = [tuple(p) for p in result.new_pairs.tolist()]
    assert result.new_pairs.dtype == np.int64
    assert pairs == sorted(set(pairs)), "new pairs are sorted and distinct"
    new: dict[int, set[int]] = {e: set() for e in model.entry_ids}
    added: Counter[int] = Counter()
    for entry, judge in pairs:
        assert entry in new and judge in model.cap, "only known ids"
        assert not model.conflict(entry, judge), f"conflict {entry}, {judge}"
        assert (entry, judge) not in model.existing, "an existing pair again"
        new[entry].add(judge)
        added[judge] += 1
    loads = {j: model.base[j] + added[j] for j in model.judge_ids}
    assert result.loads.tolist() == [loads[j] for j in model.judge_ids]
    for judge in model.judge_ids:
        cap = model.cap[judge]
        assert added[judge] == 0 or cap is None or loads[judge] <= cap, "capacity"
    short = []
    for entry in model.entry_ids:
        assert len(new[entry]) <= model.need(entry), "more than k"
        missing = case.k - model.have[entry] - len(new[entry])
        if missing > 0:
            short.append(Shortfall(entry, missing, model.reason(entry), model.eligible(entry)))
    assert result.shortfalls == short
    return new


def brute_force(case: Case) -> set[tuple[int, ...]]:
    """Final load vectors of all maximal valid assignments (dynamic programming over entries,
    the state being the load vector, which also fixes how many pairs were made)."""
    model = Model(case)
    index = {j: i for i, j in enumerate(model.judge_ids)}
    states = {tuple(model.base[j] for j in model.judge_ids)}
    for entry in model.entry_ids:
        options = [index[j] for j in model.open_judges(entry)]
        following = set()
        for state in states:
            for size in range(min(model.need(entry), len(options)) + 1):
                for chosen in combinations(options, size):
                    if all(model.spare(model.judge_ids[i], state[i]) for i in chosen):
                        nxt = list(state)
                        for i in chosen:
                            nxt[i] += 1
                        following.add(tuple(nxt))
        states = following
    most = max(sum(s) for s in states)
    return {s for s in states if sum(s) == most}


def certificate_violation(case: Case, result: AssignmentResult) -> str | None:
    """An augmenting path, or a path moving one unit of load from a judge to one at least 2
    lighter with spare capacity; None when neither exists (the result is optimal)."""
    model = Model(case)
    new = check_valid(case, result)
    load = dict(zip(model.judge_ids, result.loads.tolist(), strict=True))
    held: dict[int, list[int]] = {j: [] for j in model.judge_ids}
    for entry, judges in new.items():
        for judge in judges:
            held[judge].append(entry)

    def takes(entry: int, judge: int) -> bool:
        return model.may_take(entry, judge) and judge not in new[entry]

    # Augmenting path: an entry with a fillable gap, judges handing entries on, a spare judge.
    queue = deque(e for e in model.entry_ids if len(new[e]) < model.need(e))
    seen_entries, seen_judges = set(queue), set()
    while queue:
        entry = queue.popleft()
        for judge in model.judge_ids:
            if judge in seen_judges or not takes(entry, judge):
                continue
            if model.spare(judge, load[judge]):
                return f"augmenting path to judge {judge}"
            seen_judges.add(judge)
            for nxt in held[judge]:
                if nxt not in seen_entries:
                    seen_entries.add(nxt)
                    queue.append(nxt)
    for start in model.judge_ids:
        reached, todo = {start}, [start]
        while todo:
            giver = todo.pop()
            for entry in held[giver]:
                for judge in model.judge_ids:
                    if judge in reached or not takes(entry, judge):
                        continue
                    if model.spare(judge, load[judge]) and load[judge] <= load[start] - 2:
                        return f"load can move from judge {start} to judge {judge}"
                    reached.add(judge)
                    todo.append(judge)
    return None


# --- strategies ----------------------------------------------------------------------------


@st.composite
def cases(draw: st.DrawFn, entries: int, judges: int, k: int, units: int = 3) -> Case:
    n = draw(st.integers(0, entries))
    n_judges = draw(st.integers(0, judges))
    entry_ids = draw(st.lists(st.integers(1, 10**9), min_size=n, max_size=n, unique=True))
    judge_ids = draw(
        st.lists(st.integers(1, 10**9), min_size=n_judges, max_size=n_judges, unique=True)
    )
    unit = st.one_of(st.none(), st.integers(0, units - 1))
    capacity = st.one_of(st.none(), st.integers(0, max(1, 2 * n * k // max(n_judges, 1))))
    any_entry = st.sampled_from([*entry_ids, UNKNOWN])
    any_judge = st.sampled_from([*judge_ids, UNKNOWN])
    pair_count = st.integers(0, max(1, n * n_judges // 3))
    return Case(
        entries=[(e, draw(unit)) for e in entry_ids],
        judges=[(j, draw(capacity)) for j in judge_ids],
        k=draw(st.integers(0, k)),
        unit_conflicts=draw(
            st.lists(st.tuples(any_judge, st.integers(0, units)), max_size=draw(pair_count))
        ),
        entry_conflicts=draw(st.lists(st.tuples(any_judge, any_entry), max_size=n)),
        existing=draw(st.lists(st.tuples(any_entry, any_judge), max_size=draw(pair_count))),
        seed=draw(st.integers(0, 2**32)),
    )


# --- properties ----------------------------------------------------------------------------


def assert_optimal(case: Case, result: AssignmentResult) -> None:
    check_valid(case, result)
    best = brute_force(case)
    loads = tuple(result.loads.tolist())
    # As many new pairs as any valid assignment (so k per entry wherever that is possible) …
    assert sum(loads) == sum(next(iter(best)))
    # … and, among those, the most balanced loads in every sense at once.
    assert sum(x * x for x in loads) == min(sum(x * x for x in s) for s in best)
    if loads:
        assert max(loads) == min(max(s) for s in best)
        assert min(loads) == max(min(s) for s in best)
        assert max(loads) - min(loads) == min(max(s) - min(s) for s in best)


@settings(max_examples=400, deadline=None, database=None)
@given(cases(entries=5, judges=4, k=3))
def test_small_instances_match_the_brute_force(case: Case) -> None:
    assert_optimal(case, case.run())


@settings(max_examples=200, deadline=None, database=None)
@given(cases(entries=5, judges=4, k=3, units=2))
def test_the_exact_searches_alone_reach_the_optimum(case: Case) -> None:
    # Without the swap repair and the direct fill, every conflicting slot of the layout is
    # emptied and left to the augmenting and balancing searches.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(assignment, "REPAIR_MAX_ROUNDS", 0)
        patch.setattr(assignment, "_fill_directly", lambda *_: None)
        assert_optimal(case, case.run())


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.one_of(
        cases(entries=40, judges=9, k=4, units=5),
        # Few units: conflicts are dense, so the exact searches have most to do.
        cases(entries=25, judges=6, k=3, units=2),
    )
)
def test_larger_instances_are_certified_optimal(case: Case) -> None:
    assert certificate_violation(case, case.run()) is None


@settings(max_examples=60, deadline=None, database=None)
@given(
    n=st.integers(0, 300),
    n_judges=st.integers(1, 40),
    k=st.integers(0, 6),
    seed=st.integers(0, 2**32),
)
def test_without_conflicts_capacities_or_existing_every_entry_gets_k_and_spread_is_at_most_1(
    n: int, n_judges: int, k: int, seed: int
) -> None:
    case = Case([(e, None) for e in range(n)], [(j, None) for j in range(n_judges)], k, seed=seed)
    result = case.run()
    check_valid(case, result)
    assert len(result.new_pairs) == n * min(k, n_judges)
    assert int(result.loads.max() - result.loads.min()) <= 1


@settings(max_examples=40, deadline=None, database=None)
@given(case=cases(entries=30, judges=8, k=3), data=st.data())
def test_a_rerun_keeps_everything_and_only_fills_gaps(case: Case, data: st.DataObject) -> None:
    first = case.run()
    pairs = [tuple(p) for p in first.new_pairs.tolist()]
    # Some assignments are withdrawn, late entries and judges arrive.
    kept = data.draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    late = Case(
        entries=[*case.entries, (2 * 10**9, 0), (2 * 10**9 + 1, None)],
        judges=[*case.judges, (2 * 10**9, None)],
        k=case.k,
        unit_conflicts=case.unit_conflicts,
        entry_conflicts=case.entry_conflicts,
        existing=[*case.existing, *kept],
        seed=case.seed,
    )
    second = late.run()
    new = check_valid(late, second)  # includes: no existing pair is given again
    model = Model(late)
    for entry, judges in new.items():
        assert len(judges) <= max(0, late.k - model.have[entry])
    # Once everything is recorded a further rerun adds nothing.
    settled = replace(late, existing=[*late.existing, *map(tuple, second.new_pairs.tolist())])
    assert len(settled.run().new_pairs) == 0


@settings(max_examples=40, deadline=None, database=None)
@given(cases(entries=30, judges=8, k=3))
def test_the_same_seed_gives_the_same_result(case: Case) -> None:
    one, two = case.run(), case.run()
    assert np.array_equal(one.new_pairs, two.new_pairs)
    assert np.array_equal(one.loads, two.loads)
    assert one.shortfalls == two.shortfalls


# --- scale-like instances ------------------------------------------------------------------


def national_like(n: int, n_judges: int, *, seed: int, capacity: int = -1) -> AssignmentProblem:
    """The benchmark's shape: units of ~100 entries, each in conflict with ~5 % of judges."""
    rng = np.random.default_rng(seed)
    n_units = max(1, n // 100)
    unit, judge = np.nonzero(rng.random((n_units, n_judges)) < 0.05)
    return AssignmentProblem(
        entry_ids=rng.permutation(n).astype(np.int64) + 500,
        entry_units=rng.integers(0, n_units, n).astype(np.int64),
        judge_ids=np.arange(n_judges, dtype=np.int64) * 3 + 1,
        judge_capacity=np.full(n_judges, capacity, dtype=np.int64),
        k=3,
        unit_conflicts=np.stack((judge * 3 + 1, unit), axis=1).astype(np.int64),
        entry_conflicts=np.zeros((0, 2), dtype=np.int64),
        existing=np.zeros((0, 2), dtype=np.int64),
        seed=seed,
    )


def conflicts_of(problem: AssignmentProblem, pairs: np.ndarray) -> int:
    unit_of = dict(zip(problem.entry_ids.tolist(), problem.entry_units.tolist(), strict=True))
    blocked = set(map(tuple, problem.unit_conflicts.tolist()))
    return sum((j, unit_of[e]) in blocked for e, j in pairs.tolist())


def test_a_national_like_instance_is_balanced_conflict_free_and_complete() -> None:
    problem = national_like(20_000, 400, seed=3)
    result = assign(problem)
    assert result.shortfalls == []
    assert len(result.new_pairs) == 3 * 20_000
    assert len({tuple(p) for p in result.new_pairs.tolist()}) == 3 * 20_000
    assert conflicts_of(problem, result.new_pairs) == 0
    assert int(result.loads.max() - result.loads.min()) <= 1
    other = assign(replace(problem, seed=4))
    assert not np.array_equal(result.new_pairs, other.new_pairs), "the seed matters"


def test_binding_capacities_fill_every_judge_and_report_the_rest() -> None:
    problem = national_like(3_000, 60, seed=5, capacity=120)  # 7,200 places for 9,000 slots
    result = assign(problem)
    assert conflicts_of(problem, result.new_pairs) == 0
    assert result.loads.tolist() == [120] * 60
    assert sum(s.missing for s in result.shortfalls) == 9_000 - 7_200
    assert {s.reason for s in result.shortfalls} == {CAPACITY_EXHAUSTED}


def test_existing_assignments_at_scale_are_kept_and_the_rest_balanced() -> None:
    problem = national_like(6_000, 120, seed=6)
    first = assign(problem)
    # Half the judges' work was recorded earlier; new entries and a new judge arrive.
    recorded = first.new_pairs[::2]
    late = replace(
        problem,
        entry_ids=np.concatenate((problem.entry_ids, np.arange(10**6, 10**6 + 600))),
        entry_units=np.concatenate((problem.entry_units, np.full(600, -1))),
        judge_ids=np.append(problem.judge_ids, 10**7),
        judge_capacity=np.append(problem.judge_capacity, -1),
        existing=recorded,
    )
    result = assign(late)
    assert not ({tuple(p) for p in result.new_pairs.tolist()} & set(map(tuple, recorded.tolist())))
    assert result.shortfalls == []
    assert len(result.new_pairs) + len(recorded) == 3 * 6_600
    assert int(result.loads.max() - result.loads.min()) <= 1


# --- edge cases ----------------------------------------------------------------------------


def test_k_larger_than_the_number_of_judges() -> None:
    case = Case([(1, None), (2, None)], [(10, None), (11, None)], k=3)
    result = case.run()
    check_valid(case, result)
    assert len(result.new_pairs) == 4
    assert result.shortfalls == [
        Shortfall(1, 1, TOO_FEW_ELIGIBLE_JUDGES, 2),
        Shortfall(2, 1, TOO_FEW_ELIGIBLE_JUDGES, 2),
    ]


def test_an_entry_whose_unit_conflicts_with_all_but_k_minus_1_judges() -> None:
    case = Case(
        [(1, 7), (2, 8), (3, 8)],
        [(j, None) for j in range(10, 16)],
        k=3,
        unit_conflicts=[(j, 7) for j in range(10, 14)],  # unit 7 leaves judges 14 and 15
    )
    result = case.run()
    check_valid(case, result)
    assert result.shortfalls == [Shortfall(1, 1, TOO_FEW_ELIGIBLE_JUDGES, 2)]
    assert {(1, 14), (1, 15)} <= {tuple(p) for p in result.new_pairs.tolist()}


def test_entry_conflicts_and_existing_judges_count_against_eligibility() -> None:
    case = Case(
        [(1, 7)],
        [(j, None) for j in range(10, 14)],
        k=3,
        unit_conflicts=[(10, 7)],
        entry_conflicts=[(11, 1), (10, 1)],  # (10, 1) is already covered by the unit
        existing=[(1, 12), (1, 10)],  # (1, 10) is now a conflict: kept and counted
    )
    result = case.run()
    check_valid(case, result)
    assert result.new_pairs.tolist() == [[1, 13]]
    assert result.shortfalls == []
    assert result.loads.tolist() == [1, 0, 1, 1]


def test_capacities_too_small_in_total() -> None:
    case = Case([(e, None) for e in range(1, 5)], [(10, 2), (11, 2), (12, 1)], k=2)
    result = case.run()
    check_valid(case, result)
    assert result.loads.tolist() == [2, 2, 1]
    assert sum(s.missing for s in result.shortfalls) == 3
    assert all(s.reason == CAPACITY_EXHAUSTED and s.eligible == 3 for s in result.shortfalls)


def test_existing_at_or_above_k_gets_nothing_new_and_counts_towards_loads() -> None:
    case = Case(
        [(1, None), (2, None)],
        [(10, None), (11, None), (12, None)],
        k=2,
        existing=[(1, 10), (1, 11), (1, 12), (1, 12), (99, 10)],  # a repeat, an unknown entry
    )
    result = case.run()
    check_valid(case, result)
    assert result.new_pairs.tolist() == [[2, 11], [2, 12]]
    assert result.loads.tolist() == [2, 2, 2]


def test_capacity_below_existing_load_is_not_exceeded_further() -> None:
    case = Case([(1, None), (2, None)], [(10, 1), (11, None)], k=1, existing=[(1, 10), (9, 10)])
    result = case.run()
    check_valid(case, result)
    assert result.new_pairs.tolist() == [[2, 11]]


def test_no_entries() -> None:
    result = Case([], [(10, None)], k=3).run()
    assert result.new_pairs.shape == (0, 2)
    assert result.shortfalls == []
    assert result.loads.tolist() == [0]


def test_no_judges() -> None:
    result = Case([(1, None), (2, 5)], [], k=2, existing=[(2, 10)]).run()
    assert result.new_pairs.shape == (0, 2)
    assert result.loads.shape == (0,)
    assert result.shortfalls == [
        Shortfall(1, 2, TOO_FEW_ELIGIBLE_JUDGES, 0),
        Shortfall(2, 1, TOO_FEW_ELIGIBLE_JUDGES, 0),
    ]


def test_k_zero_assigns_nothing() -> None:
    result = Case([(1, None)], [(10, None)], k=0).run()
    assert result.new_pairs.shape == (0, 2)
    assert result.shortfalls == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"entry_ids": np.array([1, 1])}, "entry_ids must be unique"),
        ({"judge_ids": np.array([4, 4]), "judge_capacity": np.array([-1, -1])}, "judge_ids"),
        ({"entry_units": np.array([1])}, "entry_units must have shape"),
        ({"existing": np.array([[1, 2, 3]])}, "existing must have shape"),
        ({"judge_capacity": np.array([-2])}, "judge_capacity"),
        ({"k": -1}, "k must be"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_malformed_input_is_refused(change: dict[str, object], message: str) -> None:
    problem = AssignmentProblem(
        entry_ids=np.array([1, 2]),
        entry_units=np.array([-1, -1]),
        judge_ids=np.array([4]),
        judge_capacity=np.array([-1]),
        k=1,
        unit_conflicts=np.zeros((0, 2), dtype=np.int64),
        entry_conflicts=np.zeros((0, 2), dtype=np.int64),
        existing=np.zeros((0, 2), dtype=np.int64),
    )
    with pytest.raises(AssignmentInputError, match=message):
        assign(replace(problem, **change))  # type: ignore[arg-type]
