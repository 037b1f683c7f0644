"""The production password hash: argon2id at RFC 9106's low-memory cost (the test suite itself
runs at a lower cost, see tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys

from contest.accounts.passwords import verify_password


def test_the_app_hashes_with_argon2id_at_the_recommended_cost() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from contest.accounts.passwords import hash_password; print(hash_password('pw'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), hashed
    # A hash made at either cost is checked by its own parameters.
    assert verify_password(hashed, "pw")
    assert not verify_password(hashed, "other")
