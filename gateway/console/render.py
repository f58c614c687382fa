"""Templates rendered with autoescape on, and every value made visible first.

``visible`` runs on every ``{{ … }}`` (jinja2's ``finalize``), before autoescaping: bidi
and other invisible control characters become visible escapes (``\\u202e``), so a
tracking text cannot reorder or hide what ops read. Nothing marks tenant or carrier data
safe; links are built only to our own routes.

Example:
    >>> visible("ok\\u202egnp.exe")
    'ok\\\\u202egnp.exe'
    >>> Renderer().environment.from_string("{{ x }}").render(x='"><img onerror=1>')
    '&#34;&gt;&lt;img onerror=1&gt;'
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from gateway.models import utc_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
_SHOWN = {"\t", "\n"}


def _escaped(char: str) -> str:
    if char in _SHOWN:
        return char
    if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
        code = ord(char)
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char


def visible(value: Any) -> Any:
    """Text with invisible and direction-changing characters shown as escapes; ``None``
    as an em dash; an instant in UTC to the second; anything else as it is."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return utc_text(value, to_second=True)
    if isinstance(value, str):
        return "".join(map(_escaped, value))
    return value


def segment(value: Any) -> str:
    """One path segment of our own routes, percent-encoded."""
    return quote(str(value), safe="")


class Renderer:
    """The console's jinja2 environment."""

    def __init__(self) -> None:
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            finalize=visible,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.filters["segment"] = segment

    def render(self, name: str, context: dict[str, Any]) -> str:
        """One page."""
        return self.environment.get_template(name).render(context)
