"""The Lambda deployment package, built for the runtime (python3.12, arm64), reproducibly.

``build_package()`` installs the locked wheels for the target platform with pip
(``--platform``, ``--only-binary=:all:``, hashes required), adds the app sources
(:func:`infra.package_tree.app_files`), byte-compiles everything with the target's
own interpreter (``unchecked-hash`` ``.pyc``: deterministic, never rewritten on the
read-only ``/var/task``) and writes a deterministic zip to
``.cache/lambda/<key>.zip``. The key digests the lock, the target, the interpreter's
version and every app source, so an unchanged tree reuses the zip without running pip.

Example::

    python -m infra.package                 # the Lambda target: prints path, size, sha256
    python -m infra.package --host          # the same, for this machine (tests)
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infra import package_tree
from infra.package_tree import REPO_ROOT, app_files, digest_files

if TYPE_CHECKING:
    import pulumi

LOCK = Path("infra") / "lambda-requirements.txt"
CACHE = Path(".cache") / "lambda"
LAMBDA_PREFIX = "/var/task"  # where Lambda unpacks the zip: the source path in tracebacks
INTERPRETER_ENV = "WAYBILL_LAMBDA_PYTHON"
FORMAT = "waybill-lambda-package/1"  # bump when the layout of the zip changes
PROBE = (
    "import importlib.util, json, platform, sys; print(json.dumps({"
    "'minor': '%d.%d' % sys.version_info[:2], 'version': platform.python_version(), "
    "'implementation': sys.implementation.name, 'cache_tag': sys.implementation.cache_tag, "
    "'magic': importlib.util.MAGIC_NUMBER.hex()}))"
)


class PackageError(Exception):
    """The package cannot be built as asked; the message says what to fix."""


@dataclass(frozen=True)
class Target:
    """What the package is built for; the defaults are the Lambda runtime's."""

    platform: str = "manylinux2014_aarch64"
    python_version: str = "3.12"
    interpreter: str | None = None  # byte-compiles; None: found (see find_interpreter)


LAMBDA = Target()


def host_target() -> Target:
    """This machine's platform and Python: a package that can be imported here."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Target(f"manylinux2014_{platform.machine()}", version, sys.executable)


def _probe(interpreter: str) -> dict[str, str]:
    """What ``interpreter`` reports about itself; empty when it does not run."""
    try:
        done = subprocess.run(  # noqa: S603 (a path we were given or found, no shell)
            [interpreter, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
        )
        answer: dict[str, str] = json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    return answer


def _candidates(version: str) -> list[str]:
    found = [os.environ.get(INTERPRETER_ENV, ""), shutil.which(f"python{version}") or ""]
    found += sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}"))
    )
    found += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    return [c for c in dict.fromkeys(found) if c]


def find_interpreter(target: Target) -> tuple[str, dict[str, str]]:
    """A CPython of ``target.python_version`` that runs, with what it reports.

    The explicit ``target.interpreter`` must be right; otherwise ``$WAYBILL_LAMBDA_PYTHON``,
    ``pythonX.Y`` on PATH (which may be a shim that fails: each is run to check), pyenv
    versions, and the usual system paths are tried in that order.
    """
    tried = [target.interpreter] if target.interpreter else _candidates(target.python_version)
    for candidate in tried:
        answer = _probe(candidate)
        if answer.get("implementation") == "cpython" and answer["minor"] == target.python_version:
            return candidate, answer
    raise PackageError(
        f"no CPython {target.python_version} interpreter to byte-compile the Lambda package "
        f"(tried: {', '.join(tried) or 'nothing'}); install Python {target.python_version} "
        f"(e.g. `pyenv install {target.python_version}` or "
        f"`apt-get install python{target.python_version}`) or set {INTERPRETER_ENV} to it. "
        "Byte code of another version is never shipped."
    )


def cache_key(root: Path, target: Target, answer: dict[str, str], lock: Path) -> str:
    """The digest naming the zip: lock, target, interpreter, app sources and this builder."""
    digest = hashlib.sha256(FORMAT.encode() + b"\n" + lock.read_bytes())
    facts = [target.platform, target.python_version, answer["version"], answer["magic"]]
    digest.update("\0".join([*facts, LAMBDA_PREFIX]).encode() + b"\n")
    for line in digest_files(root, app_files(root)):
        digest.update(line)
    for builder in (Path(__file__), Path(package_tree.__file__)):
        digest.update(hashlib.sha256(builder.read_bytes()).digest())
    return digest.hexdigest()[:32]


def install_requirements(lock: Path, target: Target, staging: Path) -> None:
    """``pip install --target`` the locked wheels for the target platform (pip's cache reused)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-input", "--no-compile", "--only-binary=:all:", "--require-hashes"]
    command += ["--target", str(staging), "--implementation", "cp", "--platform", target.platform]
    command += ["--python-version", target.python_version, "-r", str(lock)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise PackageError(f"pip could not install {lock} for {target}:\n{done.stderr[-4000:]}")


def compile_tree(interpreter: str, staging: Path) -> None:
    """Byte-compile ``staging`` with the target's interpreter, deterministically."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"  # frozenset constants are marshalled in hash order
    # One process, files in a fixed order: a .pyc marshals references by refcount, so a
    # worker pool (-j 0) gave different bytes from build to build. Not -I: it would drop
    # PYTHONHASHSEED; -s before -m skips user site-packages, -s after strips ``staging``.
    command = [interpreter, "-s", "-m", "compileall", "-q", "-j", "1"]
    command += ["--invalidation-mode", "unchecked-hash", "-s", str(staging), "-p", LAMBDA_PREFIX]
    done = subprocess.run(  # noqa: S603
        [*command, str(staging)], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise PackageError(f"byte-compiling failed with {interpreter}:\n{output}")


def build_package(
    root: Path = REPO_ROOT, target: Target = LAMBDA, cache_dir: Path | None = None
) -> Path:
    """The zip for ``target`` from the tree at ``root``: reused from the cache, or built."""
    interpreter, answer = find_interpreter(target)
    lock = root / LOCK
    out_dir = cache_dir or root / CACHE
    out = out_dir / f"{cache_key(root, target, answer, lock)}.zip"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="waybill-lambda-") as tmp:
        staging = Path(tmp) / "package"
        install_requirements(lock, target, staging)
        package_tree.scrub(staging)
        package_tree.copy_app(root, app_files(root), staging)
        compile_tree(interpreter, staging)
        try:
            package_tree.check_bytecode(
                staging, bytes.fromhex(answer["magic"]), answer["cache_tag"]
            )
        except ValueError as exc:
            raise PackageError(str(exc)) from exc
        package_tree.write_zip(staging, out)
    return out


def lambda_archive(zip_path: Path | None = None) -> pulumi.FileArchive:
    """The Lambda code for the Pulumi program: ``zip_path``, or the built (cached) package."""
    import pulumi

    return pulumi.FileArchive(str(zip_path or build_package()))


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.package``: build (or reuse) and print path, size and sha256."""
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__)
    parser.add_argument("--out", type=Path, help="also copy the zip here")
    parser.add_argument("--platform", default=LAMBDA.platform)
    parser.add_argument("--python-version", default=LAMBDA.python_version)
    parser.add_argument("--python", help="the interpreter that byte-compiles")
    parser.add_argument("--host", action="store_true", help="build for this machine instead")
    args = parser.parse_args(argv)
    target = host_target() if args.host else Target(args.platform, args.python_version, args.python)
    try:
        path = build_package(target=target)
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        shutil.copyfile(path, args.out)
        path = args.out
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path}\n{path.stat().st_size} bytes\nsha256 {sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
