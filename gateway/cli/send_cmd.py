"""``waybill send CARRIER FIXTURE --tenant T``: sign a fixture as the carrier would and post it.

The body is sent byte for byte as stored; the signature headers come from the
adapter's own ``sign`` with the tenant's current local secret. For demos and
manual tests against ``waybill serve`` (loopback by default).

Example:
    $ waybill send easypost event_tracker_updated_full_history --tenant demo
    200 {"accepted": 3, "duplicates": 0, ...}
"""

from __future__ import annotations

import argparse
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from gateway.cli import CliError, add_state_dir
from gateway.cli.tenants_cmd import add_tenants_dir, require_carrier, require_tenant

FIXTURES_DIR = Path("tests") / "fixtures"
DEFAULT_URL = "http://127.0.0.1:8080"


def register(subparsers: Any) -> None:
    """Add the ``send`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "send", help="sign a fixture as the carrier would and post it to the gateway"
    )
    parser.add_argument("carrier", help="adapter id, e.g. easypost")
    parser.add_argument(
        "fixture", help=f"a file, or a fixture name under {FIXTURES_DIR}/<carrier>/"
    )
    parser.add_argument("--tenant", required=True, help="tenant id (its secret signs)")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"gateway base URL ({DEFAULT_URL})")
    add_state_dir(parser)
    add_tenants_dir(parser)
    parser.set_defaults(func=run)


def fixture_path(carrier: str, fixture: str) -> Path:
    """The fixture file: a path as given, else ``tests/fixtures/<carrier>/<name>[.json]``."""
    for candidate in (
        Path(fixture),
        FIXTURES_DIR / carrier / fixture,
        FIXTURES_DIR / carrier / f"{fixture}.json",
    ):
        if candidate.is_file():
            return candidate
    raise CliError(f"no fixture {fixture!r} (not a file, nor in {FIXTURES_DIR / carrier})")


def run(args: argparse.Namespace) -> int:
    """Sign and post; print the gateway's status and body. Exit 0 on 2xx."""
    from gateway.carriers.discovery import load_adapters
    from gateway.signing.spec import split_signed
    from gateway.tenancy.local_secrets import LocalSecretStore

    config = require_tenant(args.tenants_dir, args.tenant)
    require_carrier(config, args.carrier, args.tenants_dir)
    adapter = load_adapters().get(args.carrier)
    if adapter is None:
        raise CliError(f"no adapter {args.carrier!r} (see `waybill adapters list`)")
    body = fixture_path(args.carrier, args.fixture).read_bytes()
    keyset = LocalSecretStore(Path(args.state_dir)).get(config.id, adapter.id)
    if keyset is None:
        raise CliError(
            f"no secret for {config.id}/{adapter.id}: "
            f"`waybill secrets set {config.id} {adapter.id} --generate` first"
        )
    headers, query = split_signed(adapter.sign(body, keyset.current.value, time.time()))
    headers.setdefault("Content-Type", adapter.content_types[0])
    url = f"{args.url.rstrip('/')}/webhooks/{config.id}/{adapter.id}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, text = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    except urllib.error.URLError as exc:
        raise CliError(
            f"cannot reach {args.url} ({exc.reason}); is `waybill serve` running?"
        ) from None
    print(status, text)
    return 0 if 200 <= status < 300 else 1
