"""The packages' layering, read from the source: no import cycle between packages, storage
free of the app, and judging's algorithms free of everything but the standard library and numpy.

Every import counts, at module level or inside a function (a lazy import is still a
dependency), except in the composition root, which wires everything together and is imported
by nothing else. Packages are ``contest.<sub>`` for each subpackage, ``judging`` and ``storage``;
each loose ``contest/*.py`` module (models, errors, i18n, rules, forms…) stands on its own, since
they are shared modules rather than one package: a domain package may use ``contest.models``
while ``contest.rules`` uses the domain's interfaces, as long as no chain leads back.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import judging
from contest.models import Prize
from judging.scoring import PRIZE_ORDER

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("contest", "judging", "storage")
# The app's assembly: may import anything, imported by nobody but each other. contest.api
# mounts every package's endpoints under /api/v1 and builds their OpenAPI description.
COMPOSITION_ROOT = frozenset({"asgi", "contest.app", "contest.cli", "contest.demo", "contest.api"})
PURE = ("judging.assignment", "judging.scoring", "judging.comparative", "judging.loads")
PURE_ALLOWED = frozenset({"numpy", "judging"})


def modules() -> dict[str, Path]:
    found = {"asgi": ROOT / "asgi.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(path: Path, known: Iterable[str]) -> set[str]:
    """Every module of ours this file imports, anywhere in it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    known = set(known)
    return {name for name in names if name in known}


def external_imports_of(path: Path) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def package_of(module: str) -> str:
    parts = module.split(".")
    if module in COMPOSITION_ROOT:
        return module
    if parts[0] == "contest" and len(parts) > 1 and (ROOT / "contest" / parts[1]).is_dir():
        return f"contest.{parts[1]}"
    if parts[0] == "contest" and len(parts) == 2:
        return module
    return parts[0]


def package_graph() -> dict[str, set[str]]:
    found = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in found.items():
        for imported in imports_of(path, found):
            source, target = package_of(module), package_of(imported)
            if source != target:
                graph[source].add(target)
    return graph


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Each strongly connected group of two or more nodes (or a node importing itself), as one
    cycle through it: [a, b, …, a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(nodes) + 100))
    try:
        for node in nodes:
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return [_path_through(graph, group) for group in groups]


def _path_through(graph: Mapping[str, Iterable[str]], group: set[str]) -> list[str]:
    """A shortest cycle from the group's first member back to it, inside the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph.get(node, ())):
            if target == start:
                return [*paths[node], start]
            if target in group and target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError("a strongly connected group has a cycle")


# --- the cycle finder itself ------------------------------------------------------------------


def test_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]


def test_cycle_finder_passes_a_layered_graph() -> None:
    assert find_cycles({"app": {"a", "b"}, "a": {"core"}, "b": {"a", "core"}}) == []


def test_cycle_finder_sees_two_packages_importing_each_other() -> None:
    assert find_cycles({"judging": {"contest"}, "contest": {"judging"}}) == [
        ["contest", "judging", "contest"]
    ]


# --- the code base --------------------------------------------------------------------------------


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles between packages: " + "; ".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_composition_root_is_imported_by_nobody_else() -> None:
    found = modules()
    offenders = sorted(
        f"{module} imports {imported}"
        for module, path in found.items()
        if module not in COMPOSITION_ROOT
        for imported in imports_of(path, found)
        if imported in COMPOSITION_ROOT
    )
    assert not offenders


def test_storage_does_not_import_the_app() -> None:
    found = modules()
    offenders = sorted(
        f"{module} imports {imported}"
        for module, path in found.items()
        if package_of(module) == "storage"
        for imported in imports_of(path, found)
        if package_of(imported) != "storage"
    )
    assert not offenders


def test_judging_algorithms_are_pure() -> None:
    found = modules()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for module in PURE:
        outside = external_imports_of(found[module]) - stdlib - PURE_ALLOWED
        assert not outside, f"{module} imports {sorted(outside)}"
    assert Path(judging.__file__).parent == ROOT / "judging"


def test_prize_ladder_of_the_pure_algorithms_is_the_models() -> None:
    assert tuple(prize.value for prize in Prize) == PRIZE_ORDER
