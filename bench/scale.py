"""National scale: the organiser's pages, the judge's queue, the gallery and the long operations
at 1,000 and at 1,000,000 entries on PostgreSQL, each size against the smallest as a ratio.

What it measures, per size (``--sizes``, default 1000,1000000):
- the data: a fresh database per size (``<prefix>_<size>``, dropped afterwards unless ``--keep``)
  migrated to the app's schema and filled by bulk SQL (bench/scale_data.py: schools in
  proportion, judges N/50, K = 3, scored, ranked and published), and how long that took;
- pages, through HTTP against ``contest serve`` (one uvicorn process on a free port per size,
  all up at once) signed in with API tokens: one warm-up request, then ``--repeat`` rounds of
  one request to each size in turn, so that other work on the machine falls on every size
  alike; the median of each size's times, the bytes of the answer, and the server's peak
  resident memory while it answered (the kernel's high-water mark, reset before each page).
  A page that errors, or takes longer than ``--page-timeout`` seconds, is reported as such and
  the server restarted; an absent page (404) is reported;
- long operations, after the pages, each as a job run by a process of its own acting as the
  worker (``OPERATIONS``): time end to end, peak resident memory and its growth over the
  process's memory before the work began. They run in order on the generated state: compute
  and publish (after un-publishing by SQL), the exports, the certificates, then assignment
  (after deleting the scores and assignments).

Baseline, same run, same machine: every figure at the smallest size given. Printed: a table with
every size, the ratio largest / smallest, and the goal beside each figure, met or not. The goals
(issue "national scale"): each page at most 1.5× its time at the smallest size and at most 300 ms
at 1 M; assignment of 1.7 M entries within 5 min, compute + publish within 2 min, the results
XLSX within 3 min with at most 200 MB of memory growth. Goals stated at 1.7 M are judged on the
largest size: its time scaled linearly to 1.7 M (marked "scaled") when it is at least 100,000
and smaller than 1.7 M, its memory growth as measured.

Needs a PostgreSQL server where the user is a superuser (it creates databases, and the
generator turns off foreign-key checks for its one transaction): ``--server-url``, default
postgresql://postgres@127.0.0.1:5432/postgres.

Run: .venv/bin/python bench/scale.py [--sizes 1000,1000000] [--parts pages,operations]
     [--repeat 9] [--page-timeout 60] [--operation-timeout 600] [--prefix t_bench] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx
import psutil

# Run as a script, this folder is on the path and the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import own_database
from bench.processes import free_port, stop, wait_for
from bench.scale_data import Generated, Scale, generate

if TYPE_CHECKING:
    from contest.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = 1_700_000
PAGE_RATIO_GOAL = 1.5
PAGE_MS_GOAL = 300.0
# A page slower than this at warm-up is timed once more, not ``--repeat`` times.
SLOW_PAGE_SECONDS = 5.0


# --- pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # formatted with contest_id and slug
    who: str  # "organiser", "judge" or "public"


# Each audience's pages: name and path.
PAGES_BY_AUDIENCE = {
    "organiser": {
        "dashboard": "/admin",
        "judging page": "/admin/contests/{contest_id}/judging",
        "results console": "/admin/contests/{contest_id}/results",
        "entries list": "/admin/contests/{contest_id}/entries",
        "entries, deepest page": "/admin/contests/{contest_id}/entries?page=200",
        "report page": "/admin/report",
        "units page": "/admin/units",
        "users page": "/admin/users",
        "re-marking list": "/admin/contests/{contest_id}/remarks",
        "progress API": "/api/v1/contests/{slug}/progress",
    },
    "judge": {"judge queue": "/judge", "judge queue API": "/api/v1/judge/assignments"},
    "public": {
        "gallery": "/contests/{slug}/winners",
        "public results API": "/api/v1/contests/{slug}/results",
    },
}
PAGES = tuple(
    Page(name, path, who)
    for who, pages in PAGES_BY_AUDIENCE.items()
    for name, path in pages.items()
)


@dataclass
class Figure:
    """One measurement at one size: seconds (None when it did not finish), what it took."""

    seconds: float | None
    note: str = ""  # "error 500", "timeout", "absent (404)", "scaled"…
    size: int | None = None  # bytes of a page's answer
    peak_mb: float | None = None  # resident memory, MB
    growth_mb: float | None = None  # over the process's memory before the work
    samples: int = 0


def _peak_reset(pid: int) -> bool:
    """Reset the kernel's high-water mark of the process's resident memory (Linux)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    with contextlib.suppress(psutil.Error):
        return float(psutil.Process(pid).memory_info().rss) / 1e6
    return None


class Server:
    """``contest serve`` on a free port, restartable (after a page that timed out, the old
    process may still be rendering it)."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CONTEST_DATA_DIR": str(tmp / "data"),
            "CONTEST_DATABASE_URL": database_url,
            "CONTEST_SECRET_KEY": "bench-scale-secret",
            "CONTEST_BASE_URL": self.url,
        }
        self.log = tmp / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "contest.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        wait_for(f"{self.url}/healthz", self.process, timeout=120)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


class _Timing:
    """One page's requests to one server: the times so far, or why there are none."""

    def __init__(self, server: Server, client: httpx.Client) -> None:
        self.server, self.client = server, client
        self.seconds: list[float] = []
        self.size = 0
        self.failed: Figure | None = None
        self.exact_peak = _peak_reset(server.pid)

    def request(self, path: str, *, timed: bool, timeout: float) -> float | None:
        """One request; its time, or None (and ``failed`` set) when the page did not answer."""
        started = time.perf_counter()
        try:
            response = self.client.get(path)
        except httpx.TimeoutException:
            self.server.restart()
            self.failed = Figure(None, f"timeout (> {timeout:g} s)")
            return None
        except httpx.TransportError as exc:
            self.server.restart()
            self.failed = Figure(None, f"failed ({type(exc).__name__})")
            return None
        elapsed = time.perf_counter() - started
        if response.status_code == 404:
            self.failed = Figure(None, "absent (404)")
        elif response.status_code != 200:
            self.failed = Figure(None, f"error {response.status_code}", size=len(response.content))
        else:
            self.size = len(response.content)
            if timed:
                self.seconds.append(elapsed)
            return elapsed
        return None

    def figure(self) -> Figure:
        if self.failed is not None:
            return self.failed
        return Figure(
            statistics.median(self.seconds),
            "" if self.exact_peak else "peak: RSS at the end",
            size=self.size,
            peak_mb=_peak_mb(self.server.pid),
            samples=len(self.seconds),
        )


def time_page(
    servers: list[Server],
    paths: list[str],
    headers: list[dict[str, str]],
    *,
    repeat: int,
    timeout: float,
) -> list[Figure]:
    """One page at every size: one warm-up request each, then ``repeat`` rounds of one request
    to each size's server in turn (one round when a page is slow), so that whatever else the
    machine does meanwhile falls on every size alike; the median of each size's times."""
    with contextlib.ExitStack() as stack:
        timings = [
            _Timing(server, stack.enter_context(
                httpx.Client(base_url=server.url, headers=h, timeout=timeout)
            ))
            for server, h in zip(servers, headers, strict=True)
        ]  # fmt: skip
        for attempt in range(repeat + 1):
            for timing, path in zip(timings, paths, strict=True):
                if timing.failed is None:
                    elapsed = timing.request(path, timed=attempt > 0, timeout=timeout)
                    if attempt == 0 and elapsed is not None and elapsed > SLOW_PAGE_SECONDS:
                        repeat = 1
            if attempt >= repeat:
                break
        return [timing.figure() for timing in timings]


def measure_pages(
    generated: list[Generated],
    tmp: list[Path],
    *,
    repeat: int,
    timeout: float,
    only: frozenset[str] = frozenset(),
) -> list[dict[str, Figure]]:
    """Every page at every size, each size served by its own ``contest serve`` at once."""
    servers = [Server(g.database_url, t) for g, t in zip(generated, tmp, strict=True)]
    figures: list[dict[str, Figure]] = [{} for _ in servers]
    try:
        for server, found in zip(servers, figures, strict=True):
            server.start()
            rest = psutil.Process(server.pid).memory_info().rss / 1e6
            found["server at rest"] = Figure(None, size=None, peak_mb=rest)
        for page in PAGES:
            if only and page.name not in only:
                continue
            paths = [
                page.path.format(contest_id=g.contest_id, slug=g.contest_slug) for g in generated
            ]
            headers = [_headers(g)[page.who] for g in generated]
            measured = time_page(servers, paths, headers, repeat=repeat, timeout=timeout)
            shown = []
            for g, found, figure in zip(generated, figures, measured, strict=True):
                found[page.name] = figure
                shown.append(f"{g.scale.entries:,}: {_show(figure)}")
            print(f"  {page.name:<20} {'; '.join(shown)}", flush=True)
    finally:
        for server in servers:
            server.stop()
    return figures


def _headers(generated: Generated) -> dict[str, dict[str, str]]:
    return {
        "organiser": {"Authorization": f"Bearer {generated.organiser_token}"},
        "judge": {"Authorization": f"Bearer {generated.judge_token}"},
        "public": {},
    }


# --- long operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What an operation needs, in the process that runs it."""

    database_url: str
    contest_id: int
    contest_slug: str
    output: Path


def _settings(context: Context) -> Settings:
    from contest.settings import Settings

    return Settings.from_env(
        {
            "CONTEST_DATABASE_URL": context.database_url,
            "CONTEST_DATA_DIR": str(context.output),
            "CONTEST_SECRET_KEY": "bench-scale-secret",
            "CONTEST_BASE_URL": "http://127.0.0.1:8000",
        }
    )


# Each operation runs as the job the organiser's page starts: recorded, then run by this
# process as a worker runs it (claim, heartbeat, progress, outcome), so the figures are the job
# end to end and the memory is the worker's.


def _as_job(kind: str, **params: str) -> Callable[[Context], str]:
    def run(context: Context) -> str:
        import asyncio

        from sqlalchemy import select

        from contest.app import JOB_KINDS
        from contest.db import create_engine, create_sessionmaker
        from contest.jobs.queue import start_job
        from contest.jobs.worker import execute_job
        from contest.models import Contest, Job, JobStatus

        settings = _settings(context)

        async def go() -> str:
            engine = create_engine(settings.database_url)
            sessionmaker = create_sessionmaker(engine)
            try:
                given = dict(params)
                if kind == "export_report":
                    async with sessionmaker() as session:
                        event = await session.scalar(
                            select(Contest.event_id).where(Contest.id == context.contest_id)
                        )
                    given["event"] = str(event)
                job = await start_job(
                    sessionmaker,
                    None,
                    kind=kind,
                    contest_id=None if kind == "export_report" else context.contest_id,
                    params=given,
                    actor=None,
                )
                await execute_job(settings, job.id, JOB_KINDS)
                async with sessionmaker() as session:
                    done = await session.get(Job, job.id)
                assert done is not None
                if done.status != JobStatus.DONE:
                    raise RuntimeError(f"job {kind} ended {done.status}: {done.error}")
                return str(done.result)
            finally:
                await engine.dispose()

        return asyncio.run(go())

    return run


@dataclass(frozen=True)
class Operation:
    run: Callable[[Context], str]
    # SQL run before it, untimed, to put the data in the state the operation starts from.
    setup: tuple[str, ...] = ()


UNPUBLISH = (
    "UPDATE results SET published_at = NULL, certificate_serial = NULL",
    "UPDATE contests SET status = 'judging'",
)
UNASSIGN = (
    "DELETE FROM results",
    "DELETE FROM scores",
    "DELETE FROM assignments",
    "UPDATE contests SET status = 'judging'",
)

OPERATIONS: dict[str, Operation] = {
    "compute": Operation(_as_job("results_compute"), UNPUBLISH),
    "publish": Operation(_as_job("results_publish")),
    "results xlsx": Operation(_as_job("export_results", format="xlsx")),
    "results csv": Operation(_as_job("export_results", format="csv")),
    "report xlsx": Operation(_as_job("export_report", format="xlsx")),
    "report pdf": Operation(_as_job("export_report", format="pdf")),
    "certificates": Operation(_as_job("export_certificates")),
    "assignment": Operation(_as_job("assign"), UNASSIGN),
}


def run_operation_here(name: str, context: Context) -> None:
    """The child's side: import first (the memory before the work is the baseline), run, and
    print one JSON line with the figures."""
    # What a worker holds before any job: the app's kinds (and so every domain, the templates'
    # libraries, the PDF and XLSX writers) and the job machinery.
    import contest.app
    import contest.jobs.worker
    import contest.results.cli  # noqa: F401
    import judging.services  # noqa: F401

    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    message = OPERATIONS[name].run(context)
    seconds = time.perf_counter() - started
    # The kernel's high-water mark of this process's own memory: getrusage's ru_maxrss would
    # start from the parent's peak, which a child inherits on Linux.
    peak_mb = _peak_mb(os.getpid())
    peak = before if peak_mb is None else peak_mb * 1e6
    print(
        json.dumps(
            {"seconds": seconds, "before": before, "peak": peak, "message": message.strip()}
        ),
        flush=True,
    )


async def _execute(database_url: str, statements: tuple[str, ...]) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            for statement in statements:
                await connection.execute(statement)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def run_operation(name: str, generated: Generated, tmp: Path, *, timeout: float) -> Figure:
    operation = OPERATIONS[name]
    if operation.setup:
        asyncio.run(_execute(generated.database_url, operation.setup))
    context = {
        "database_url": generated.database_url,
        "contest_id": generated.contest_id,
        "contest_slug": generated.contest_slug,
        "output": str(tmp),
    }
    command = [sys.executable, str(Path(__file__).resolve()), "--run-operation", name,
               "--context", json.dumps(context)]  # fmt: skip
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return Figure(None, f"timeout (> {timeout:g} s)")
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return Figure(None, f"failed after {wall:.1f} s: {_exception_line(done.stderr)[:200]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Figure(
        figures["seconds"],
        figures["message"][:100],
        peak_mb=figures["peak"] / 1e6,
        growth_mb=(figures["peak"] - figures["before"]) / 1e6,
        samples=1,
    )


def _exception_line(stderr: str) -> str:
    """The line of a traceback that names the exception (SQLAlchemy adds a link after it)."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"[\w.]+(Error|Exception|Exit)\b", line)]
    return (named or lines or ["no output"])[-1]


def measure_operations(
    generated: Generated, tmp: Path, *, timeout: float, only: frozenset[str] = frozenset()
) -> dict[str, Figure]:
    figures = {}
    for name in OPERATIONS:
        if only and name not in only:
            continue
        figure = run_operation(name, generated, tmp, timeout=timeout)
        figures[name] = figure
        print(f"  {name:<20} {_show(figure)}", flush=True)
    return figures


# --- one size ----------------------------------------------------------------------------------


@dataclass
class SizeRun:
    size: int
    generation_seconds: float
    database_mb: float
    pages: dict[str, Figure] = field(default_factory=dict)
    operations: dict[str, Figure] = field(default_factory=dict)


async def _database_mb(database_url: str) -> float:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT pg_database_size(current_database())")) / 1e6
    finally:
        await connection.close()


@dataclass
class Prepared:
    """One size's database, generated, and a folder for its server and its operations."""

    run: SizeRun
    generated: Generated
    tmp: Path


def prepare_size(size: int, args: argparse.Namespace, stack: contextlib.ExitStack) -> Prepared:
    """The size's database, made and filled; it lives (and is dropped) with ``stack``."""
    name = f"{args.prefix}_{size}"
    database_url = stack.enter_context(own_database(args.server_url, name, keep=args.keep))
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-")))
    scale = Scale(size)
    print(
        f"\n{size:,} entries: {scale.schools:,} schools, {scale.classes:,} classes, "
        f"{scale.judges:,} judges, {scale.assignments:,} assignments, database {name}",
        flush=True,
    )
    generated = asyncio.run(generate(database_url, size))
    run = SizeRun(size, generated.seconds, asyncio.run(_database_mb(database_url)))
    print(f"  generated in {run.generation_seconds:.1f} s ({run.database_mb:,.0f} MB)")
    return Prepared(run, generated, tmp)


def run_sizes(sizes: list[int], args: argparse.Namespace) -> list[SizeRun]:
    """Every size's data first; then the pages, every size's servers up at once and their
    requests taken in turn; then each size's operations (which change the data)."""
    with contextlib.ExitStack() as stack:
        prepared = [prepare_size(size, args, stack) for size in sizes]
        if "pages" in args.parts:
            print("\npages, every size in turn:", flush=True)
            found = measure_pages(
                [p.generated for p in prepared],
                [p.tmp for p in prepared],
                repeat=args.repeat,
                timeout=args.page_timeout,
                only=args.only,
            )
            for p, pages in zip(prepared, found, strict=True):
                p.run.pages = pages
        if "operations" in args.parts:
            for p in prepared:
                print(f"\noperations at {p.run.size:,}:", flush=True)
                p.run.operations = measure_operations(
                    p.generated, p.tmp, timeout=args.operation_timeout, only=args.only
                )
        return [p.run for p in prepared]


# --- the table ---------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:,.1f} s"


def _mb(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} MB"


def _show(figure: Figure) -> str:
    """A figure as printed: a page's time, size and the server's memory; an operation's time,
    its process's memory and what it said; or why there is no figure."""
    if figure.seconds is None:
        return figure.note
    if figure.size is not None:
        return (
            f"{_ms(figure.seconds)} (median of {figure.samples}), {figure.size:,} bytes, "
            f"server peak {_mb(figure.peak_mb)}"
        )
    return (
        f"{_s(figure.seconds)}, peak {_mb(figure.peak_mb)} (growth {_mb(figure.growth_mb)})"
        f": {figure.note}"
    )


def _ratio(first: Figure | None, last: Figure) -> str:
    """The largest size's time over the smallest's."""
    if first and first.seconds and last.seconds:
        return f"{last.seconds / first.seconds:.1f}×"
    return "—"


def _verdict(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "NOT met")


def page_goal(small: Figure | None, large: Figure, large_size: int) -> tuple[str, bool | None]:
    if large.seconds is None:
        return "≤ 1.5× and ≤ 300 ms", (
            False if large.note.startswith(("error", "timeout", "failed")) else None
        )
    met = large.seconds * 1000 <= PAGE_MS_GOAL
    if small is not None and small.seconds:
        met = met and large.seconds <= PAGE_RATIO_GOAL * small.seconds
    at = "" if large_size >= 1_000_000 else f" (at 1 M; here {large_size:,})"
    return f"≤ {PAGE_RATIO_GOAL}× and ≤ {PAGE_MS_GOAL:g} ms{at}", met


# Goals stated for 1.7 M entries: (operations summed, seconds, memory growth MB or None).
OPERATION_GOALS = (
    (("assignment",), 300.0, None),
    (("compute", "publish"), 120.0, None),
    (("results xlsx",), 180.0, 200.0),
)


# Below this size the fixed costs (a process, a connection) hide the per-row cost: a figure
# scaled from it to 1.7 M says nothing.
SMALLEST_SCALED = 100_000


def operation_goals(run: SizeRun) -> list[str]:
    """Each goal stated at 1.7 M against the largest size: time scaled linearly (work grows at
    least linearly with the rows), memory growth as measured (a flat-memory export must not
    grow with the rows, so a growth over the goal at a smaller size already fails it)."""
    lines = []
    factor = NATIONAL / run.size
    at = "" if factor <= 1 else f" (measured at {run.size:,})"
    for names, seconds_goal, growth_goal in OPERATION_GOALS:
        figures = [run.operations.get(n) for n in names]
        label = " + ".join(names)
        done = [f.seconds for f in figures if f is not None and f.seconds is not None]
        if len(done) < len(names):
            notes = "; ".join(f.note for f in figures if f is not None and f.seconds is None)
            lines.append(f"{label}: did not finish ({notes}): goal ≤ {seconds_goal:g} s NOT met")
            continue
        total = sum(done)
        line = f"{label}: {total:,.1f} s at {run.size:,}"
        if factor <= 1:
            line += f"; goal ≤ {seconds_goal:g} s: {_verdict(total <= seconds_goal)}"
        elif run.size >= SMALLEST_SCALED:
            scaled = total * factor
            line += (
                f", scaled to 1.7 M {scaled:,.0f} s; goal ≤ {seconds_goal:g} s at 1.7 M: "
                f"{_verdict(scaled <= seconds_goal)} (scaled)"
            )
        else:
            line += f"; goal ≤ {seconds_goal:g} s at 1.7 M: too small a size to judge"
        if growth_goal is not None:
            growth = max((f.growth_mb or 0.0) for f in figures if f is not None)
            line += (
                f"; memory growth {growth:,.0f} MB, goal ≤ {growth_goal:g} MB: "
                f"{_verdict(growth <= growth_goal)}{at}"
            )
        lines.append(line)
    return lines


def report(runs: list[SizeRun]) -> str:
    """The markdown tables the run prints (and that bench/README.md quotes)."""
    small, large = runs[0], runs[-1]
    sizes = " | ".join(f"{r.size:,}" for r in runs)
    out = [
        "| Data | " + sizes + " |",
        "| --- | " + " | ".join("---" for _ in runs) + " |",
        "| generated in | " + " | ".join(_s(r.generation_seconds) for r in runs) + " |",
        "| database size | " + " | ".join(_mb(r.database_mb) for r in runs) + " |",
    ]
    if any(r.pages for r in runs):
        ratio = f"{large.size:,} / {small.size:,}"
        out += [
            "",
            f"| Page | {sizes} | ratio {ratio} | bytes at {large.size:,} "
            f"| server peak at {large.size:,} | goal | |",
            "| --- | " + " | ".join("---" for _ in runs) + " | --- | --- | --- | --- | --- |",
        ]
        for page in PAGES:
            cells = [_cell(r.pages.get(page.name)) for r in runs]
            first, last = small.pages.get(page.name), large.pages.get(page.name)
            if last is None:
                continue
            ratio_text = _ratio(first, last)
            goal, met = page_goal(first, last, large.size)
            size_text = f"{last.size:,}" if last.size is not None else "—"
            out.append(
                f"| {page.name} | " + " | ".join(cells) + f" | {ratio_text} | {size_text} "
                f"| {_mb(last.peak_mb)} | {goal} | {_verdict(met)} |"
            )
        rest = [_mb(r.pages.get("server at rest", Figure(None)).peak_mb) for r in runs]
        out.append("| (server at rest) | " + " | ".join(rest) + " | | | | | |")
    if any(r.operations for r in runs):
        out += [
            "",
            f"| Operation | {sizes} | ratio | peak at {large.size:,} | growth at {large.size:,} |",
            "| --- | " + " | ".join("---" for _ in runs) + " | --- | --- | --- |",
        ]
        for name in OPERATIONS:
            cells = [_cell(r.operations.get(name), seconds=True) for r in runs]
            first, last = small.operations.get(name), large.operations.get(name)
            if last is None:
                continue
            ratio_text = _ratio(first, last)
            out.append(
                f"| {name} | " + " | ".join(cells) + f" | {ratio_text} | {_mb(last.peak_mb)} "
                f"| {_mb(last.growth_mb)} |"
            )
        out += ["", *(f"- {line}" for line in operation_goals(large))]
    return "\n".join(out)


def _cell(figure: Figure | None, *, seconds: bool = False) -> str:
    if figure is None:
        return "—"
    if figure.seconds is None:
        return figure.note.split(":")[0]
    return _s(figure.seconds) if seconds else _ms(figure.seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,1000000", help="entries, comma-separated")
    parser.add_argument("--parts", default="pages,operations", help="pages and/or operations")
    parser.add_argument("--repeat", type=int, default=9, help="timed requests per page")
    parser.add_argument("--page-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--operation-timeout", type=float, default=600.0, help="seconds")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--prefix", default="t_bench", help="databases are PREFIX_SIZE")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--only", default="", help="page and operation names, comma-separated (default: all)"
    )
    parser.add_argument("--run-operation", help=argparse.SUPPRESS)
    parser.add_argument("--context", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_operation:
        context = json.loads(args.context)
        context["output"] = Path(context["output"])
        run_operation_here(args.run_operation, Context(**context))
        return 0
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    args.parts = {p.strip() for p in args.parts.split(",")}
    args.only = frozenset(n.strip() for n in args.only.split(",") if n.strip())
    known = {page.name for page in PAGES} | set(OPERATIONS)
    if args.only - known:
        raise SystemExit(f"--only: unknown {', '.join(sorted(args.only - known))}")
    if (
        not sizes
        or sizes[0] < 10
        or sizes[-1] > 2_000_000
        or not args.parts
        <= {
            "pages",
            "operations",
        }
    ):
        raise SystemExit("--sizes between 10 and 2,000,000; --parts pages,operations")
    runs = run_sizes(sizes, args)
    print("\n" + report(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
