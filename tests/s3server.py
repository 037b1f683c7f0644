"""S3 for the tests: moto's standalone server in a process of its own, over real HTTP.

One server per test session (its memory grows with what is stored, so buckets are removed after
each test); registered for every suite by tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

AWS_REGION = "us-east-1"
_AWS_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": AWS_REGION,
    # Never let a missing credential send boto3 off probing an instance metadata service.
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Real settings from a developer's shell must not leak into the tests.
_AWS_CLEARED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
MOTO_START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    """Dummy AWS credentials for the whole session; the previous environment is restored."""
    names = (*_AWS_DUMMY_ENV, *_AWS_CLEARED_ENV)
    saved = {name: os.environ.get(name) for name in names}
    for name in _AWS_CLEARED_ENV:
        os.environ.pop(name, None)
    os.environ.update(_AWS_DUMMY_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited early:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"moto_server did not answer within {MOTO_START_TIMEOUT}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server the tests started, and kill it when it does not end in 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_moto(log: Path) -> Iterator[str]:
    """A moto S3 server of its own on a free port until the block ends; its URL."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        pytest.fail(f"{executable} not found: install the test extras (moto[server])")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_answering(endpoint, process, log)
        yield endpoint
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def s3_endpoint(aws_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server running in a separate process for the whole session."""
    with running_moto(tmp_path_factory.mktemp("moto") / "moto_server.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Iterator[Any]:
    """A plain boto3 client, to arrange buckets and look behind the storage's back."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=AWS_REGION)
    yield client
    client.close()


def _empty_bucket(client: Any, bucket: str) -> None:
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_bucket(s3_client: Any) -> Iterator[str]:
    """A fresh, empty bucket for one test; emptied and removed afterwards (moto keeps RAM)."""
    bucket = f"test-{uuid.uuid4().hex[:24]}"
    s3_client.create_bucket(Bucket=bucket)
    yield bucket
    _empty_bucket(s3_client, bucket)
