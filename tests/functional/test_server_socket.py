"""The local server's connections send small responses at once (TCP_NODELAY)."""

from __future__ import annotations

import asyncio
import socket

from gateway.local.server import listening_socket


async def _accepted_nodelay() -> int:
    """Serve on a socket from ``listening_socket`` the way uvicorn does; the accepted
    connection's TCP_NODELAY as asyncio left it."""
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    sock = listening_socket("127.0.0.1", 0)
    server = await asyncio.start_server(accepted, sock=sock)
    async with server:
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, timeout=10)
        finally:
            writer.close()


def test_accepted_connections_have_nodelay() -> None:
    # Without it each response body waited ~40 ms for the client's delayed ACK.
    assert asyncio.run(_accepted_nodelay()) != 0


def test_a_taken_port_is_an_oserror_and_leaks_no_socket() -> None:
    with listening_socket("127.0.0.1", 0) as first:
        port = first.getsockname()[1]
        try:
            listening_socket("127.0.0.1", port).close()
        except OSError:
            pass
        else:  # SO_REUSEADDR does not allow two listeners on one port on Linux
            raise AssertionError("a second listener bound the same port")
