"""Configuration from the environment.

Every variable is optional: with nothing set the platform runs on a SQLite file and an upload
folder under ``./var``, and generates its secret key there on first run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class ConfigError(Exception):
    """A setting is wrong; the message is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    secret_key: str
    base_url: str
    locale: str
    # Without CONTEST_BASE_URL, links to the app's own files and pages follow the address each
    # request reached the app at (another port, the machine's address on the school's network);
    # base_url then only serves the command line.
    base_url_configured: bool = True
    # Where background jobs wait for a worker: a SQLite file in the data dir (the default, run
    # by ``contest serve`` itself) or a Redis server shared by ``contest worker`` processes.
    queue_url: str = ""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("CONTEST_DATA_DIR") or "./var").resolve()
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"CONTEST_DATA_DIR: cannot create {data_dir}: {exc.strerror}"
            ) from exc

        database_url = parse_database_url(
            env.get("CONTEST_DATABASE_URL") or f"sqlite:///{data_dir / 'contest.sqlite3'}"
        )
        storage_url = parse_storage_url(
            env.get("CONTEST_STORAGE_URL") or f"file://{data_dir / 'uploads'}"
        )
        locale = env.get("CONTEST_LOCALE") or DEFAULT_LOCALE
        if locale not in SUPPORTED_LOCALES:
            raise ConfigError(
                f"CONTEST_LOCALE: {locale!r} is not one of {', '.join(SUPPORTED_LOCALES)}"
            )
        base_url = (env.get("CONTEST_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise ConfigError(f"CONTEST_BASE_URL: {base_url!r} is not an http(s) URL")
        secret_key = env.get("CONTEST_SECRET_KEY") or _stored_secret_key(data_dir)
        queue_url = env.get("CONTEST_QUEUE_URL") or ""
        if queue_url:
            queue_url = parse_queue_url(queue_url)
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            storage_url=storage_url,
            secret_key=secret_key,
            base_url=base_url,
            locale=locale,
            base_url_configured=bool(env.get("CONTEST_BASE_URL")),
            queue_url=queue_url,
        )

    @property
    def job_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{self.data_dir / 'queue.sqlite3'}"

    @property
    def embedded_queue(self) -> bool:
        """A queue in a local file, which the serving process works through itself."""
        return self.job_queue_url.startswith("sqlite")


def parse_database_url(raw: str) -> str:
    """Check a database URL and give it the async driver the app uses."""
    try:
        url: URL = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(f"CONTEST_DATABASE_URL: {raw!r} is not a database URL") from exc
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError(
            f"CONTEST_DATABASE_URL: unsupported database {url.drivername!r}"
            " (use sqlite:///PATH or postgresql://USER@HOST/DB)"
        )
    if driver.startswith("postgresql") and not url.database:
        raise ConfigError("CONTEST_DATABASE_URL: the PostgreSQL URL names no database")
    if driver.startswith("sqlite") and not url.database:
        raise ConfigError("CONTEST_DATABASE_URL: the SQLite URL names no file")
    return url.set(drivername=driver).render_as_string(hide_password=False)


def parse_storage_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "file":
        if not (parts.netloc + parts.path):
            raise ConfigError("CONTEST_STORAGE_URL: the file:// URL names no folder")
        return raw
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError("CONTEST_STORAGE_URL: the s3:// URL names no bucket")
        unknown = set(parse_qs(parts.query)) - {"endpoint_url", "region"}
        if unknown:
            raise ConfigError(
                f"CONTEST_STORAGE_URL: unknown option {sorted(unknown)[0]!r}"
                " (allowed: endpoint_url, region)"
            )
        return raw
    raise ConfigError(
        f"CONTEST_STORAGE_URL: unsupported scheme {parts.scheme!r} (use file://PATH or s3://BUCKET)"
    )


def parse_queue_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "sqlite" and parts.path.strip("/"):
        return raw
    if parts.scheme in ("redis", "rediss") and parts.netloc:
        return raw
    raise ConfigError(
        f"CONTEST_QUEUE_URL: {raw!r} is not a queue URL (use redis://HOST:PORT/DB or sqlite:///PATH)"
    )


def _stored_secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    # Written aside, then linked into place: when several workers start at once exactly one
    # key wins and nobody reads a half-written file.
    tmp = data_dir / f".secret_key.{os.getpid()}"
    tmp.write_text(secrets.token_urlsafe(48))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
