"""Secrets people and machines present: argon2id password hashes and random bearer secrets.

Passwords are slow-hashed (argon2id through pwdlib); session and token secrets are 256 random
bits, so a fast SHA-256 digest is enough to store them without making a stolen table useful.
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_HASHER = PasswordHash((Argon2Hasher(),))
MIN_PASSWORD = 10


@functools.cache
def _dummy_hash() -> str:
    """A valid hash of a random password: checking an unknown username costs as much as a known
    one, so response times do not tell which usernames exist."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; as slow for a missing user as for a wrong password."""
    return _HASHER.verify(password, stored if stored is not None else _dummy_hash())


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
