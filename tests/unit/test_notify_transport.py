"""gateway/notify/transport.py against real loopback servers: pinning, limits and results."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.notify.addresses import AddressPolicy
from gateway.notify.transport import SendResult, close_idle_connections, post


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never leave the machine, even when the code under test regresses."""
    connect = socket.create_connection

    def guarded(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        if not address[0].startswith("127.") and address[0] != "::1":
            raise AssertionError(f"a test tried to connect to {address[0]}")
        return connect(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", guarded)


STRICT, INSECURE = AddressPolicy(), AddressPolicy(allow_insecure=True)
NAME = "hooks.example.test"
BODY = b'{"type":"tracking.updated","id":"msg_1"}'
MIB = 1 << 20


@dataclass
class Request:
    line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A threaded loopback server; ``handle(conn, server)`` serves each connection."""

    handle: Callable[[socket.socket, Server], None]
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        self.listener.close()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.handle(conn, self)
        except OSError:
            pass  # the client hung up, as several tests make it
        finally:
            conn.close()
            self.closed.set()

    def read(self, conn: socket.socket) -> Request | None:
        """The next request on ``conn`` (recorded), or None when the client closed it."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        line, *fields = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        while len(body) < int(headers.get("content-length", "0")):
            body += conn.recv(65536)
        request = Request(line, headers, body)
        self.requests.append(request)
        return request


def answer(conn: socket.socket, status: str, *headers: str, body: bytes = b"") -> None:
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}", "", ""]
    conn.sendall("\r\n".join(lines).encode() + body)


def serve_each(status: str, *headers: str, body: bytes = b"ok") -> Callable[..., None]:
    """A keep-alive handler giving every request on the connection the same answer."""

    def handle(conn: socket.socket, server: Server) -> None:
        while server.read(conn) is not None:
            answer(conn, status, *headers, body=body)

    return handle


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(handle: Callable[[socket.socket, Server], None], **options: object) -> Server:
        servers.append(Server(handle, **options))  # type: ignore[arg-type]
        return servers[-1]

    yield start
    close_idle_connections()
    for server in servers:
        server.stop.set()


class Resolve:
    """A ``resolve`` stub answering ``addresses`` for every name; it records the lookups."""

    def __init__(self, *addresses: str) -> None:
        self.addresses, self.asked = list(addresses), list[tuple[str, int]]()

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.addresses


def no_such_name(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def send(url: str, **options: object) -> SendResult:
    options.setdefault("policy", INSECURE)
    options.setdefault("timeout", 2.0)
    return post(url, BODY, {"Content-Type": "application/json"}, **options)  # type: ignore[arg-type]


# -- answers ----------------------------------------------------------------------------


def test_a_2xx_is_ok_and_the_request_is_exact(serve: Callable[..., Server]) -> None:
    server = serve(serve_each("200 OK", body=b"accepted"))
    result = send(f"http://127.0.0.1:{server.port}/in/tok?x=1")
    assert (result.ok, result.status, result.error, result.body_excerpt) == (
        True, 200, None, b"accepted"
    )  # fmt: skip
    assert 0 < result.latency_ms < 2000
    [request] = server.requests
    assert request.line == "POST /in/tok?x=1 HTTP/1.1"
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    assert request.headers["content-type"] == "application/json"
    assert (request.headers["content-length"], request.body) == (str(len(BODY)), BODY)


def test_a_503_carries_retry_after_in_seconds(serve: Callable[..., Server]) -> None:
    server = serve(serve_each("503 Service Unavailable", "Retry-After: 7"))
    result = send(f"http://127.0.0.1:{server.port}/")
    assert (result.ok, result.status, result.error, result.retry_after) == (False, 503, None, 7.0)


def test_retry_after_as_an_http_date(serve: Callable[..., Server]) -> None:
    when = formatdate(time.time() + 120, usegmt=True)
    server = serve(serve_each("503 Service Unavailable", f"Retry-After: {when}"))
    result = send(f"http://127.0.0.1:{server.port}/")
    assert result.status == 503
    assert result.retry_after is not None
    assert 118 <= result.retry_after <= 120.5


@pytest.mark.parametrize("value", ["soon", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_an_unreadable_or_past_retry_after_is_none(
    serve: Callable[..., Server], value: str
) -> None:
    server = serve(serve_each("429 Too Many Requests", f"Retry-After: {value}"))
    assert send(f"http://127.0.0.1:{server.port}/").retry_after is None


def test_a_redirect_is_not_followed(serve: Callable[..., Server]) -> None:
    elsewhere = serve(serve_each("200 OK"))
    server = serve(serve_each("302 Found", f"Location: http://127.0.0.1:{elsewhere.port}/"))
    result = send(f"http://127.0.0.1:{server.port}/")
    assert (result.ok, result.status, result.error) == (False, 302, None)
    assert elsewhere.connections == 0


# -- limits ------------------------------------------------------------------------------


def test_a_large_body_is_cut_at_max_body_and_the_connection_dropped(
    serve: Callable[..., Server],
) -> None:
    body = bytes(range(256)) * (MIB // 256)
    server = serve(serve_each("200 OK", body=body))
    started = time.monotonic()
    result = send(f"http://127.0.0.1:{server.port}/")
    assert (result.status, result.body_excerpt) == (200, body[:65_536])
    assert time.monotonic() - started < 1
    assert server.closed.wait(1)  # we hung up rather than keep a half-read connection
    # the rest of the body is never read as the next response: a new connection is opened
    assert send(f"http://127.0.0.1:{server.port}/").body_excerpt == body[:65_536]
    assert server.connections == 2


def endless_chunked_body(conn: socket.socket, server: Server) -> None:
    server.read(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while not server.stop.is_set():
        conn.sendall(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")


def test_an_endless_body_is_read_only_to_max_body(serve: Callable[..., Server]) -> None:
    server = serve(endless_chunked_body)
    result = send(f"http://127.0.0.1:{server.port}/", max_body=40_000)
    assert (result.status, result.error, result.body_excerpt) == (200, None, b"x" * 40_000)


def stall(conn: socket.socket, server: Server) -> None:
    server.read(conn)
    server.stop.wait(3)
    answer(conn, "200 OK")


def drip_headers(conn: socket.socket, server: Server) -> None:
    server.read(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(60):  # 3 s, each byte well within the timeout
        if server.stop.wait(0.05):
            return
        conn.sendall(b"z")


@pytest.mark.parametrize("handle", [stall, drip_headers])
def test_the_whole_exchange_ends_by_the_timeout(
    serve: Callable[..., Server], handle: Callable[[socket.socket, Server], None]
) -> None:
    server = serve(handle)
    result = send(f"http://127.0.0.1:{server.port}/", timeout=0.5)
    assert (result.status, result.error) == (None, "timeout")
    assert 450 <= result.latency_ms < 1200


def hang_up(conn: socket.socket, server: Server) -> None:
    server.read(conn)


def test_a_server_that_hangs_up_without_answering(serve: Callable[..., Server]) -> None:
    server = serve(hang_up)
    result = send(f"http://127.0.0.1:{server.port}/")
    assert (result.ok, result.status, result.error) == (False, None, "bad_response")


def test_garbage_instead_of_http_is_a_bad_response(serve: Callable[..., Server]) -> None:
    server = serve(lambda conn, srv: (srv.read(conn), conn.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")))
    assert send(f"http://127.0.0.1:{server.port}/").error == "bad_response"


def test_a_closed_port_is_connect_failed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    assert send(f"http://127.0.0.1:{port}/").error == "connect_failed"


# -- keep-alive ---------------------------------------------------------------------------


def test_a_keep_alive_connection_is_reused(serve: Callable[..., Server]) -> None:
    server = serve(serve_each("204 No Content", body=b""))
    results = [send(f"http://127.0.0.1:{server.port}/") for _ in range(3)]
    assert [r.status for r in results] == [204, 204, 204]
    assert (server.connections, len(server.requests)) == (1, 3)


def test_concurrent_posts_share_a_bounded_set_of_connections(
    serve: Callable[..., Server],
) -> None:
    server = serve(serve_each("200 OK"))
    statuses: list[int | None] = []

    def worker() -> None:
        for _ in range(25):
            statuses.append(send(f"http://127.0.0.1:{server.port}/").status)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 200
    assert server.connections <= 8  # each caller borrows one; none is shared or leaked


def one_then_close(conn: socket.socket, server: Server) -> None:
    server.read(conn)
    answer(conn, "200 OK")  # keep-alive by default, yet closed at once


def test_an_idle_connection_the_server_closed_is_replaced(serve: Callable[..., Server]) -> None:
    server = serve(one_then_close)
    assert send(f"http://127.0.0.1:{server.port}/").status == 200
    assert server.closed.wait(1)
    assert send(f"http://127.0.0.1:{server.port}/").status == 200
    assert (server.connections, len(server.requests)) == (2, 2)


def answer_once_then_drop(conn: socket.socket, server: Server) -> None:
    server.read(conn)
    answer(conn, "200 OK")
    server.read(conn)  # the second request arrives whole, and may have been processed


def test_a_request_that_was_sent_whole_is_never_sent_again(serve: Callable[..., Server]) -> None:
    server = serve(answer_once_then_drop)
    assert send(f"http://127.0.0.1:{server.port}/").status == 200
    assert send(f"http://127.0.0.1:{server.port}/").error == "bad_response"
    assert (server.connections, len(server.requests)) == (1, 2)


# -- names and addresses ----------------------------------------------------------------


def test_a_name_is_resolved_once_and_reached_by_the_checked_address(
    serve: Callable[..., Server],
) -> None:
    server = serve(serve_each("200 OK"))
    resolve = Resolve("127.0.0.1")
    result = send(f"http://{NAME}:{server.port}/in", resolve=resolve)
    assert result.status == 200
    assert resolve.asked == [(NAME, server.port)]
    assert server.requests[0].headers["host"] == f"{NAME}:{server.port}"


@pytest.mark.parametrize("answers", [["8.8.8.8", "10.0.0.5"], ["10.0.0.5", "8.8.8.8"]])
def test_one_private_answer_forbids_the_name(answers: list[str]) -> None:
    result = send(f"https://{NAME}/", policy=STRICT, resolve=Resolve(*answers), timeout=0.5)
    assert (result.status, result.error) == (None, "address_forbidden")


def test_a_forbidden_answer_means_no_connection_at_all(serve: Callable[..., Server]) -> None:
    server = serve(serve_each("200 OK"))
    resolve = Resolve("127.0.0.1", "169.254.169.254")  # the first is allowed when insecure
    result = send(f"http://{NAME}:{server.port}/", resolve=resolve)
    assert result.error == "address_forbidden"
    assert server.connections == 0


def test_the_default_resolver_is_checked_too() -> None:
    assert send("https://localhost/", policy=STRICT).error == "address_forbidden"


@pytest.mark.parametrize("resolve", [Resolve(), Resolve("not-an-address"), no_such_name])
def test_a_failed_lookup_is_dns_failed(resolve: Callable[[str, int], list[str]]) -> None:
    assert send(f"https://{NAME}/", resolve=resolve).error == "dns_failed"


def test_insecure_urls_are_refused_before_any_lookup_or_connection(
    serve: Callable[..., Server],
) -> None:
    server = serve(serve_each("200 OK"))
    resolve = Resolve("127.0.0.1")
    for url in (f"http://{NAME}:{server.port}/", f"https://127.0.0.1:{server.port}/"):
        result = send(url, policy=STRICT, resolve=resolve)
        assert (result.status, result.error, result.ok) == (None, "url_invalid", False)
    assert send(f"http://127.1:{server.port}/", resolve=resolve).error == "url_invalid"
    assert (resolve.asked, server.connections) == ([], 0)


@pytest.mark.parametrize(
    "headers", [{"X-A": "1\r\nX-B: 2"}, {"Host": "elsewhere"}, {"Bad Name": "1"}]
)
def test_headers_that_would_corrupt_the_request_are_a_caller_error(
    headers: dict[str, str],
) -> None:
    with pytest.raises(ValueError, match="header"):
        post(f"https://{NAME}/", b"", headers, policy=STRICT, resolve=Resolve("8.8.8.8"))


# -- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A self-signed certificate for ``NAME``: (cert file, key file, cert PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem", pem.decode()


@pytest.fixture
def tls_server(serve: Callable[..., Server], certificate: tuple[Path, Path, str]) -> Server:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate[0], certificate[1])
    server: Server = serve(serve_each("200 OK", body=b"secure"), tls=context)

    def record(sock: ssl.SSLObject, sni: str | None, ctx: ssl.SSLContext) -> None:
        server.server_names.append(sni)

    context.sni_callback = record
    return server


def test_https_verifies_the_name_while_connecting_to_the_checked_ip(
    tls_server: Server, certificate: tuple[Path, Path, str]
) -> None:
    trusting = ssl.create_default_context(cadata=certificate[2])
    result = send(
        f"https://{NAME}:{tls_server.port}/", resolve=Resolve("127.0.0.1"), ssl_context=trusting
    )
    assert (result.status, result.error, result.body_excerpt) == (200, None, b"secure")
    assert tls_server.server_names == [NAME]
    assert tls_server.requests[0].headers["host"] == f"{NAME}:{tls_server.port}"


def test_https_to_a_name_the_certificate_does_not_cover_is_tls_failed(
    tls_server: Server, certificate: tuple[Path, Path, str]
) -> None:
    trusting = ssl.create_default_context(cadata=certificate[2])
    url = f"https://other.example.test:{tls_server.port}/"
    result = send(url, resolve=Resolve("127.0.0.1"), ssl_context=trusting)
    assert (result.status, result.error) == (None, "tls_failed")
    assert tls_server.requests == []


def test_https_with_the_default_trust_store_refuses_a_self_signed_certificate(
    tls_server: Server,
) -> None:
    result = send(f"https://{NAME}:{tls_server.port}/", resolve=Resolve("127.0.0.1"))
    assert result.error == "tls_failed"
