"""``waybill send CARRIER FIXTURE --tenant T``: sign a fixture as the carrier would and post it.

The body is sent byte for byte as stored; the signature headers come from the
adapter's own ``sign`` with the tenant's current local secret, plus what the tenant has
set up besides (Shippo's HMAC, UPS v2's OAuth bearer: :mod:`gateway.cli.send_signing`).
``--list`` names a carrier's fixtures. For demos and manual tests against
``waybill serve`` (loopback by default).

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
        "fixture", nargs="?", help=f"a file, or a fixture name under {FIXTURES_DIR}/<carrier>/"
    )
    parser.add_argument("--list", action="store_true", help="list the carrier's fixtures")
    parser.add_argument("--tenant", help="tenant id (its secrets sign); required to send")
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


def fixture_names(carrier: str) -> list[str]:
    """The fixtures ``send`` can post for ``carrier`` (bodies, not their sidecar files)."""
    folder = FIXTURES_DIR / carrier
    sidecars = (".expected.json", ".meta.json", ".headers.json")
    names = [p.name for p in folder.glob("*") if p.is_file() and not p.name.endswith(sidecars)]
    return sorted(name.removesuffix(".json") for name in names)


def run(args: argparse.Namespace) -> int:
    """Sign and post; print the gateway's status and body. Exit 0 on 2xx."""
    from gateway.carriers.discovery import load_adapters
    from gateway.cli.send_signing import signed
    from gateway.tenancy.local_secrets import LocalSecretStore

    adapter = load_adapters().get(args.carrier)
    if adapter is None:
        raise CliError(f"no adapter {args.carrier!r} (see `waybill adapters list`)")
    if args.list:
        names = fixture_names(adapter.id)
        print("\n".join(names) if names else f"no fixtures in {FIXTURES_DIR / adapter.id}")
        return 0
    if args.fixture is None or args.tenant is None:
        raise CliError(f"name a FIXTURE and --tenant (fixtures: waybill send {adapter.id} --list)")
    config = require_tenant(args.tenants_dir, args.tenant)
    require_carrier(config, args.carrier, args.tenants_dir)
    body = fixture_path(args.carrier, args.fixture).read_bytes()
    store = LocalSecretStore(Path(args.state_dir))
    base_url = args.url.rstrip("/")
    headers, query = signed(
        adapter, config, body, time.time(), base_url, lambda target: store.get(config.id, target)
    )
    headers.setdefault("Content-Type", adapter.content_types[0])
    url = f"{base_url}/webhooks/{config.id}/{adapter.id}"
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
