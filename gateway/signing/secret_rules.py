"""What a stored secret must be for a scheme to use it: said in words, and checked.

A scheme declares its rule (:func:`spec_rule` derives it from a
:class:`~gateway.signing.spec.SignatureSpec`; other primitives name theirs, e.g. the
bearer tokens' client secret), so ``waybill secrets set`` refuses a value the scheme
could never verify with instead of storing it and failing every delivery. A refusal
says what is expected, never the value.

- every secret: text without control characters (surrounding whitespace is refused
  where secrets are stored: :func:`gateway.tenancy.keysets.check_value`);
- ``whsec_base64`` (Standard Webhooks and partners signing like it): ``whsec_`` and the
  base64 of at least :data:`MIN_WHSEC_BYTES` bytes, the spec's floor ("between 24 and 64
  bytes"); the ``standard_webhooks`` kind also takes a partner's Ed25519 public key
  (``whpk_``), never a private one (``whsk_``: it signs, it cannot verify);
- other forms: any such text (the carrier chose it).

Example (the secret is the published Standard Webhooks test vector, not a real one):
    >>> rule = spec_rule(SignatureSpec(kind="standard_webhooks", secret_form="whsec_base64"))
    >>> rule.problem("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") is None
    True
    >>> rule.problem("whsec_abc")
    'secrets are whsec_ followed by base64 of at least 24 bytes (a 2-byte key here)'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import SignatureError
from gateway.signing.ed25519 import public_key
from gateway.signing.hmacs import SecretForm, key_bytes
from gateway.signing.spec import SignatureSpec

MIN_WHSEC_BYTES = 24
"""Standard Webhooks: a symmetric secret is random, "between 24 bytes and 64 bytes"."""
Check = Callable[[str], "str | None"]


@dataclass(frozen=True)
class SecretRule:
    """``expected`` in words; ``check(value)`` says what is wrong, or ``None`` when usable.

    ``form`` is how ``--generate`` writes a fresh one
    (:func:`~gateway.tenancy.keysets.generate_secret`).
    """

    expected: str
    check: Check | None = None
    form: SecretForm = "raw"

    def problem(self, value: str) -> str | None:
        """Why ``value`` cannot be used (the expected form, never the value), or ``None``."""
        if any(unicodedata.category(c) == "Cc" for c in value):
            return "secrets hold no control characters (tab, newline, …)"
        return self.check(value) if self.check is not None else None


def text_rule(min_chars: int = 1) -> SecretRule:
    """Any text of at least ``min_chars`` characters.

    >>> text_rule(16).problem("short")
    'secrets are text of at least 16 characters'
    """
    at_least = f" of at least {min_chars} characters" if min_chars > 1 else ""
    expected = f"secrets are text{at_least}"

    def check(value: str) -> str | None:
        return None if len(value) >= min_chars else expected

    return SecretRule(expected, check)


def _whsec(value: str) -> str | None:
    expected = f"secrets are whsec_ followed by base64 of at least {MIN_WHSEC_BYTES} bytes"
    try:
        size = len(key_bytes(value, "whsec_base64"))
    except SignatureError:
        return expected
    return None if size >= MIN_WHSEC_BYTES else f"{expected} (a {size}-byte key here)"


def _standard(value: str) -> str | None:
    if value.startswith("whsk_"):
        return "secrets are never whsk_ private keys (they sign): store the partner's whpk_ key"
    if value.startswith("whpk_"):
        try:
            public_key(value)
        except SignatureError:
            return "public keys are whpk_ followed by a base64 32-byte Ed25519 key"
        return None
    return _whsec(value)


def spec_rule(spec: SignatureSpec) -> SecretRule:
    """The rule of a spec's secrets, from its kind and secret form."""
    if spec.kind == "standard_webhooks":
        return SecretRule("whsec_ and base64, or a whpk_ public key", _standard, "whsec_base64")
    if spec.secret_form == "whsec_base64":  # noqa: S105 - a form name, not a secret
        return SecretRule("whsec_ and base64", _whsec, "whsec_base64")
    return text_rule()
