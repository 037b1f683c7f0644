"""HMAC signatures for the local backend's read URLs and upload policies."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

# Deriving a dedicated key keeps these signatures unusable anywhere else the app uses secret_key.
_KEY_CONTEXT = b"contest.storage.local.v1"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    key: str
    max_size: int
    expires: int


class Signer:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        self._key = hmac.new(secret_key.encode("utf-8"), _KEY_CONTEXT, hashlib.sha256).digest()

    def _mac(self, purpose: str, *parts: str) -> str:
        # JSON framing keeps field boundaries unambiguous; the purpose stops a signature made
        # for one use (say a policy) from being replayed as another (a read URL).
        message = json.dumps([purpose, *parts], separators=(",", ":")).encode("utf-8")
        return _b64encode(hmac.new(self._key, message, hashlib.sha256).digest())

    def sign_read(self, key: str, expires: int, filename: str, content_type: str) -> str:
        return self._mac("read", key, str(expires), filename, content_type)

    def verify_read(
        self, key: str, expires: str, filename: str, content_type: str, signature: str, now: float
    ) -> bool:
        if not expires.isdigit() or int(expires) < now:
            return False
        expected = self._mac("read", key, expires, filename, content_type)
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))

    def make_policy(self, policy: UploadPolicy) -> str:
        body = json.dumps(
            {"k": policy.key, "m": policy.max_size, "e": policy.expires}, separators=(",", ":")
        )
        payload = _b64encode(body.encode("utf-8"))
        return f"{payload}.{self._mac('upload', payload)}"

    def read_policy(self, token: str, now: float) -> UploadPolicy | None:
        """The policy if the token is authentic and unexpired, else None."""
        payload, _, signature = token.partition(".")
        expected = self._mac("upload", payload)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
            return None
        try:
            data = json.loads(_b64decode(payload))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        key, max_size, expires = data.get("k"), data.get("m"), data.get("e")
        if not (isinstance(key, str) and isinstance(max_size, int) and isinstance(expires, int)):
            return None
        if expires < now:
            return None
        return UploadPolicy(key=key, max_size=max_size, expires=expires)
