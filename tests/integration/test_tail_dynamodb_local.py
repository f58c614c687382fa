"""``waybill serve`` and ``waybill tail`` as real processes: the server's default log is
one human line per request (no EMF blob, no Lambda ARN), and tails started before a
delivery see it, as JSON, filtered by tenant and outcome."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import REPO, WAYBILL, served, waybill

pytestmark = pytest.mark.integration

FIXTURES = REPO / "tests" / "fixtures" / "tenants"
UNREADABLE = b'{"description": "tracker.updated", "result": "x"}'


class Tailing:
    """A ``waybill tail`` process, its output in files, started once it follows."""

    def __init__(self, tmp: Path, name: str, *argv: str) -> None:
        self.out, self.err = tmp / f"{name}.out", tmp / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [WAYBILL, "tail", *argv], cwd=REPO, stdout=out, stderr=err
            )
        deadline = time.monotonic() + 60
        while "Following" not in self.err.read_text() and time.monotonic() < deadline:
            assert self.process.poll() is None, self.err.read_text()
            time.sleep(0.05)

    def finish(self, timeout: float = 60) -> list[str]:
        """Its exit code checked, its stdout lines."""
        try:
            assert self.process.wait(timeout=timeout) == 0, self.err.read_text()
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return self.out.read_text().splitlines()


def test_serve_prints_human_lines_and_tail_follows_deliveries(tmp_path: Path) -> None:
    state = tmp_path / "state"
    common = ("--state-dir", str(state))
    with served(state, "--in-memory") as server:
        assert waybill("secrets", "set", "demo", "easypost", "--generate", *common).returncode == 0
        url = ("--url", server.url)
        before = waybill("send", "easypost", "event_tracker_updated_delivered_no_details_built",
                         "--tenant", "demo", *url, *common)  # fmt: skip
        assert before.stdout.startswith("200 "), before  # stored before the tails: not shown
        accepted = Tailing(tmp_path, "accepted", "demo", "--json", "--outcome", "accepted",
                           "--count", "1", "--for", "60", *common)  # fmt: skip
        parked = Tailing(tmp_path, "parked", "demo", "--outcome", "parked", "--count", "1",
                         "--for", "60", *common)  # fmt: skip
        others = Tailing(tmp_path, "others", "acme", "--tenants-dir", str(FIXTURES),
                         "--for", "8", *common)  # fmt: skip
        sent = waybill("send", "easypost", "event_tracker_updated_full_history", "--tenant", "demo",
                       *url, *common)  # fmt: skip
        assert sent.stdout.startswith("200 "), sent
        (tmp_path / "bad.json").write_bytes(UNREADABLE)
        sent = waybill("send", "easypost", str(tmp_path / "bad.json"), "--tenant", "demo", *url,
                       *common)  # fmt: skip
        assert sent.stdout.startswith("202 "), sent
        refused = httpx.post(f"{server.url}/webhooks/demo/easypost", json={}, timeout=10)
        assert refused.status_code == 401

        (line,) = accepted.finish()
        seen = json.loads(line)
        assert (seen["tenant"], seen["carrier"], seen["outcome"], seen["code"]) == (
            "demo", "easypost", "accepted", "events",
        )  # fmt: skip
        assert (seen["tracking_numbers"], seen["count"]) == (["EZ1000000001"], 9)
        (line,) = parked.finish()
        assert re.fullmatch(
            r"\d\d:\d\d:\d\dZ  demo  easypost  parked  ParseError: Event.result is not an object",
            line,
        ), line
        assert others.finish() == []  # another tenant's tail sees none of it
        log = server.output()
    path = "POST /webhooks/demo/easypost"
    assert re.search(rf"^\d\d:\d\d:\d\dZ {path} 200 accepted \d+ms$", log, re.M), log
    assert re.search(
        rf"^\d\d:\d\d:\d\dZ {path} 202 parked \d+ms  ParseError: Event.result is not an object$",
        log,
        re.M,
    ), log
    assert re.search(rf"^\d\d:\d\d:\d\dZ {path} 401 signature_missing \d+ms  .+$", log, re.M), log
    assert "_aws" not in log and "arn:aws:lambda" not in log and "{" not in log
