"""The Lambda package: built for the runtime (arm64, cp312), importable, deterministic, cached.

Builds are real (pip, from its cache when warm), from one snapshot of the shipped
sources, and shared per session: the Lambda target twice (the byte-identical check)
and this machine's target once (the fresh-process import needs wheels and byte code
this interpreter can load).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import struct
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from infra import package
from infra.functions import SPECS
from infra.package import LAMBDA, PackageError, Target, build_package, cache_key, host_target
from infra.package_tree import REPO_ROOT, app_files, copy_app

MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked
EM_AARCH64 = 183
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six")
FORBIDDEN_TOP = ("boto3", "botocore", "s3transfer", "uvicorn", "starlette", "pulumi")
CONSOLE_ONLY = {"jinja2", "markupsafe"}  # shipped for the console; never on the API's path
WHEEL_LITERALS = (b"/tmp/jinja_cache",)  # jinja2/bccache.py's docstring example (and its .pyc)
LOCAL_ONLY = (
    "gateway/local/",
    "gateway/cli/",
    "gateway/carriers/templates/",
    "gateway/carriers/scaffold.py",
)
SHIPPED_ADAPTERS = sorted(p.stem for p in (REPO_ROOT / "adapters").glob("[!_]*.py"))
TENANT_FILES = sorted((REPO_ROOT / "tenants").glob("*.toml"))
# Run as `python -I -S probe.py PACKAGE RUNTIME`: no site-packages, no cwd, no PYTHONPATH.
PROBE = """
import importlib, json, sys, sysconfig, time, types
package, runtime = sys.argv[1], sys.argv[2]
sys.path[:0] = [package, runtime]
started = time.perf_counter()
import gateway.aws.authorizer, gateway.aws.handler, gateway.aws.notify, gateway.services
import_ms = (time.perf_counter() - started) * 1000
from pathlib import Path
from gateway.carriers.discovery import load_adapters
from gateway.tenancy.plans import current_plans
from gateway.services import PACKAGED_TENANTS_DIR as TENANTS
from gateway.tenancy.directory import TenantDirectory
registry, tenants = load_adapters(), TenantDirectory(TENANTS)
context = types.SimpleNamespace(function_name="ingest", memory_limit_in_mb=512,
    function_version="1", aws_request_id="r-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ingest")
answer = gateway.aws.handler.lambda_handler({"resource": "/healthz", "path": "/healthz",
    "httpMethod": "GET", "headers": {}, "requestContext": {"requestId": "r-1",
    "resourcePath": "/healthz", "httpMethod": "GET", "stage": "v1"}, "body": None}, context)
try:
    gateway.aws.authorizer.authorizer_handler({"type": "REQUEST",
        "resource": "/webhooks/{tenant}/{carrier}", "pathParameters": {"tenant": "nobody"},
        "methodArn": "arn:aws:execute-api:us-east-1:1:a/v1/POST/webhooks/nobody/ups"}, context)
    refused = "allowed"
except Exception as exc:
    refused = str(exc)
notified = gateway.aws.notify.stream_handler({"Records": []}, context)
handler_modules = sorted(sys.modules)  # the API's path, before anything else is imported
for top in ("gateway", "adapters"):
    for source in sorted(Path(package, top).rglob("*.py")):
        importlib.import_module(".".join(source.relative_to(package).with_suffix("").parts))
paths = sysconfig.get_paths()
allowed = (package, runtime, paths["stdlib"], paths["platstdlib"])
files = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
print(json.dumps({
    "import_ms": import_ms, "adapters": sorted(registry.adapters), "broken": registry.broken,
    "healthz": [answer["statusCode"], json.loads(answer["body"])], "authorizer": refused,
    "notify": notified,
    "tenants": {p.stem: tenants(p.stem).plan for p in sorted(TENANTS.glob("*.toml"))},
    "tenants_dir": str(TENANTS), "plans": sorted(current_plans()), "modules": sorted(files),
    "handler_modules": handler_modules,
    "outside": sorted(n for n, f in files.items() if f not in (None, __file__)
        and not f.startswith(allowed)),
}))
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the shipped inputs: every build of the session sees the same tree."""
    root = tmp_path_factory.mktemp("source")
    copy_app(REPO_ROOT, [*app_files(REPO_ROOT), package.LOCK], root)
    return root


@pytest.fixture(scope="session")
def lambda_zip(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(source, LAMBDA, cache_dir=tmp_path_factory.mktemp("cache-a"))


@pytest.fixture(scope="session")
def archive(lambda_zip: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(lambda_zip)


@pytest.fixture(scope="session")
def host_tree(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = build_package(source, host_target(), cache_dir=tmp_path_factory.mktemp("cache-h"))
    tree = tmp_path_factory.mktemp("task")
    zipfile.ZipFile(built).extractall(tree)
    return tree


def test_lambda_package_holds_the_app_and_no_local_only_code(archive: zipfile.ZipFile) -> None:
    names = set(archive.namelist())
    wanted = {f"adapters/{a}.py" for a in SHIPPED_ADAPTERS} | {"plans.toml"}
    wanted |= {f"tenants/{p.name}" for p in TENANT_FILES}
    # every function's handler module (gateway.aws.poll.poll_handler: gateway/aws/poll.py)
    handlers = {spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py" for spec in SPECS.values()}
    assert "gateway/aws/poll.py" in handlers
    assert wanted | handlers <= names
    assert {n for n in names if n.startswith("gateway/notify/") and n.endswith(".py")} == {
        p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "gateway/notify").glob("*.py")
    }
    assert not [n for n in names if n.startswith("tenants/") and n.endswith(".md")]
    # the ops console: its modules, templates and stylesheet, and jinja2 with MarkupSafe
    console = REPO_ROOT / "gateway/console"
    data = [*console.glob("templates/*.html"), console / "static/console.css"]
    assert {p.relative_to(REPO_ROOT).as_posix() for p in data} <= names
    assert {"gateway/ops/parked.py", "gateway/audit/changes.py", "gateway/aws/console.py"} <= names
    assert {PurePosixPath(n).parts[0] for n in names} >= CONSOLE_ONLY
    for name in names:
        parts = PurePosixPath(name).parts
        assert not {"tests", "fixtures"} & set(parts), name
        assert not parts[0].startswith(FORBIDDEN_TOP), name
        assert not name.startswith(LOCAL_ONLY), name


def test_zip_entries_are_sorted_dated_1980_and_0644_or_0755(archive: zipfile.ZipFile) -> None:
    infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        mode = info.external_attr >> 16
        assert mode == (0o040755 if info.is_dir() else 0o100644), info.filename


def test_native_libraries_are_aarch64_for_cp312(archive: zipfile.ZipFile) -> None:
    libraries = [n for n in archive.namelist() if n.endswith(".so")]
    assert {n.split("/")[0] for n in libraries} >= {"pydantic_core", "cryptography"}
    for name in libraries:
        header = archive.read(name)[:20]
        assert header[:4] == b"\x7fELF", name
        assert struct.unpack("<H", header[18:20])[0] == EM_AARCH64, name
        assert name.endswith((".cpython-312-aarch64-linux-gnu.so", ".abi3.so")), name


def test_every_source_has_unchecked_312_byte_code(archive: zipfile.ZipFile) -> None:
    compiled = {n for n in archive.namelist() if n.endswith(".pyc")}
    assert all(n.endswith(".cpython-312.pyc") for n in compiled)
    for name in compiled:
        header = archive.read(name)[:8]
        assert header[:4] == MAGIC_312, name
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, name
    for name in archive.namelist():
        path = PurePosixPath(name)
        if path.parts[0] in {"gateway", "adapters"} and path.suffix == ".py":
            assert f"{path.parent}/__pycache__/{path.stem}.cpython-312.pyc" in compiled


def test_no_host_path_inside_the_package(archive: zipfile.ZipFile, source: Path) -> None:
    host = [str(source).encode(), sys.prefix.encode(), b"/tmp/", b"waybill-lambda-"]
    for info in archive.infolist():
        content = archive.read(info)
        for literal in WHEEL_LITERALS:  # in a wheel's own text, not put there by the build
            content = content.replace(literal, b"")
        assert not [h for h in host if h in content], info.filename
    handler = archive.read("gateway/aws/__pycache__/handler.cpython-312.pyc")
    assert b"/var/task/gateway/aws/handler.py" in handler


def test_two_builds_are_byte_identical(lambda_zip: Path, source: Path, tmp_path: Path) -> None:
    again = build_package(source, LAMBDA, cache_dir=tmp_path)
    assert again.name == lambda_zip.name
    assert _sha256(again) == _sha256(lambda_zip)


def test_unchanged_inputs_reuse_the_zip_without_pip(
    lambda_zip: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pip(*_: object) -> None:
        raise AssertionError("pip ran for unchanged inputs")

    monkeypatch.setattr(package, "install_requirements", no_pip)
    assert build_package(source, LAMBDA, cache_dir=lambda_zip.parent) == lambda_zip


SMALL_TREE = {
    "gateway/__init__.py": "",
    "gateway/aws/handler.py": "X = 1\n",
    "gateway/local/server.py": "",
    "adapters/acme.py": "ADAPTER = None\n",
    "tenants/demo.toml": 'plan = "free"\n',
    "tenants/README.md": "notes\n",
    "plans.toml": "[free]\n",
    "infra/lambda-requirements.txt": "pydantic==2.14.3\n",
    "tests/test_x.py": "",
}
SHIPPED_INPUTS = [  # the rest of SMALL_TREE must not change the key
    "gateway/__init__.py",
    "gateway/aws/handler.py",
    "adapters/acme.py",
    "tenants/demo.toml",
    "plans.toml",
    "infra/lambda-requirements.txt",
]
ANSWER = {"version": "3.12.1", "magic": MAGIC_312.hex()}


def _key(root: Path, target: Target = LAMBDA, answer: dict[str, str] = ANSWER) -> str:
    return cache_key(root, target, answer, root / package.LOCK)


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    for name, text in SMALL_TREE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("changed", "counts"),
    [
        *[(name, True) for name in SHIPPED_INPUTS],
        ("adapters/new.py", True),
        *[(name, False) for name in SMALL_TREE if name not in SHIPPED_INPUTS],
    ],
)
def test_cache_key_follows_every_shipped_input(
    small_tree: Path, changed: str, counts: bool
) -> None:
    before = _key(small_tree)
    with (small_tree / changed).open("a") as handle:
        handle.write("# changed\n")
    assert (_key(small_tree) != before) is counts


def test_cache_key_follows_the_target_and_its_interpreter(small_tree: Path) -> None:
    x86 = Target("manylinux2014_x86_64")
    newer = {**ANSWER, "version": "3.12.9"}
    keys = {_key(small_tree), _key(small_tree, x86), _key(small_tree, answer=newer)}
    assert len(keys) == 3


def test_a_failing_shim_is_not_taken_for_the_target_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim = tmp_path / "python2.9"
    shim.write_text("#!/bin/sh\necho 'pyenv: python2.9: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(package.INTERPRETER_ENV, raising=False)
    with pytest.raises(PackageError, match=r"no CPython 2\.9 .*install Python 2\.9") as caught:
        build_package(target=Target(python_version="2.9"), cache_dir=tmp_path / "cache")
    assert str(shim) in str(caught.value)
    assert not (tmp_path / "cache").exists()


def test_an_interpreter_of_another_version_is_refused(tmp_path: Path) -> None:
    other = Target(python_version="3.99", interpreter=sys.executable)
    with pytest.raises(PackageError, match=r"no CPython 3\.99"):
        build_package(target=other, cache_dir=tmp_path)


def _runtime_sdk(directory: Path) -> Path:
    """What the Lambda runtime bundles (boto3 and its dependencies), linked from the venv."""
    directory.mkdir()
    for name in RUNTIME_SDK:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        origin = Path(spec.origin)
        location = origin.parent if origin.name == "__init__.py" else origin
        (directory / location.name).symlink_to(location)
    return directory


FAKE_AWS = {  # no credentials, no config file, and any stray call fails on loopback
    "PATH": "/usr/bin:/bin",
    "TABLE_NAME": "waybill-test",
    "CURSOR_KEY": "k" * 32,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:9",
    "NOTIFY_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
}


def test_host_package_serves_in_a_fresh_process_with_only_itself_and_the_sdk(
    host_tree: Path, tmp_path: Path
) -> None:
    runtime = _runtime_sdk(tmp_path / "runtime")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    before = sorted(host_tree.rglob("*"))
    command = [sys.executable, "-I", "-S", str(probe), str(host_tree), str(runtime)]
    done = subprocess.run(
        command, capture_output=True, text=True, env=FAKE_AWS, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nfresh-process import of the handler set: {report['import_ms']:.0f} ms")
    assert (report["adapters"], report["broken"]) == (SHIPPED_ADAPTERS, {})
    assert report["healthz"] == [200, {"status": "ok"}]
    assert report["authorizer"] == "Unauthorized"
    assert report["notify"] == {"attempted": 0}  # the stream entry point's services build
    assert report["plans"] == sorted(tomllib.loads((REPO_ROOT / "plans.toml").read_text()))
    assert report["tenants"] == {p.stem: tomllib.loads(p.read_text())["plan"] for p in TENANT_FILES}
    assert Path(report["tenants_dir"]) == host_tree / "tenants"
    assert report["outside"] == []
    # the ingest/query (handler), authorizer and notify path never imports jinja2; the
    # console's modules do, from the package itself (every shipped module was imported)
    assert not {"jinja2", "markupsafe", "uvicorn", "pulumi"} & set(report["handler_modules"])
    assert "gateway.console.render" not in report["handler_modules"]
    assert {"jinja2", "markupsafe", "gateway.aws.console"} <= set(report["modules"])
    assert not {"uvicorn", "pulumi"} & set(report["modules"])
    assert sorted(host_tree.rglob("*")) == before  # the packaged .pyc were used as they are


def _imported(path: Path) -> set[str]:
    """Every module (or ``module.name``) ``path`` imports, at any depth in the code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_shipped_code_imports_nothing_left_out(archive: zipfile.ZipFile, source: Path) -> None:
    """Imports inside functions too (the fresh-process test only runs module-level ones)."""

    def module(path: str) -> str:
        return path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")

    shipped = {module(n) for n in archive.namelist() if n.endswith(".py")}
    gateway = (REPO_ROOT / "gateway").rglob("*.py")
    every = {module(p.relative_to(REPO_ROOT).as_posix()) for p in gateway}
    left_out = every - shipped
    assert "gateway.local.server" in left_out
    for name in (n for n in archive.namelist() if n.startswith(("gateway/", "adapters/"))):
        if name.endswith(".py"):
            assert not _imported(source / name) & left_out, name
