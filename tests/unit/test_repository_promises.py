"""Promises about the code base itself: generated docs are fresh, no table Scan exists."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.carriers.discovery import load_adapters
from gateway.carriers.docs import render

ROOT = Path(__file__).resolve().parents[2]


def test_adapters_md_is_fresh() -> None:
    committed = (ROOT / "ADAPTERS.md").read_text()
    assert committed == render(load_adapters()), "ADAPTERS.md is stale: run `waybill adapters docs`"


def test_every_adapter_is_documented() -> None:
    text = (ROOT / "ADAPTERS.md").read_text()
    for adapter_id in load_adapters().adapters:
        assert f"(`{adapter_id}`)" in text


def test_no_scan_anywhere() -> None:
    pattern = re.compile(r"\.scan\(|[\"']Scan[\"']|get_paginator\([\"']scan")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("gateway", "adapters")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []
