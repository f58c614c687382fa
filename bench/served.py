"""``waybill serve --in-memory`` as a subprocess: the server :mod:`bench.load` loads.

:class:`ServedGateway` runs it on a free loopback port, with one tenant (its partner
secret and an API key set through the local stores) on a plan tier that does not
throttle, and stops it (with its DynamoDB Local) on every path.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[1]
#: A tier far above any benchmark's rate: the local edge never answers 429 here.
UNTHROTTLED_PLANS = """[bench]
rate = 10000
burst = 1000000
quota = 100000000
quota_period = "month"
hard_cap = 10000000
"""
_SERVE = "import sys; from gateway.cli import main; sys.exit(main(sys.argv[1:]))"
_LISTENING = re.compile(r"listening on (http://\S+)")


class ServedGateway:
    """``waybill serve`` in a subprocess: ``url``, ``endpoint`` (its DynamoDB Local),
    ``secret`` (the tenant's partner secret for ``carrier``) and ``api_key``.

    SIGINT stops it (it stops its DynamoDB Local itself); if it does not exit in time,
    it and the DynamoDB Local it started are killed.
    """

    def __init__(self, root: Path, tenant: str = "bench", carrier: str = "easypost") -> None:
        self.root, self.tenant, self.carrier = root, tenant, carrier
        self.state_dir = root / "state"
        self.url = self.endpoint = self.secret = self.api_key = ""
        self._process: subprocess.Popen[bytes] | None = None
        self.children: list[int] = []  # pids it started (its DynamoDB Local)

    @property
    def pid(self) -> int:
        """The server's process id (0 when not running)."""
        return 0 if self._process is None else self._process.pid

    def __enter__(self) -> ServedGateway:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _prepare(self) -> list[str]:
        """Tenant and plans files, the partner secret and an API key; the serve argv."""
        from gateway.tenancy.apikeys import LocalApiKeyStore
        from gateway.tenancy.keysets import generate_secret
        from gateway.tenancy.local_secrets import LocalSecretStore

        tenants = self.root / "tenants"
        tenants.mkdir(parents=True)
        (self.root / "plans.toml").write_text(UNTHROTTLED_PLANS)
        (tenants / f"{self.tenant}.toml").write_text(
            f'name = "Benchmark"\nplan = "bench"\nretention_days = 1\n\n'
            f"[carriers.{self.carrier}]\nenabled = true\n"
        )
        now = datetime.now(UTC)
        self.secret = generate_secret()
        LocalSecretStore(self.state_dir).set(self.tenant, self.carrier, self.secret, now=now)
        self.api_key = LocalApiKeyStore(self.state_dir).issue(self.tenant, now=now).plaintext
        return [sys.executable, "-c", _SERVE, "serve", "--port", "0", "--in-memory",
                "--state-dir", str(self.state_dir), "--tenants-dir", str(tenants)]  # fmt: skip

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait (bounded) until it says where it listens."""
        from gateway.local.runtime import read_runtime
        from gateway.tenancy.plans import PLANS_FILE_ENV

        argv = self._prepare()
        env = os.environ | {PLANS_FILE_ENV: str(self.root / "plans.toml")}
        log = self.root / "serve.log"
        with log.open("wb") as out:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed argv
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=REPO, env=env, start_new_session=True,  # Ctrl-C reaches us; we stop it
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            found = _LISTENING.search(log.read_text(errors="replace"))
            runtime = read_runtime(self.state_dir)
            if found and runtime:
                self.url, self.endpoint = found.group(1), runtime["dynamodb_endpoint"]
                self.children = _children(self._process.pid)
                return
            time.sleep(0.05)
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"waybill serve did not start within {timeout:g} s:\n{tail}")

    def stop(self) -> None:
        """SIGINT, wait up to 30 s, then kill it and its DynamoDB Local. Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)
        except BaseException:  # a timeout, or a second Ctrl-C: leave nothing running
            process.kill()
            process.wait(timeout=10)
            raise
        finally:
            for pid in self.children:  # only if still there: normally serve stopped it
                _kill_if(pid, "DynamoDBLocal")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc``); empty where unavailable."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _kill_if(pid: int, marker: str) -> None:
    """SIGKILL ``pid`` if it is still the process whose command line has ``marker``."""
    try:
        if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        return
