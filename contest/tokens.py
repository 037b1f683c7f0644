"""Receipt codes and secret tokens."""

from __future__ import annotations

import hashlib
import secrets

# No 0/O, 1/I/L: a child reads the code to a teacher over the phone.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 8


def new_receipt_code() -> str:
    code = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def new_secret_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a plain digest is as strong as a slow hash here.
    return hashlib.sha256(token.encode()).hexdigest()
