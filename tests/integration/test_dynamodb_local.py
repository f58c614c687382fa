"""DynamoDB Local, the real engine: start, use, persist across a restart, stop."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from gateway.local.dynamodb_local import DynamoDBLocal, DynamoDBLocalError, port_is_free

pytestmark = pytest.mark.integration


def client_for(endpoint_url: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-west-2",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_the_session_fixture_serves_a_working_engine(dynamodb_local_endpoint: str) -> None:
    assert dynamodb_local_endpoint.startswith("http://127.0.0.1:")
    client = client_for(dynamodb_local_endpoint)
    name = f"t-{uuid.uuid4().hex[:12]}"
    create_table(client, name)
    client.put_item(
        TableName=name,
        Item={"pk": {"S": "a"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=name,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    client.delete_table(TableName=name)


def test_data_dir_keeps_tables_and_items_across_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "dynamodb"
    with DynamoDBLocal(data_dir=data_dir) as first:
        client = client_for(first.endpoint_url)
        create_table(client, "shipments")
        client.put_item(TableName="shipments", Item={"pk": {"S": "1Z999"}, "n": {"N": "7"}})
        first_port = first.port
    assert port_is_free(first_port), "the port is released on stop"
    assert first.log_path == data_dir / "dynamodb-local.log"

    with DynamoDBLocal(data_dir=data_dir) as second:
        client = client_for(second.endpoint_url)
        item = client.get_item(TableName="shipments", Key={"pk": {"S": "1Z999"}})["Item"]
    assert item == {"pk": {"S": "1Z999"}, "n": {"N": "7"}}


def test_in_memory_data_is_gone_after_a_restart_and_the_temp_dir_is_removed() -> None:
    with DynamoDBLocal(in_memory=True) as ddb:
        create_table(client_for(ddb.endpoint_url), "scratch")
        log_path = ddb.log_path
        assert log_path is not None and log_path.is_file()
        process = ddb._process
        assert process is not None
    assert process.returncode is not None, "the JVM is stopped"
    assert not log_path.parent.exists()
    with DynamoDBLocal(in_memory=True) as ddb:
        assert client_for(ddb.endpoint_url).list_tables()["TableNames"] == []


def test_stop_is_idempotent_and_the_endpoint_is_gone_after_it() -> None:
    ddb = DynamoDBLocal(in_memory=True).start()
    ddb.stop()
    ddb.stop()
    with pytest.raises(DynamoDBLocalError, match="not running"):
        _ = ddb.endpoint_url


def test_a_taken_port_is_refused_rather_than_reaching_another_server(
    dynamodb_local_endpoint: str,
) -> None:
    taken = int(dynamodb_local_endpoint.rsplit(":", 1)[1])
    with pytest.raises(DynamoDBLocalError, match=f"port {taken} is already in use"):
        DynamoDBLocal(in_memory=True, port=taken).start()


def test_one_data_dir_serves_one_process_at_a_time(tmp_path: Path) -> None:
    with DynamoDBLocal(data_dir=tmp_path), pytest.raises(DynamoDBLocalError, match="in use"):
        DynamoDBLocal(data_dir=tmp_path).start()


def test_a_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(DynamoDBLocalError, match="Java not found"):
        DynamoDBLocal(in_memory=True).start()


def test_an_old_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(DynamoDBLocalError, match="Java 8; DynamoDB Local needs >= 17"):
        DynamoDBLocal(in_memory=True).start()


def test_a_missing_install_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WAYBILL_DYNAMODB_LOCAL_DIR", str(tmp_path))
    with pytest.raises(DynamoDBLocalError, match="make dynamodb-local"):
        DynamoDBLocal(in_memory=True).start()


def test_a_jar_that_dies_at_startup_reports_the_log_tail(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "DynamoDBLocal.jar").write_bytes(b"not a jar")
    with pytest.raises(DynamoDBLocalError, match=r"exited with code \d+ during startup") as info:
        DynamoDBLocal(in_memory=True, install_dir=broken, startup_timeout=20).start()
    assert "jarfile" in str(info.value).lower()


def test_exactly_one_storage_mode() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        DynamoDBLocal()
    with pytest.raises(ValueError, match="exactly one"):
        DynamoDBLocal(in_memory=True, data_dir=Path("x"))
