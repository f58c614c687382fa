"""Cold init of the Lambdas, each in a fresh process, as a ratio to boto3 + one client.

A Lambda container's init imports the handler and builds its clients once. Each side
runs in its own fresh interpreter (``python -E -s -c …``, the same flags and the same
environment for every side), which times its own init work (CPU of the process and wall
clock, from before the first import to the built handler) and prints it:

- reference: ``import boto3`` + one DynamoDB client;
- ingest: ``gateway.api.app.make_handler(services_from_environment())``;
- authorizer: ``gateway.aws.authorizer.authorizer_from_environment()``;
- floor (no target): the reference + pydantic + Powertools' Logger, Metrics and REST
  resolver, which the ingest handler cannot do without.

The environment names a table, a secrets prefix, ``CURSOR_KEY`` (no Secrets Manager
call), dummy credentials and a DynamoDB endpoint on a closed loopback port: init must do
no network I/O, which an audit-hook run checks (and reports) for each side. Every side
runs once untimed first, so ``.pyc`` files are compiled. Sides are interleaved, ``rounds``
runs each; figures are medians (the ratio is the median of per-round ratios of CPU time;
the wall-clock ratio is in the note). Target ≤ 1.25x. Run: ``python -m bench.cold_init``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.report import Measure, print_rows
from bench.timing import compare, paired
from infra.functions import RUNTIME_ENVIRONMENT

SECTION = "cold_init"
TARGET = 1.25
ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("-E", "-s")
FORBIDDEN = ("jinja2", "aws_lambda_powertools.utilities.idempotency", "gateway.api.openapi")

REFERENCE = """
import boto3
boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT_URL"])
"""
INGEST = """
from gateway.api.app import make_handler
from gateway.aws.handler import services_from_environment
make_handler(services_from_environment())
"""
AUTHORIZER = """
from gateway.aws.authorizer import authorizer_from_environment
authorizer_from_environment()
"""
FLOOR = (
    REFERENCE
    + """
from pydantic import BaseModel
class _Model(BaseModel):
    value: int
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
Logger(service="bench"); Metrics(namespace="bench", service="bench"); APIGatewayRestResolver()
"""
)
SIDES = {"reference": REFERENCE, "ingest": INGEST, "authorizer": AUTHORIZER, "floor": FLOOR}

# The child: times its init from before the first import, optionally records network
# events with an audit hook, and prints one JSON line.
CHILD = """
import os, sys, time
_net = []
if os.environ.get("BENCH_AUDIT_NETWORK"):
    def _hook(event, args):
        if event.startswith(("socket.connect", "socket.getaddrinfo", "socket.gethostbyname")):
            _net.append(event)
    sys.addaudithook(_hook)
_w0, _c0 = time.perf_counter_ns(), time.process_time_ns()
{body}
_w1, _c1 = time.perf_counter_ns(), time.process_time_ns()
import json
print(json.dumps({{"wall_ns": _w1 - _w0, "cpu_ns": _c1 - _c0, "network": _net,
                  "modules": sorted(m for m in {forbidden!r} if m in sys.modules)}}))
"""


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def child_environment(port: int) -> dict[str, str]:
    """What a Lambda's environment holds, minus anything that could reach AWS."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "TABLE_NAME": "waybill-bench",
        "SECRETS_PREFIX": "waybill/bench/",
        "CURSOR_KEY": "bench-cursor-key-not-a-secret-0123456789",
        "DYNAMODB_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **RUNTIME_ENVIRONMENT,
    }


def run_child(body: str, env: Mapping[str, str], *, audit: bool = False) -> dict[str, Any]:
    """Run one side in a fresh interpreter; its JSON report."""
    code = CHILD.format(body=body.strip(), forbidden=FORBIDDEN)
    environ = dict(env) | ({"BENCH_AUDIT_NETWORK": "1"} if audit else {})
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, *FLAGS, "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"init failed ({done.returncode}): {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _row(name: str, side: str, env: Mapping[str, str], rounds: int) -> Measure:
    walls: dict[str, list[float]] = {side: [], "reference": []}

    def sampler(which: str) -> float:
        report = run_child(SIDES[which], env)
        walls[which].append(report["wall_ns"])
        return float(report["cpu_ns"])

    result = compare(lambda: sampler(side), lambda: sampler("reference"), rounds=rounds)
    wall = paired(walls[side], walls["reference"])
    check = run_child(SIDES[side], env, audit=True)
    notes = [
        f"cpu {result.subject_ns / 1e6:.0f} vs {result.reference_ns / 1e6:.0f} ms",
        f"wall {wall.ratio:.2f}x ({wall.subject_ns / 1e6:.0f} vs {wall.reference_ns / 1e6:.0f} ms)",
        f"network events {len(check['network'])}",
    ]
    if check["modules"]:
        notes.append("imports " + ", ".join(check["modules"]))
    target = None if side == "floor" else TARGET
    return Measure(SECTION, name, result.ratio, "x", target=target, note="; ".join(notes))


def measure(*, rounds: int = 15, warm: bool = True) -> list[Measure]:
    """Rows: ingest and authorizer init (target 1.25x), and the ingest floor (no target)."""
    env = child_environment(closed_port())
    if warm:  # compile every .pyc once, untimed
        for body in SIDES.values():
            run_child(body, env)
    return [
        _row("ingest handler init / boto3+client", "ingest", env, rounds),
        _row("authorizer init / boto3+client", "authorizer", env, rounds),
        _row("floor: +pydantic+powertools / boto3+client", "floor", env, rounds),
    ]


def main() -> None:
    """Print the table."""
    print_rows(measure())


if __name__ == "__main__":
    main()
