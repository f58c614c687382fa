"""The files of the Lambda package: which app sources ship, staging hygiene, the zip.

The zip is deterministic: entries sorted by path, every timestamp 1980-01-01 00:00,
files 0644 and directories 0755, one compression level. Built twice from the same
staging tree, it is byte-identical.

Example:
    >>> [p.as_posix() for p in app_files(REPO_ROOT) if p.name == "plans.toml"]
    ['plans.toml']
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("gateway", "adapters")
# Local-only parts of ``gateway``: the local server, the CLI, the test kit, the carrier
# scaffolding's jinja2 templates with the modules that render them. No module the handlers
# import needs them; the package test imports every shipped module in a fresh process to
# prove it. The ops console ships (``gateway/console``, ``gateway/ops``,
# ``gateway/audit/changes.py``, ``gateway/aws/console.py``): the ``console`` function runs
# it; jinja2 is imported by the console's modules only, never on the API's path.
EXCLUDED = frozenset(
    {
        "gateway/local",
        "gateway/cli",
        "gateway/testkit",
        "gateway/carriers/templates",
        "gateway/carriers/scaffold.py",
        "gateway/carriers/docs.py",
    }
)
NEVER = frozenset({"__pycache__", "tests", "fixtures"})  # at any depth
PACKAGE_DATA = (
    Path("gateway/costs/prices.toml"),
    Path("gateway/console/templates"),  # every file below a directory
    Path("gateway/console/static"),
)
"""Non-Python files of the packages that ship (pyproject.toml ``package-data``): files, or
directories whose every file ships."""
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
DIR_MODE = 0o040755
COMPRESS_LEVEL = 6  # level 9: 0.5 % smaller, 2.5x slower


def _walk(root: Path, directory: Path) -> Iterator[Path]:
    for path in sorted(directory.iterdir()):
        relative = path.relative_to(root)
        if path.name in NEVER or relative.as_posix() in EXCLUDED:
            continue
        if path.is_dir():
            yield from _walk(root, path)
        elif path.suffix == ".py" or _is_data(relative):
            yield relative


def _is_data(relative: Path) -> bool:
    return any(relative == data or data in relative.parents for data in PACKAGE_DATA)


def app_files(root: Path) -> list[Path]:
    """The app sources that ship, relative to ``root``, sorted.

    ``gateway/`` and ``adapters/`` (``.py`` only, minus :data:`EXCLUDED`, plus
    :data:`PACKAGE_DATA`), the tenant
    files ``tenants/*.toml`` and ``plans.toml``: the code finds the last two next to
    the ``gateway`` package (``Path(gateway.__file__).parent.parent``).
    """
    files = [path for package in APP_PACKAGES for path in _walk(root, root / package)]
    files += sorted(p.relative_to(root) for p in (root / "tenants").glob("*.toml"))
    files.append(Path("plans.toml"))
    return files


def digest_files(root: Path, files: Iterable[Path]) -> Iterator[bytes]:
    """Per file: its path and the SHA-256 of its content (for a cache key)."""
    for relative in files:
        content = hashlib.sha256((root / relative).read_bytes()).hexdigest()
        yield f"{relative.as_posix()}\0{content}\n".encode()


def copy_app(root: Path, files: Iterable[Path], staging: Path) -> None:
    """Copy the app sources into the package root (content only, no host metadata)."""
    for relative in files:
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, destination)


def scrub(staging: Path) -> None:
    """Drop what pip may leave that is host-specific or useless on Lambda.

    Console scripts (``bin/``: their shebang names this machine's interpreter), any
    byte code not compiled by us, and ``direct_url.json`` (may hold a local path).
    """
    shutil.rmtree(staging / "bin", ignore_errors=True)
    for path in sorted(staging.rglob("*"), reverse=True):  # children before parents
        if path.name == "__pycache__" and path.is_dir():
            shutil.rmtree(path)
        elif path.suffix in {".pyc", ".pyo"} or path.name == "direct_url.json":
            path.unlink()


def check_bytecode(staging: Path, magic: bytes, cache_tag: str) -> None:
    """Every ``.py`` has its ``.pyc`` for ``cache_tag``, and no ``.pyc`` has another magic."""
    for path in sorted(staging.rglob("*.pyc")):
        with path.open("rb") as handle:
            if handle.read(len(magic)) != magic:
                raise ValueError(f"{path.relative_to(staging)} was not compiled by the target")
    for source in sorted(staging.rglob("*.py")):
        compiled = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
        if not compiled.is_file():
            raise ValueError(f"{source.relative_to(staging)} has no {cache_tag} byte code")


def _entries(staging: Path) -> list[tuple[str, Path]]:
    names: list[tuple[str, Path]] = []
    for directory, dirs, files in os.walk(staging):
        base = PurePosixPath(Path(directory).relative_to(staging).as_posix())
        names += [(f"{base / d}/".removeprefix("./"), Path(directory, d)) for d in dirs]
        names += [(str(base / f).removeprefix("./"), Path(directory, f)) for f in files]
    return sorted(names)


def write_zip(staging: Path, out: Path) -> None:
    """Zip ``staging`` into ``out`` deterministically (written aside, then renamed)."""
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in _entries(staging):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so that the modes below are read
            if name.endswith("/"):
                info.external_attr = (DIR_MODE << 16) | 0x10  # MS-DOS directory flag
                archive.writestr(info, b"")
                continue
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=COMPRESS_LEVEL)
    partial.replace(out)
