"""A local gateway's HTTP edge on a loopback port, on a thread: for tests and benchmarks
that need the real edge without a ``waybill serve`` subprocess."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.local.server import build_asgi_app, make_server
from gateway.local.wiring import LocalGateway


@contextmanager
def edge_on_thread(gateway: LocalGateway, timeout: float = 10.0) -> Iterator[str]:
    """The edge of ``gateway`` serving on 127.0.0.1 (keys resolved, no plan throttling);
    yields its base URL, stops on exit."""
    app = build_asgi_app(gateway.handler, gateway.resolve_api_key)
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("the edge did not start")
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout)
