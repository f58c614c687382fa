"""``--json`` for every list and show command: one option, one printer, one time format.

A command that lists or shows something takes :func:`add_json_option` and, when
``args.json`` is set, prints one document with :func:`print_json` instead of its lines.
Documents have stable keys (absent values are ``null``, never missing), instants in
:func:`gateway.models.utc_text` form, and secrets only as the text output shows them
(masked unless ``--reveal``).

Example:
    >>> from datetime import UTC, datetime
    >>> print_json({"at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "n": 1})
    {
      "at": "2025-01-02T03:04:05Z",
      "n": 1
    }
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from gateway.models import utc_text


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """The one ``--json`` option of the list and show commands."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (stable keys) instead"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def print_json(document: Any) -> None:
    """Print ``document`` as indented JSON (instants, enums and paths as text)."""
    print(json.dumps(document, indent=2, default=_plain, ensure_ascii=False))
