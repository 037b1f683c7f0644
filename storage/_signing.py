"""Signatures for the local backend's read URLs and upload policies, made with itsdangerous."""

from __future__ import annotations

import json
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from itsdangerous import Signer as _ItsSigner

# A salt per use keeps a signature made for one (say a policy) from being replayed as another
# (a read URL), and these signatures unusable anywhere else the app uses secret_key.
_READ_SALT = "contest.storage.local.read.v2"
_UPLOAD_SALT = "contest.storage.local.upload.v2"


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    key: str
    max_size: int
    expires: int


class Signer:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        self._read = _ItsSigner(
            secret_key, salt=_READ_SALT, key_derivation="hmac", digest_method="sha256"
        )
        self._upload = URLSafeSerializer(
            secret_key,
            salt=_UPLOAD_SALT,
            signer_kwargs={"key_derivation": "hmac", "digest_method": "sha256"},
        )

    @staticmethod
    def _read_message(key: str, expires: str, filename: str, content_type: str) -> bytes:
        # JSON framing keeps field boundaries unambiguous.
        return json.dumps([key, expires, filename, content_type], separators=(",", ":")).encode()

    def sign_read(self, key: str, expires: int, filename: str, content_type: str) -> str:
        message = self._read_message(key, str(expires), filename, content_type)
        return self._read.get_signature(message).decode("ascii")

    def verify_read(
        self, key: str, expires: str, filename: str, content_type: str, signature: str, now: float
    ) -> bool:
        if not expires.isdigit() or int(expires) < now:
            return False
        message = self._read_message(key, expires, filename, content_type)
        return self._read.verify_signature(message, signature.encode("utf-8"))

    def make_policy(self, policy: UploadPolicy) -> str:
        return self._upload.dumps({"k": policy.key, "m": policy.max_size, "e": policy.expires})

    def read_policy(self, token: str, now: float) -> UploadPolicy | None:
        """The policy if the token is authentic and unexpired, else None."""
        try:
            data = self._upload.loads(token)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        key, max_size, expires = data.get("k"), data.get("m"), data.get("e")
        if not (isinstance(key, str) and isinstance(max_size, int) and isinstance(expires, int)):
            return None
        if expires < now:
            return None
        return UploadPolicy(key=key, max_size=max_size, expires=expires)
