"""The winners' gallery under load, against a bare Starlette endpoint returning the same bytes.

What it measures: requests per second and the 99th percentile latency of a real gallery page
(``/contests/ve-tranh-theo-sach/winners``) served by ``contest serve`` (uvicorn, one process),
with ``wrk`` holding 64 connections open. The data is made the way an event makes it:
``contest demo``, then drawings submitted through the intake services (which store the
original and derive the preview and thumbnail), judged by the demo's judges through the
judging services, then ``contest results compute`` and ``contest results publish``.

Baseline, same run, same machine: a bare Starlette app with one route returning the page's
bytes, prebuilt, served by the same uvicorn with the same flags (one process, host, proxy
headers, log level). Each side gets a short warm-up, then a timed run.

Goals: app / bare >= 0.7 in requests per second; the app's p99 < 100 ms. On a shared machine
one run says little about a tail, so it runs several rounds (app, then bare) and prints each
round and the medians; the ratio is the median of the rounds' own ratios.

Run: .venv/bin/python bench/gallery.py [--rounds 3] [--duration 10] [--connections 64]
     [--entries 24] [--database-url postgresql://...] [--storage-url s3://...]
SQLite and a local folder by default. wrk is the Debian package: apt-get install wrk.

The browser test (tests/e2e/test_gallery.py) builds its server with ``prepare`` and ``serving``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

# Run as a script, this folder is on the path and the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import free_port, stop
from bench.submitting import services_for, submit_file

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONTEST = "ve-tranh-theo-sach"
GALLERY_PATH = f"/contests/{CONTEST}/winners"
RATIO_GOAL = 0.7
P99_GOAL_MS = 100.0

# Entrants of the bench (and of the browser test): a name, an age, a class, a consent.
NAMES = [
    "Nguyễn Thảo Vy",
    "Trần Đức Anh",
    "Lê Hoàng Yến",
    "Phạm Quốc Bảo",
    "Hoàng Minh Châu",
    "Vũ Gia Khánh",
    "Đặng Ngọc Diệp",
    "Bùi Thanh Tùng",
    "Đỗ Khánh Linh",
    "Hồ Nhật Nam",
    "Ngô Phương Thảo",
    "Dương Tuấn Kiệt",
]
CONSENTS = ["full_name", "initials", "hidden"]
# Children of the primary school's and the lower secondary school's classes, by division.
CLASSES = {
    "tieu-hoc": ("th-bach-sam-3a", "th-bach-sam-4b", "th-bach-sam-5a"),
    "thcs": ("thcs-bach-sam-6a", "thcs-bach-sam-7b", "thcs-bach-sam-8c"),
}
AGES = {"tieu-hoc": (8, 9, 10), "thcs": (11, 12, 13)}


@dataclass(frozen=True)
class Entrant:
    full_name: str
    age: int
    unit: str
    consent: str
    title: str
    quality: float  # share of full marks every judge gives


def entrants(count: int) -> list[Entrant]:
    """Half in each division; the quality falls with the number, so the first ones win."""
    made = []
    for number in range(count):
        division = "tieu-hoc" if number % 2 == 0 else "thcs"
        name = NAMES[number % len(NAMES)]
        if number >= len(NAMES):
            name = f"{name} {number // len(NAMES) + 1}"
        made.append(
            Entrant(
                full_name=name,
                age=AGES[division][number % 3],
                unit=CLASSES[division][number % 3],
                consent=CONSENTS[number % len(CONSENTS)],
                title=f"Bức tranh số {number + 1}",
                quality=max(0.0, 1.0 - number / max(count, 1)),
            )
        )
    return made


def drawing(number: int) -> bytes:
    """A different small drawing for each entry: sky, grass, a sun, a house."""
    from PIL import Image, ImageDraw

    sky = (120 + (number * 37) % 120, 180 + (number * 11) % 60, 255)
    image = Image.new("RGB", (800, 600), sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 380, 800, 600), fill=(80 + (number * 13) % 60, 160, 70))
    x = 80 + (number * 53) % 600
    draw.ellipse((x, 50, x + 110, 160), fill=(255, 200, 40))
    draw.polygon([(200, 380), (320, 250), (440, 380)], fill=(190, 70 + number % 100, 60))
    draw.rectangle((230, 380, 410, 500), fill=(240, 230, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- making the data -------------------------------------------------------------------------


def contest_command(env: Mapping[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "contest"), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"contest {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


async def submit_and_judge(env: Mapping[str, str], people: list[Entrant]) -> None:
    """Submit a drawing per entrant through the intake services, then let every assigned demo
    judge submit a score: each entry gets its entrant's quality from every judge."""
    from sqlalchemy import select

    from contest.app import JOB_KINDS
    from contest.jobs.worker import run_queued
    from contest.models import Assignment, AssignmentStatus, Criterion, Entry, User
    from judging import services as judging
    from judging.scoring import POINT_STEP

    async with services_for(env, CONTEST) as services:
        settings, sessionmaker, contest = services.settings, services.sessionmaker, services.contest
        quality: dict[int, float] = {}
        for number, person in enumerate(people):
            submitted = await submit_file(
                services,
                data=drawing(number),
                filename=f"tranh-{number + 1}.png",
                fields={
                    "full_name": person.full_name,
                    "age": str(person.age),
                    "unit": person.unit,
                    "guardian_name": "Phụ huynh",
                    "guardian_phone": "0912345678",
                    "consent": person.consent,
                    # The child's own box, ticked by the child.
                    "child_consent": "on",
                    "title": person.title,
                    "book": str(contest.books[number % len(contest.books)].id),
                    # The privacy notice's box, ticked by the parent.
                    "agreement": "on",
                },
            )
            quality[submitted.entry.id] = person.quality
        # Their previews and thumbnails, as a worker makes them.
        await run_queued(settings, JOB_KINDS)
        async with sessionmaker() as session:
            await judging.run_assignment(session, contest_id=contest.id, actor=None)
            await session.commit()
            criteria = (
                await session.scalars(select(Criterion).where(Criterion.contest_id == contest.id))
            ).all()
            rows = (
                await session.execute(
                    select(Assignment, User, Entry)
                    .join(User, User.id == Assignment.judge_id)
                    .join(Entry, Entry.id == Assignment.entry_id)
                    .where(
                        Entry.contest_id == contest.id,
                        Assignment.status == AssignmentStatus.ASSIGNED,
                    )
                )
            ).all()
            for assignment, judge, entry in rows:
                # The demo's own drawing (not ours) gets a middling score.
                share = quality.get(entry.id, 0.5)
                points = {
                    c.key: round(share * c.max_points / POINT_STEP) * POINT_STEP for c in criteria
                }
                await judging.save_score(
                    session,
                    assignment_id=assignment.id,
                    judge=judge,
                    points=points,
                    comment="",
                    feedback="Bức tranh có màu sắc tươi sáng.",
                    submit=True,
                )
            await session.commit()


def prepare(env: Mapping[str, str], people: list[Entrant]) -> None:
    """The demo event with the drawing contest judged and its results published."""
    contest_command(env, "demo")

    def run() -> None:
        asyncio.run(submit_and_judge(env, people))

    # A thread of its own: the caller may already run an event loop (a browser test does).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()
    contest_command(env, "results", "compute", CONTEST)
    contest_command(env, "results", "publish", CONTEST)


# --- serving -----------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(
    command: list[str], env: Mapping[str, str], url: str, log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; ``url`` answering (any status) means it is up."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env=dict(env), stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(url, timeout=1)
                    break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield server
        finally:
            stop(server)


BARE_APP = '''
"""One route returning prebuilt bytes: the least an ASGI page can cost on this uvicorn."""
from pathlib import Path
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(__file__).with_name("page.html").read_bytes()


async def page(request):
    return Response(BODY, media_type="text/html")


app = Starlette(routes=[Route("/", page)])
'''


IN_PROCESS = '''
"""Microseconds of Python per gallery request, app against bare, with no sockets and no wrk:
a figure the machine's noise hardly moves. Run with the bench's environment."""
import asyncio, json, sys, time
from pathlib import Path
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from contest.app import create_app

PATH, REQUESTS = sys.argv[1], int(sys.argv[2])
BODY = Path(sys.argv[3]).read_bytes()
LIFESPAN: dict = {}


async def page(request):
    return Response(BODY, media_type="text/html")


def scope(path):
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 80), "state": dict(LIFESPAN)}


async def run(app, path, count):
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    answers = []
    async def send(message):
        answers.append(message)
    started = time.perf_counter()
    for _ in range(count):
        await app(scope(path), receive, send)
    elapsed = time.perf_counter() - started
    # The same page (its links name this made-up host, so its bytes differ a little).
    assert answers[0]["status"] == 200 and abs(len(answers[1]["body"]) - len(BODY)) < 2000
    return elapsed / count * 1e6


async def main():
    contest = create_app()
    messages = asyncio.Queue()
    await messages.put({"type": "lifespan.startup"})
    started = asyncio.Event()
    async def send(message):
        started.set()
    lifespan = asyncio.create_task(
        contest({"type": "lifespan", "asgi": {"version": "3.0"}, "state": LIFESPAN},
                messages.get, send))
    await started.wait()
    app = ProxyHeadersMiddleware(contest, trusted_hosts="127.0.0.1")
    bare = ProxyHeadersMiddleware(Starlette(routes=[Route("/", page)]), trusted_hosts="127.0.0.1")
    await run(app, PATH, 1000)  # renders and keeps the copy
    figures = {"app": [], "bare": []}
    for _ in range(3):
        figures["app"].append(await run(app, PATH, REQUESTS))
        figures["bare"].append(await run(bare, "/", REQUESTS))
    print(json.dumps({name: min(values) for name, values in figures.items()}))
    await messages.put({"type": "lifespan.shutdown"})
    await lifespan


asyncio.run(main())
'''


# --- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    rps: float
    p99_ms: float
    non_2xx: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def run_wrk(url: str, *, seconds: float, connections: int, threads: int) -> Figures:
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "5s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    if rps is None or p99 is None:
        raise RuntimeError(f"unreadable wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    non_2xx = int(bad.group(1)) if bad else 0
    return Figures(float(rps.group(1)), _milliseconds(p99.group(1)), non_2xx)


def measure(url: str, args: argparse.Namespace) -> Figures:
    run_wrk(url, seconds=args.warmup, connections=args.connections, threads=args.threads)
    return run_wrk(url, seconds=args.duration, connections=args.connections, threads=args.threads)


def in_process(env: Mapping[str, str], tmp: Path, requests: int = 20_000) -> dict[str, float]:
    """µs per request through the whole app and through the bare route, best of 3 runs each."""
    script = tmp / "in_process.py"
    script.write_text(textwrap.dedent(IN_PROCESS))
    out = subprocess.run(
        [sys.executable, str(script), GALLERY_PATH, str(requests), str(tmp / "page.html")],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the in-process measurement failed:\n{out.stderr}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def check_page(base_url: str) -> bytes:
    """The page answers 200 with winners whose thumbnails load: what the bench serves is real."""
    page = httpx.get(base_url + GALLERY_PATH, timeout=10)
    if page.status_code != 200:
        raise SystemExit(f"the gallery answered {page.status_code}")
    thumbnails = re.findall(r'<img src="([^"]+)"', page.text)
    if not thumbnails:
        raise SystemExit("the gallery shows no thumbnail")
    image = httpx.get(thumbnails[0].replace("&amp;", "&"), timeout=10)
    if image.status_code != 200 or not image.content.startswith(b"\xff\xd8"):
        raise SystemExit(f"a thumbnail does not load ({image.status_code})")
    winners = page.text.count('<li class="winner')
    print(f"gallery page: {len(page.content):,} bytes, {winners} winners, {len(thumbnails)} images")
    return page.content


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=24, help="drawings submitted and judged")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per timed run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per side")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=3, help="app-then-bare rounds (median)")
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--storage-url", help="default: a local folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench/gallery.py needs wrk: sudo apt-get install -y wrk (Debian/Ubuntu)",
            file=sys.stderr,
        )
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as folder:
        tmp = Path(folder)
        app_port, bare_port = free_port(), free_port()
        app_url = f"http://127.0.0.1:{app_port}"
        env = {
            **os.environ,
            "CONTEST_DATA_DIR": str(tmp / "data"),
            "CONTEST_BASE_URL": app_url,
            "CONTEST_SECRET_KEY": "bench-gallery-secret",
            "CONTEST_DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'contest.sqlite3'}",
        }
        if args.storage_url:
            env["CONTEST_STORAGE_URL"] = args.storage_url
        started = time.monotonic()
        prepare(env, entrants(args.entries))
        print(
            f"data: demo + {args.entries} drawings judged and published in "
            f"{time.monotonic() - started:.1f} s"
        )
        flags = ["--host", "127.0.0.1", "--forwarded-allow-ips", "127.0.0.1"]
        app_command = [str(BIN / "contest"), "serve", "--port", str(app_port), *flags]
        with serving(app_command, env, app_url + "/healthz", tmp / "app.log"):
            body = check_page(app_url)
            (tmp / "page.html").write_bytes(body)
            (tmp / "bare_app.py").write_text(textwrap.dedent(BARE_APP))
            # What ``contest serve`` passes to uvicorn.run, on the command line.
            bare_command = [
                sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
                *flags, "--proxy-headers", "--workers", "1", "--log-level", "info",
            ]  # fmt: skip
            bare_url = f"http://127.0.0.1:{bare_port}"
            with serving(bare_command, env, bare_url + "/", tmp / "bare.log", cwd=tmp):
                same = httpx.get(bare_url + "/", timeout=10).content
                assert len(same) == len(body)
                print(
                    f"wrk: {args.connections} connections, {args.threads} thread(s); "
                    f"{args.rounds} round(s) of app then bare, each {args.warmup:g} s warm-up "
                    f"+ {args.duration:g} s"
                )
                rounds = []
                for number in range(1, args.rounds + 1):
                    app = measure(app_url + GALLERY_PATH, args)
                    bare = measure(bare_url + "/", args)
                    rounds.append((app, bare))
                    print(
                        f"  round {number}: app {app.rps:7.0f} req/s p99 {app.p99_ms:7.1f} ms | "
                        f"bare {bare.rps:7.0f} req/s p99 {bare.p99_ms:7.1f} ms | "
                        f"ratio {app.rps / bare.rps:.2f}x"
                    )
                    if app.non_2xx or bare.non_2xx:
                        print(f"  non-2xx answers: app {app.non_2xx}, bare {bare.non_2xx}")
        micro = in_process(env, tmp)
    app_rps = statistics.median(a.rps for a, _ in rounds)
    bare_rps = statistics.median(b.rps for _, b in rounds)
    app_p99 = statistics.median(a.p99_ms for a, _ in rounds)
    bare_p99 = statistics.median(b.p99_ms for _, b in rounds)
    # Each round's two runs are minutes apart at most: their ratio shares the machine's mood.
    ratio = statistics.median(a.rps / b.rps for a, b in rounds)
    print(f"median of {len(rounds)} round(s):")
    print(f"app  (contest serve, gallery): {app_rps:9.0f} req/s   p99 {app_p99:7.1f} ms")
    print(f"bare (Starlette, same bytes):  {bare_rps:9.0f} req/s   p99 {bare_p99:7.1f} ms")
    print(
        f"ratio app/bare: {ratio:.2f}x (goal >= {RATIO_GOAL}x: "
        f"{'met' if ratio >= RATIO_GOAL else 'NOT met'}); "
        f"app p99 {app_p99:.1f} ms (goal < {P99_GOAL_MS:g} ms: "
        f"{'met' if app_p99 < P99_GOAL_MS else 'NOT met'})"
    )
    print(
        f"in process, no sockets (best of 3 x 20,000): app {micro['app']:.1f} us/request,"
        f" bare {micro['bare']:.1f} us/request ({micro['bare'] / micro['app']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
