"""The carrier fixtures under ``tests/fixtures/<carrier>/``: bodies and their sidecars.

A body ``<name>.json`` holds the exact bytes a carrier posts; ``<name>.meta.json`` says
where it came from, ``<name>.expected.json`` what it parses to, and ``<name>.headers.json``
(optional) the non-signature headers the carrier sends with it.

>>> [p.name for p in body_paths("easypost")][:1]
['batch_created_docs_example.json']
>>> carrier_headers(FIXTURES / "easypost" / "batch_created_docs_example.json")
{}
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
SIDECARS = (".meta.json", ".expected.json", ".headers.json")


def body_paths(carrier: str) -> list[Path]:
    """Every body fixture of a carrier (sidecars excluded), sorted."""
    folder = FIXTURES / carrier
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(SIDECARS))


def carrier_headers(body_path: Path) -> dict[str, str]:
    """The non-signature headers the carrier sends with this body (may be empty)."""
    sidecar = body_path.with_name(body_path.name.removesuffix(".json") + ".headers.json")
    return dict(json.loads(sidecar.read_text("utf-8"))) if sidecar.exists() else {}
