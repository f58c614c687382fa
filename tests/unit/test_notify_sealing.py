"""Endpoint secrets at rest: sealed, bound to their endpoint, keyed locally or by KMS (moto)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.notify.sealing import Sealer, SealError, kms_data_key, local_key
from gateway.store.keys import NOTIFY_KEY_ITEM
from gateway.store.table import ensure_table

SECRET = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the published Standard Webhooks test vector


def test_a_sealed_secret_opens_only_for_its_endpoint_and_only_untampered(tmp_path: Path) -> None:
    sealer = Sealer(local_key(tmp_path))
    sealed = sealer.seal(SECRET, "acme/ep_1")
    assert SECRET not in sealed and sealer.open(sealed, "acme/ep_1") == SECRET
    assert sealer.seal(SECRET, "acme/ep_1") != sealed  # a fresh nonce each time
    with pytest.raises(SealError):
        sealer.open(sealed, "globex/ep_1")  # copied to another tenant's endpoint
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        sealer.open(tampered, "acme/ep_1")
    with pytest.raises(SealError):
        sealer.open(b"\x02" + sealed[1:], "acme/ep_1")  # an unknown version


def test_the_local_key_is_one_private_file_shared_by_every_process(tmp_path: Path) -> None:
    sealed = Sealer(local_key(tmp_path)).seal(SECRET, "acme/ep_1")
    path = tmp_path / "notify.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_bytes()) == 32
    assert Sealer(local_key(tmp_path)).open(sealed, "acme/ep_1") == SECRET  # another process
    with pytest.raises(SealError):
        Sealer(local_key(tmp_path / "elsewhere")).open(sealed, "acme/ep_1")


@pytest.fixture
def aws() -> Any:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-west-2")
        ensure_table(dynamodb, "waybill-test")
        kms = boto3.client("kms", region_name="us-west-2")
        yield dynamodb, kms, kms.create_key()["KeyMetadata"]["KeyId"]


def test_on_aws_the_data_key_is_made_once_and_kept_only_as_kms_ciphertext(aws: Any) -> None:
    dynamodb, kms, key_id = aws
    calls: list[str] = []

    def client() -> Any:
        calls.append("kms")
        return kms

    first = Sealer(kms_data_key(client, key_id, dynamodb, "waybill-test"))
    sealed = first.seal(SECRET, "acme/ep_1")
    first.seal(SECRET, "acme/ep_2")
    assert calls == ["kms"]  # the key is loaded once per process
    stored = dynamodb.get_item(TableName="waybill-test", Key=NOTIFY_KEY_ITEM)["Item"]
    blob = bytes(stored["blob"]["B"])
    second = Sealer(kms_data_key(lambda: kms, key_id, dynamodb, "waybill-test"))
    assert second.open(sealed, "acme/ep_1") == SECRET  # another container: same key
    plaintext = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"waybill": "endpoint-secrets"})[
        "Plaintext"
    ]
    assert plaintext not in blob and len(plaintext) == 32


def test_two_containers_making_the_first_key_at_once_agree_on_one(aws: Any) -> None:
    dynamodb, kms, key_id = aws
    loaders = [kms_data_key(lambda: kms, key_id, dynamodb, "waybill-test") for _ in range(4)]
    keys: list[bytes] = []
    barrier = threading.Barrier(len(loaders))

    def load(loader: Any) -> None:
        barrier.wait()
        keys.append(loader())

    threads = [threading.Thread(target=load, args=(loader,)) for loader in loaders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1
