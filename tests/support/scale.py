"""How hard the reliability suites push: fast in ``make test``, long in ``make soak``.

``make soak`` sets ``WAYBILL_SOAK=1``; the same tests then run with the larger counts.
Every count is a bound: no suite loops without one.

>>> scaled(fast=10, soak=1000, environ={})
10
>>> scaled(fast=10, soak=1000, environ={"WAYBILL_SOAK": "1"})
1000
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def soaking(environ: Mapping[str, str] | None = None) -> bool:
    """True under ``make soak``."""
    return (os.environ if environ is None else environ).get("WAYBILL_SOAK", "") == "1"


def scaled(fast: int, soak: int, environ: Mapping[str, str] | None = None) -> int:
    """``fast`` in the normal suite, ``soak`` under ``make soak``."""
    return soak if soaking(environ) else fast
