"""Unpadded base64url (RFC 4648 §5), read only in the one spelling this module writes.

A lenient decoder drops characters outside the alphabet, accepts padding, and ignores
the unused low bits of the last character, so many texts decode to the same bytes; a
signed token or cursor must not have twins, so :func:`decode` refuses all but one.

Example:
    >>> encode(b"hi"), decode("aGk")
    ('aGk', b'hi')
    >>> decode("aGl")  # the same bytes, with an unused bit set
    Traceback (most recent call last):
    ...
    ValueError: not canonical base64url
"""

from __future__ import annotations

import base64
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def encode(data: bytes) -> str:
    """``data`` as unpadded base64url text."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode(text: str) -> bytes:
    """The bytes of ``text`` if it is exactly what :func:`encode` writes; ValueError if not."""
    if not _ALPHABET.fullmatch(text):
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if encode(data) != text:
        raise ValueError("not canonical base64url")
    return data
