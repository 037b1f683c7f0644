"""Receipt codes and secret tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

# No 0/O, 1/I/L: a child reads the code to a teacher over the phone.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 8
# The header an API client sends an entry's edit token in.
EDIT_TOKEN_HEADER = "x-edit-token"  # noqa: S105 - a header name, not a secret
# API tokens start with this label, so a leaked one is recognisable in a log or a scan.
TOKEN_PREFIX = "ctk_"  # noqa: S105  (a label, not a secret)


def new_receipt_code() -> str:
    code = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalize_receipt_code(raw: str) -> str:
    """A receipt code as a person may type it (spaces, no dash, lower case) in its stored form."""
    compact = re.sub(r"[\s-]", "", raw).upper()
    return f"{compact[:4]}-{compact[4:]}" if len(compact) == 8 else compact


def new_secret_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a plain digest is as strong as a slow hash here.
    return hashlib.sha256(token.encode()).hexdigest()
