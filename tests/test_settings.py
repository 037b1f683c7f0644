from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contest.settings import ConfigError, Settings
from tests.support import run_contest_cli


def test_nothing_set_runs_on_sqlite_and_a_local_folder_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})

    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'contest.sqlite3'}"
    assert settings.storage_url == f"file://{tmp_path / 'var' / 'uploads'}"
    assert settings.locale == "vi"
    # The generated key is kept: sessions survive a restart.
    assert len(settings.secret_key) >= 40
    assert (tmp_path / "var" / "secret_key").read_text() == settings.secret_key
    assert Settings.from_env({}).secret_key == settings.secret_key
    assert oct((tmp_path / "var" / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_urls_get_the_async_drivers(tmp_path: Path) -> None:
    env = {
        "CONTEST_DATA_DIR": str(tmp_path),
        "CONTEST_DATABASE_URL": "postgresql://app:p%40ss@db.example/contest",
        "CONTEST_STORAGE_URL": "s3://entries?endpoint_url=http://127.0.0.1:9000&region=ap-southeast-1",
        "CONTEST_SECRET_KEY": "k",
        "CONTEST_LOCALE": "en",
    }
    settings = Settings.from_env(env)
    assert settings.database_url == "postgresql+asyncpg://app:p%40ss@db.example/contest"
    assert settings.storage_url.startswith("s3://entries?")
    assert settings.secret_key == "k"
    assert settings.locale == "en"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("CONTEST_DATABASE_URL", "not a url at all", "is not a database URL"),
        ("CONTEST_DATABASE_URL", "mysql://root@localhost/contest", "unsupported database"),
        ("CONTEST_DATABASE_URL", "postgresql://localhost", "names no database"),
        ("CONTEST_STORAGE_URL", "ftp://files.example/uploads", "unsupported scheme"),
        ("CONTEST_STORAGE_URL", "s3://?region=x", "names no bucket"),
        ("CONTEST_STORAGE_URL", "s3://bucket?endpoint=x", "unknown option"),
        ("CONTEST_LOCALE", "fr", "is not one of vi, en"),
        ("CONTEST_BASE_URL", "example.org", "is not an http(s) URL"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CONTEST_DATA_DIR": str(tmp_path), variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"], ["demo"]])
def test_the_command_stops_with_one_line_not_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    env = {"CONTEST_DATA_DIR": str(tmp_path), "CONTEST_DATABASE_URL": "oracle://x/y"}
    done = run_contest_cli(*command, env=env, timeout=60)
    assert done.returncode != 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        "contest: CONTEST_DATABASE_URL: unsupported database 'oracle'"
        " (use sqlite:///PATH or postgresql://USER@HOST/DB)"
    ]
    assert "Traceback" not in done.stderr + done.stdout


def test_uvicorn_asgi_app_stops_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "CONTEST_DATA_DIR": str(tmp_path), "CONTEST_STORAGE_URL": "gs://bucket"}
    done = subprocess.run(
        [sys.executable, "-c", "import asgi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "contest: CONTEST_STORAGE_URL: unsupported scheme 'gs' (use file://PATH or s3://BUCKET)"
    )
