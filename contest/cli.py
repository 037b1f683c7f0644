"""The ``contest`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from contest.i18n import gettext, set_locale
from contest.settings import ConfigError, Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"contest: {exc}") from None
    # Messages printed by the command speak the platform's default language.
    set_locale(settings.locale)
    return settings


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from contest.migrate import upgrade

    upgrade(_settings().database_url)
    print("Database is up to date.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from contest.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    consumer = None
    if args.worker or (settings.embedded_queue and not args.no_worker):
        from contest.app import JOB_KINDS
        from contest.jobs.queue import JobQueue

        # With the queue in the data dir, this process works through it too: a ward's one
        # machine needs nothing else running.
        consumer = JobQueue(settings, JOB_KINDS).consumer(workers=1)
        consumer.start()
    # Workers import asgi:app themselves and read the same environment.
    uvicorn.run(
        "asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        log_level="info",
    )
    if consumer is not None:
        consumer.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from contest.db import create_engine, create_sessionmaker
    from contest.demo import load_demo
    from contest.migrate import upgrade
    from storage import storage_from_url

    settings = _settings()
    upgrade(settings.database_url)

    async def run() -> None:
        engine = create_engine(settings.database_url)
        storage = storage_from_url(
            settings.storage_url, secret_key=settings.secret_key, base_url=settings.base_url
        )
        try:
            report = await load_demo(sessionmaker=create_sessionmaker(engine), storage=storage)
        finally:
            await storage.aclose()
            await engine.dispose()
        print(f"Demo event: {report.event_name} ({report.created} new records)")
        print(f"Demo accounts (password: {report.password}):")
        for email, name, role in report.logins:
            print(f"  {role:<12} {email:<28} {name}")

    asyncio.run(run())
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from contest.accounts import services
    from contest.accounts.interfaces import InvalidPasswordError, UserExistsError
    from contest.models import Role

    settings = _settings()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None

    async def work(session: AsyncSession) -> str:
        user, token = await services.invite_user(
            session,
            secret_key=settings.secret_key,
            email=args.email,
            name=args.name or args.email.split("@")[0],
            role=Role(args.role),
            unit_codes=args.unit,
            actor_label="cli",
        )
        if password is not None:
            await services.set_password(session, user=user, password=password)
            await session.commit()
            return f"Password set for {user.email} ({user.role.value})."
        await session.commit()
        return f"Invitation for {user.email}: {settings.base_url}/invite/{token}"

    try:
        print(_with_session(settings, work))
    except InvalidPasswordError as exc:
        raise SystemExit(f"contest: {exc}") from None
    except UserExistsError as exc:
        raise SystemExit(f"contest: {exc.email} already exists with another role") from None
    return 0


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[str]]) -> str:
    from contest.db import run_with_session

    return run_with_session(settings.database_url, work)


def _report_work(
    settings: Settings,
    work: Callable[[AsyncSession], Awaitable[str]],
    *,
    refused: type[Exception],
    say: Callable[[Exception], str],
    write: Callable[[str], object] = print,
) -> int:
    """Run the work and write what it returns; its one kind of refusal ends the command with
    a message instead of a traceback."""
    try:
        write(_with_session(settings, work))
    except refused as exc:
        raise SystemExit(f"contest: {say(exc)}") from None
    return 0


def cmd_event_load(args: argparse.Namespace) -> int:
    from contest.events.eventfile import EventFileError, load_event
    from contest.migrate import upgrade

    settings = _settings()
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"contest: cannot read {args.file}: {exc}") from None
    upgrade(settings.database_url)

    async def work(session: AsyncSession) -> str:
        event = await load_event(session, text=text, actor_label="cli")
        await session.commit()
        return f"Loaded event {event.slug}: {event.name}"

    return _report_work(
        settings, work, refused=EventFileError, say=lambda exc: f"{args.file}: {exc}"
    )


def cmd_event_dump(args: argparse.Namespace) -> int:
    from contest.events.eventfile import EventFileError, dump_event

    settings = _settings()

    async def work(session: AsyncSession) -> str:
        return await dump_event(session, slug=args.event)

    return _report_work(settings, work, refused=EventFileError, say=str, write=sys.stdout.write)


def cmd_storage_sweep(args: argparse.Namespace) -> int:
    from contest.intake.cli import run_sweep

    settings = _settings()
    report = asyncio.run(
        run_sweep(
            database_url=settings.database_url,
            storage_url=settings.storage_url,
            secret_key=settings.secret_key,
            base_url=settings.base_url,
            grace_hours=args.grace_hours,
        )
    )
    print(
        f"Swept {report.unattached_assets} unattached upload file(s) and "
        f"{report.withdrawn_assets} file(s) of withdrawn entries: "
        f"{report.objects_deleted} object(s) deleted, {report.failures} left for the next sweep; "
        f"{report.incomplete_uploads} unfinished upload(s) aborted."
    )
    return 1 if report.failures else 0


def _run_job_command(
    settings: Settings, *, kind: str, slug: str, wait: bool, done: Callable[[dict[str, Any]], str]
) -> str:
    """Start a contest's job as the pages do (see ``_run_job``)."""
    from contest.models import Contest
    from contest.results import services as results

    async def find(session: AsyncSession) -> int:
        contest = await session.scalar(
            select(Contest).where(Contest.slug == slug).order_by(Contest.id.desc())
        )
        if contest is None:
            raise SystemExit(f"contest: no contest is called {slug}")
        if kind.startswith("results_"):
            action = kind.removeprefix("results_")
            try:
                await results.ensure_may_start(session, contest_id=contest.id, action=action)
            except results.ResultsError as exc:
                raise SystemExit(f"contest: cannot {action} results: {exc}") from None
        return contest.id

    return _run_job(settings, kind=kind, find=find, wait=wait, done=done)


def _run_job(
    settings: Settings,
    *,
    kind: str,
    find: Callable[[AsyncSession], Awaitable[int | None]],
    params: dict[str, Any] | None = None,
    wait: bool,
    done: Callable[[dict[str, Any]], str],
) -> str:
    """Start a job (of the contest ``find`` gives, or of none) as the pages do, then either
    leave it to the workers (--no-wait) or run it in this process with a progress bar, and
    say how it ended."""
    from contest.app import JOB_KINDS
    from contest.db import create_engine, create_sessionmaker
    from contest.jobs.queue import JobQueue, start_job
    from contest.jobs.worker import execute_job
    from contest.models import Job, JobStatus
    from contest.results.cli import ProgressBar

    async def go() -> str:
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            async with sessionmaker() as session:
                contest_id = await find(session)
            queue = JobQueue(settings, JOB_KINDS) if not wait else None
            job = await start_job(
                sessionmaker, queue, kind=kind, contest_id=contest_id, params=params, actor=None
            )
            if not wait:
                return f"Job {job.id} queued ({kind}); a worker runs it."
            bar = ProgressBar(sys.stderr, gettext(JOB_KINDS[kind].label))
            runner = asyncio.create_task(execute_job(settings, job.id, JOB_KINDS))
            while True:
                async with sessionmaker() as session:
                    row = await session.get(Job, job.id)
                    assert row is not None
                    if row.progress_total:
                        bar(row.progress_done, row.progress_total)
                    if row.status in (JobStatus.DONE, JobStatus.FAILED) and runner.done():
                        break
                await asyncio.sleep(0.5)
            await runner
            if row.status == JobStatus.FAILED:
                raise SystemExit(f"contest: {row.error}")
            return done(row.result or {})
        finally:
            await engine.dispose()

    return asyncio.run(go())


def cmd_assign(args: argparse.Namespace) -> int:
    def done(result: dict[str, Any]) -> str:
        return (
            f"{result['new_assignments']} new assignments for {result['entries']} entries and "
            f"{result['judges']} judges; {result['shortfall_count']} entries lack judges."
        )

    print(
        _run_job_command(
            _settings(), kind="assign", slug=args.contest, wait=not args.no_wait, done=done
        )
    )
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    def done(result: dict[str, Any]) -> str:
        if args.results_command == "compute":
            prizes = ", ".join(f"{k}: {v}" for k, v in sorted(result["prizes"].items()))
            return (
                f"Ranked {result['entries']} entries of {args.contest} ({prizes or 'no prizes'})."
            )
        return f"Published {result['published']} results of {args.contest}."

    print(
        _run_job_command(
            _settings(),
            kind=f"results_{args.results_command}",
            slug=args.contest,
            wait=not args.no_wait,
            done=done,
        )
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from contest.app import JOB_KINDS
    from contest.jobs.queue import JobQueue
    from contest.jobs.worker import push_again
    from contest.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    queue = JobQueue(settings, JOB_KINDS)
    # Jobs left by a worker that died, or queued while no queue could be reached.
    push_again(settings, queue.push)
    queue.consumer(workers=args.threads).run()
    return 0


def _export(work: Callable[[], str], output: str) -> int:
    from contest.results.cli import ExportCommandError

    try:
        message = work()
    except ExportCommandError as exc:
        raise SystemExit(f"contest: {exc}") from None
    # With --output -, standard output carries the file alone.
    print(message, file=sys.stderr if output == "-" else sys.stdout)
    return 0


def cmd_export_results(args: argparse.Namespace) -> int:
    from contest.results.cli import export_results

    settings = _settings()
    return _export(
        lambda: export_results(settings, args.contest, args.output, args.format), args.output
    )


def cmd_export_report(args: argparse.Namespace) -> int:
    from contest.results.cli import export_report

    settings = _settings()
    return _export(lambda: export_report(settings, args.output, args.format), args.output)


def cmd_export_certificates(args: argparse.Namespace) -> int:
    from contest.results.cli import export_certificates

    settings = _settings()
    return _export(
        lambda: export_certificates(
            settings, contest_slug=args.contest, unit_code=args.unit, path=args.output
        ),
        args.output,
    )


def cmd_erase(args: argparse.Namespace) -> int:
    from contest.privacy.cli import PrivacyCommandError, erase, erasure_message

    settings = _settings()
    try:
        report = asyncio.run(erase(settings, receipt_code=args.receipt, reason=args.reason))
    except PrivacyCommandError as exc:
        raise SystemExit(f"contest: {exc}") from None
    print(erasure_message(report))
    return 1 if report.files_left else 0


def cmd_retention(args: argparse.Namespace) -> int:
    """The plan is listed here (a dry run does nothing more); the erasing is a job, run here
    with a progress bar, or left to the workers with --no-wait."""
    from contest.privacy.cli import retention, retention_lines, retention_summary
    from contest.privacy.jobs import retention_params

    settings = _settings()
    plan = asyncio.run(retention(settings, dry_run=True))
    lines = retention_lines(plan, dry_run=True)
    if args.dry_run:
        print("\n".join(lines))
        return 0
    print("\n".join(lines[:-1]))
    left: list[int] = []

    def done(result: dict[str, Any]) -> str:
        left.append(int(result["files_left"]))
        return retention_summary(result)

    async def no_contest(session: AsyncSession) -> None:
        return None

    print(
        _run_job(
            settings,
            kind="retention",
            find=no_contest,
            params=retention_params(dry_run=False),
            wait=not args.no_wait,
            done=done,
        )
    )
    return 1 if left and left[0] else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contest", description="Reading-week contest platform: writing, drawing, storytelling."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply pending migrations, then serve the app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies trusted for X-Forwarded-* headers (comma separated)",
    )
    queue_worker = serve.add_mutually_exclusive_group()
    queue_worker.add_argument(
        "--worker",
        action="store_true",
        help="also run background jobs in this process (the default with the local queue)",
    )
    queue_worker.add_argument(
        "--no-worker", action="store_true", help="leave background jobs to `contest worker`"
    )
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser(
        "worker", help="run background jobs from the queue (CONTEST_QUEUE_URL), until stopped"
    )
    worker.add_argument("--threads", type=int, default=1, help="jobs run at once (default 1)")
    worker.set_defaults(func=cmd_worker)

    assign = commands.add_parser(
        "assign", help="give every entry of a contest's open round its judges (as a job)"
    )
    assign.add_argument("contest", help="the contest's short name (slug)")
    assign.add_argument(
        "--no-wait", action="store_true", help="queue the job for a worker and return at once"
    )
    assign.set_defaults(func=cmd_assign)

    demo = commands.add_parser("demo", help="load the demo event, accounts and sample entries")
    demo.set_defaults(func=cmd_demo)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations").set_defaults(
        func=cmd_db_upgrade
    )
    user = commands.add_parser("user", help="accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser(
        "create", help="create a user and print an invitation link (or set a password)"
    )
    create.add_argument("email")
    create.add_argument("--role", required=True, choices=["admin", "coordinator", "judge"])
    create.add_argument("--name", default="")
    create.add_argument(
        "--unit", action="append", default=[], help="unit code (repeat for several)"
    )
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(func=cmd_user_create)

    export = commands.add_parser(
        "export", help="the organisers' files: results, the event report, certificates"
    )
    export_commands = export.add_subparsers(dest="export_command", required=True)
    output_help = "the file to write ('-' for standard output)"
    export_results = export_commands.add_parser(
        "results", help="a contest's results, one sheet per division (a draft before publication)"
    )
    export_results.add_argument("contest", help="the contest's short name (slug)")
    export_results.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    export_results.add_argument("--output", required=True, help=output_help)
    export_results.set_defaults(func=cmd_export_results)
    report = export_commands.add_parser(
        "report", help="the event report for the ward People's Committee and the education office"
    )
    report.add_argument("--format", choices=["xlsx", "pdf", "html"], default="pdf")
    report.add_argument("--output", required=True, help=output_help)
    report.set_defaults(func=cmd_export_report)
    certificates = export_commands.add_parser(
        "certificates", help="the published winners' certificates, one PDF page each"
    )
    which = certificates.add_mutually_exclusive_group(required=True)
    which.add_argument("--contest", help="every winner of this contest (its short name)")
    which.add_argument("--unit", help="every winner of this unit and the units below it (code)")
    certificates.add_argument("--output", required=True, help=output_help)
    certificates.set_defaults(func=cmd_export_certificates)

    storage = commands.add_parser("storage", help="file storage maintenance")
    storage_commands = storage.add_subparsers(dest="storage_command", required=True)
    sweep = storage_commands.add_parser(
        "sweep",
        help="remove uploads never attached to an entry (after a grace period) "
        "and the files of withdrawn entries",
    )
    sweep.add_argument(
        "--grace-hours",
        type=float,
        default=24.0,
        help="keep unattached uploads younger than this (default 24)",
    )
    sweep.set_defaults(func=cmd_storage_sweep)

    results = commands.add_parser("results", help="rank, award and publish a contest")
    results_commands = results.add_subparsers(dest="results_command", required=True)
    for name, text in (
        ("compute", "rank each division and award prizes (a preview until published)"),
        ("publish", "publish the computed results in one step"),
    ):
        command = results_commands.add_parser(name, help=text)
        command.add_argument("contest", help="the contest's short name (slug)")
        command.add_argument(
            "--no-wait", action="store_true", help="queue the job for a worker and return at once"
        )
        command.set_defaults(func=cmd_results)

    erase = commands.add_parser(
        "erase",
        help="erase an entrant's personal data and files (the entry stays as an anonymous row)",
    )
    erase.add_argument("--receipt", required=True, help="the entry's receipt code")
    erase.add_argument("--reason", default="", help="why, for the audit log (no names)")
    erase.set_defaults(func=cmd_erase)

    retention = commands.add_parser(
        "retention", help="erase entries past their event's retention period"
    )
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    apply = retention_commands.add_parser(
        "apply",
        help="erase the personal data and files of entries that won no prize, once the "
        "event's retention_months have passed since their contest's publication (or its "
        "closing, if never published)",
    )
    apply_mode = apply.add_mutually_exclusive_group()
    apply_mode.add_argument(
        "--dry-run", action="store_true", help="list what would be erased, erase nothing"
    )
    apply_mode.add_argument(
        "--no-wait", action="store_true", help="queue the job for a worker and return at once"
    )
    apply.set_defaults(func=cmd_retention)

    event = commands.add_parser("event", help="an event's set-up as one YAML file")
    event_commands = event.add_subparsers(dest="event_command", required=True)
    load = event_commands.add_parser("load", help="create an event from a file")
    load.add_argument("file")
    load.set_defaults(func=cmd_event_load)
    dump = event_commands.add_parser("dump", help="print an event's set-up (the newest by default)")
    dump.add_argument("--event", default=None, help="the event's short name (slug)")
    dump.set_defaults(func=cmd_event_dump)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
