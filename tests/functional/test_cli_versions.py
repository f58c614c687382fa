"""``waybill versions prune --stack`` on moto's Lambda: old versions go, what an alias
refers to (a canary's weighted version too) and the newest N stay, ``$LATEST`` always."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.aws.functions import ALIAS, function_name
from gateway.aws.versions import prune_function
from gateway.cli import main

Run = Callable[..., tuple[int, str, str]]
CODE = io.BytesIO()
with zipfile.ZipFile(CODE, "w") as archive:
    archive.writestr("handler.py", "def handler(event, context):\n    return None\n")


@pytest.fixture
def lam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("lambda")


def deploy(lam: Any, name: str, versions: int) -> None:
    """A function with ``versions`` published versions (1 … versions), as deployments leave it."""
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": CODE.getvalue()},
    )
    for n in range(versions):  # a change each time, or Lambda publishes nothing new
        lam.update_function_configuration(FunctionName=name, Description=f"deployment {n + 1}")
        lam.publish_version(FunctionName=name)


def versions(lam: Any, name: str) -> list[str]:
    return [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]


@pytest.fixture
def run(lam: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(["versions", "prune", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def stack(lam: Any) -> dict[str, str]:
    """dev's ingest: 8 versions, ``live`` on 2 with a canary on 5; its sweeper: 2, ``live``
    on 2; the other functions not deployed."""
    ingest, sweeper = function_name("dev", "ingest"), function_name("dev", "sweeper")
    deploy(lam, ingest, 8)
    lam.create_alias(
        FunctionName=ingest,
        Name=ALIAS,
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"5": 0.1}},
    )
    deploy(lam, sweeper, 2)
    lam.create_alias(FunctionName=sweeper, Name=ALIAS, FunctionVersion="2")
    return {"ingest": ingest, "sweeper": sweeper}


def test_prune_keeps_aliased_versions_the_canary_and_the_newest(
    lam: Any, run: Run, stack: dict[str, str]
) -> None:
    code, out, _ = run("--stack", "dev")
    assert code == 0
    assert versions(lam, stack["ingest"]) == ["$LATEST", "2", "5", "6", "7", "8"]
    assert versions(lam, stack["sweeper"]) == ["$LATEST", "1", "2"]  # fewer than --keep
    assert f"{stack['ingest']}: deleted 1, 3, 4; kept 2, 5, 6, 7, 8 (aliased: 2, 5)" in out
    assert f"{function_name('dev', 'poller')}: no such function" in out


def test_keep_sets_how_many_of_the_newest_stay(lam: Any, run: Run, stack: dict[str, str]) -> None:
    assert run("--stack", "dev", "--keep", "1")[0] == 0
    assert versions(lam, stack["ingest"]) == ["$LATEST", "2", "5", "8"]
    assert versions(lam, stack["sweeper"]) == ["$LATEST", "2"]


def test_a_dry_run_lists_what_it_would_delete_and_deletes_nothing(
    lam: Any, run: Run, stack: dict[str, str]
) -> None:
    code, out, _ = run("--stack", "dev", "--dry-run")
    assert code == 0
    assert f"{stack['ingest']}: would delete 1, 3, 4;" in out
    assert versions(lam, stack["ingest"]) == ["$LATEST", *map(str, range(1, 9))]


def test_json_says_per_function_what_was_deleted_and_kept(run: Run, stack: dict[str, str]) -> None:
    code, out, _ = run("--stack", "dev", "--json", "--dry-run")
    document = json.loads(out)
    assert code == 0 and document["dry_run"] is True
    ingest = next(f for f in document["functions"] if f["function"] == stack["ingest"])
    assert ingest["deleted"] == ["1", "3", "4"]
    assert ingest["kept"] == ["2", "5", "6", "7", "8"] and ingest["referenced"] == ["2", "5"]
    missing = [f["function"] for f in document["functions"] if not f["found"]]
    assert len(missing) == 5 and len(document["functions"]) == 7  # the console's too


def test_another_stacks_functions_are_never_touched(lam: Any, run: Run) -> None:
    """``dev-2``'s names start with ``waybill-dev-``: pruning dev must not see them."""
    other = function_name("dev-2", "ingest")
    deploy(lam, other, 5)
    assert run("--stack", "dev")[0] == 0
    assert versions(lam, other) == ["$LATEST", "1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    "argv", [["--stack", "dev", "--keep", "0"], ["--stack", "no/such"]], ids=["keep", "stack"]
)
def test_a_bad_keep_or_stack_name_is_refused(run: Run, argv: list[str]) -> None:
    code, _, err = run(*argv)
    assert code == 2 and err.startswith("waybill: ")


def test_a_version_an_alias_took_meanwhile_is_kept_not_an_error(
    lam: Any, monkeypatch: pytest.MonkeyPatch, stack: dict[str, str]
) -> None:
    """Lambda refuses to delete a version an alias refers to (a deployment running now)."""
    delete = lam.delete_function

    def refuse_three(**kwargs: Any) -> Any:
        if kwargs["Qualifier"] == "3":
            error = {"Error": {"Code": "ResourceConflictException", "Message": "alias"}}
            raise lam.exceptions.ResourceConflictException(error, "DeleteFunction")
        return delete(**kwargs)

    monkeypatch.setattr(lam, "delete_function", refuse_three)
    pruned = prune_function(lam, stack["ingest"], keep=3, dry_run=False)
    assert (pruned.deleted, pruned.in_use) == (("1", "4"), ("3",))
    assert "3" in pruned.kept and "3" in versions(lam, stack["ingest"])
