"""How the Kafka clients connect: the security settings, their validation, and the keyword
arguments they give every aiokafka client and the Faust app (no broker needed).

SASL and TLS cannot be tried end to end here: the local broker (tansu) serves PLAINTEXT only.
These tests check instead that each client is built with exactly the settings Apache Kafka
expects, and that Faust maps its credentials to the same aiokafka arguments.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import certifi
import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from services import cli, config
from services.config import Settings
from services.kafka import (
    KafkaSecurity,
    admin_kwargs,
    admin_kwargs_for,
    consumer_kwargs,
    consumer_kwargs_for,
    faust_broker_settings,
    faust_settings_for,
    producer_kwargs,
    producer_kwargs_for,
)

BOOTSTRAP = "kafka-0:9093,kafka-1:9093"
PASSWORD = "s3cret-Password-42"
SASL = {
    "kafka_sasl_username": "jointcase-gateway",
    "kafka_sasl_password": PASSWORD,
}
SASL_KEYS = {"sasl_mechanism", "sasl_plain_username", "sasl_plain_password"}
# Every setting of a test comes from its arguments, none from the environment of the run.
KAFKA_VARIABLES = [name.upper() for name in Settings.model_fields if name.startswith("kafka_")]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KAFKA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def kafka_settings(protocol: str = "PLAINTEXT", **values: Any) -> Settings:
    """Settings of an external Apache Kafka with the given security protocol."""
    if protocol.startswith("SASL_"):
        values = {**SASL, **values}
    return Settings(
        kafka_bootstrap_servers=BOOTSTRAP,
        kafka_profile="kafka",
        kafka_security_protocol=protocol,
        **values,
    )


def security_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k.startswith(("security_", "sasl_", "ssl_"))}


# --- PLAINTEXT: the arguments of before ---------------------------------------------------


def test_plaintext_producer_kwargs_are_unchanged() -> None:
    for profile in ("local", "kafka"):
        assert producer_kwargs("h:9092", profile) == {
            "bootstrap_servers": "h:9092",
            "client_id": "jointcase-producer",
            "acks": "all",
            "linger_ms": 5,
            "max_batch_size": 64 * 1024,
            "request_timeout_ms": 30_000,
            "enable_idempotence": profile == "kafka",
        }


def test_plaintext_consumer_kwargs_are_unchanged() -> None:
    common = {
        "bootstrap_servers": "h:9092",
        "client_id": "c",
        "group_id": "g",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": 50,
    }
    assert consumer_kwargs("h:9092", "local", group_id="g", client_id="c") == common | {
        "session_timeout_ms": 6_000,
        "heartbeat_interval_ms": 1_000,
        "rebalance_timeout_ms": 6_000,
        "metadata_max_age_ms": 10_000,
    }
    assert consumer_kwargs("h:9092", "kafka", group_id="g", client_id="c") == common | {
        "session_timeout_ms": 30_000,
        "heartbeat_interval_ms": 3_000,
        "rebalance_timeout_ms": 60_000,
    }


def test_plaintext_admin_kwargs_are_unchanged() -> None:
    assert admin_kwargs("h:9092") == {
        "bootstrap_servers": "h:9092",
        "client_id": "jointcase-admin",
        "request_timeout_ms": 15_000,
    }


def test_plaintext_faust_settings_are_unchanged() -> None:
    assert faust_broker_settings("h1:9092,h2:9092", "kafka", partitions=12, replication=3) == {
        "broker": "kafka://h1:9092;h2:9092",
        "processing_guarantee": "at_least_once",
        "producer_acks": -1,
        "topic_partitions": 12,
        "topic_replication_factor": 3,
        "consumer_auto_offset_reset": "earliest",
    }


@pytest.mark.parametrize("profile", ["local", "kafka"])
def test_default_settings_add_nothing(profile: str) -> None:
    settings = Settings(kafka_bootstrap_servers="h:9092", kafka_profile=profile)
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert producer_kwargs_for(settings) == producer_kwargs("h:9092", profile)  # type: ignore[arg-type]
    assert consumer_kwargs_for(settings, group_id="g") == consumer_kwargs(
        "h:9092",
        profile,  # type: ignore[arg-type]
        group_id="g",
    )
    assert admin_kwargs_for(settings) == admin_kwargs("h:9092")
    assert "broker_credentials" not in faust_settings_for(settings)


# --- each protocol, for each client ---------------------------------------------------------


def all_client_kwargs(settings: Settings) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "producer", producer_kwargs_for(settings, client_id="p")
    yield "consumer", consumer_kwargs_for(settings, group_id="g")
    yield "admin", admin_kwargs_for(settings)


def test_ssl_gives_every_client_a_verifying_tls_context() -> None:
    settings = kafka_settings("SSL", kafka_ssl_cafile=certifi.where())
    expected_cas = len(ssl.create_default_context(cafile=certifi.where()).get_ca_certs())
    for client, kwargs in all_client_kwargs(settings):
        security = security_of(kwargs)
        assert set(security) == {"security_protocol", "ssl_context"}, client
        assert security["security_protocol"] == "SSL", client
        context = security["ssl_context"]
        assert isinstance(context, ssl.SSLContext), client
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname, client
        assert len(context.get_ca_certs()) == expected_cas > 0, client


def test_sasl_plaintext_sends_the_credentials_without_tls() -> None:
    settings = kafka_settings("SASL_PLAINTEXT")
    for client, kwargs in all_client_kwargs(settings):
        assert security_of(kwargs) == {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "jointcase-gateway",
            "sasl_plain_password": PASSWORD,
        }, client


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_sends_the_credentials_over_tls(mechanism: str) -> None:
    settings = kafka_settings("SASL_SSL", kafka_sasl_mechanism=mechanism)
    for client, kwargs in all_client_kwargs(settings):
        security = security_of(kwargs)
        assert isinstance(security.pop("ssl_context"), ssl.SSLContext), client
        assert security == {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": mechanism,
            "sasl_plain_username": "jointcase-gateway",
            "sasl_plain_password": PASSWORD,
        }, client


def test_the_tls_files_reach_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def create_ssl_context(**kwargs: Any) -> ssl.SSLContext:
        calls.append(kwargs)
        return ssl.create_default_context()

    monkeypatch.setattr("services.kafka.create_ssl_context", create_ssl_context)
    KafkaSecurity(
        protocol="SSL", cafile="/ca.pem", certfile="/client.pem", keyfile="/client.key"
    ).aiokafka_kwargs()
    KafkaSecurity(protocol="SSL").aiokafka_kwargs()
    assert calls == [
        {"cafile": "/ca.pem", "certfile": "/client.pem", "keyfile": "/client.key"},
        {"cafile": None, "certfile": None, "keyfile": None},
    ]


def test_security_does_not_change_the_other_arguments() -> None:
    plain = dict(all_client_kwargs(kafka_settings()))
    for client, kwargs in all_client_kwargs(kafka_settings("SASL_SSL")):
        others = {k: v for k, v in kwargs.items() if k not in security_of(kwargs)}
        assert others == plain[client], client


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
async def test_the_aiokafka_clients_accept_the_arguments(protocol: str) -> None:
    # The clients check their security arguments when built (no connection is made).
    settings = kafka_settings(protocol)
    producer = AIOKafkaProducer(**producer_kwargs_for(settings))
    consumer = AIOKafkaConsumer(**consumer_kwargs_for(settings, group_id="g"))
    admin = AIOKafkaAdminClient(**admin_kwargs_for(settings))
    try:
        for client in (producer.client, consumer._client, admin._client):
            assert client._security_protocol == protocol
            assert (client._ssl_context is not None) == protocol.endswith("SSL")
            if protocol.startswith("SASL_"):
                assert client._sasl_mechanism == "SCRAM-SHA-512"
                assert client._sasl_plain_username == "jointcase-gateway"
                assert client._sasl_plain_password == PASSWORD
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


# --- Faust ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_faust_credentials_map_to_the_same_aiokafka_arguments(protocol: str) -> None:
    settings = kafka_settings(protocol)
    conf = faust_settings_for(settings)
    mapped = dict(credentials_to_aiokafka_auth(conf["broker_credentials"]))
    ours = KafkaSecurity.from_settings(settings).aiokafka_kwargs()
    # Each call builds its own TLS context; Faust passes None where there is none.
    assert isinstance(mapped.pop("ssl_context", None), ssl.SSLContext) == protocol.endswith("SSL")
    ours.pop("ssl_context", None)
    assert mapped == ours


def test_faust_credentials_are_sasl_credentials_with_the_mechanism() -> None:
    settings = kafka_settings("SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-256")
    credentials = faust_settings_for(settings)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert (credentials.username, credentials.password) == ("jointcase-gateway", PASSWORD)
    assert PASSWORD not in repr(credentials)
    ssl_only = faust_settings_for(kafka_settings("SSL"))["broker_credentials"]
    assert isinstance(ssl_only, faust.SSLCredentials)


async def test_the_faust_app_builds_its_clients_with_the_credentials() -> None:
    # What Faust itself creates for a worker: its consumer and its producer.
    settings = kafka_settings("SASL_SSL")
    app = faust.App(
        "test-security", autodiscover=False, web_enabled=False, **faust_settings_for(settings)
    )
    # Faust's internals: the aiokafka clients its consumer thread and its producer create.
    faust_consumer: Any = app.consumer
    faust_producer: Any = app.producer
    consumer = faust_consumer._thread._create_worker_consumer(faust_consumer.transport)
    producer = faust_producer._new_producer()
    try:
        for client in (consumer._client, producer.client):
            assert client._security_protocol == "SASL_SSL"
            assert client._sasl_mechanism == "SCRAM-SHA-512"
            assert client._sasl_plain_username == "jointcase-gateway"
            assert client._sasl_plain_password == PASSWORD
            assert isinstance(client._ssl_context, ssl.SSLContext)
    finally:
        await consumer.stop()
        await producer.stop()


# --- validation -----------------------------------------------------------------------------


def problems(**values: Any) -> str:
    with pytest.raises(ValidationError) as info:
        Settings(**values)
    text = "\n".join(config.describe_errors(info.value))
    assert PASSWORD not in str(info.value) and PASSWORD not in text
    return text


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("missing", ["kafka_sasl_username", "kafka_sasl_password"])
def test_sasl_needs_a_username_and_a_password(protocol: str, missing: str) -> None:
    values = {**SASL, missing: ""}
    text = problems(
        kafka_bootstrap_servers=BOOTSTRAP,
        kafka_profile="kafka",
        kafka_security_protocol=protocol,
        **values,
    )
    assert f"{missing.upper()} is required with KAFKA_SECURITY_PROTOCOL={protocol}" in text


@pytest.mark.parametrize("protocol", ["SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_the_local_broker_is_plaintext_only(protocol: str) -> None:
    # The local profile (tansu), and no bootstrap servers at all (the embedded tansu broker).
    for values in (
        {"kafka_bootstrap_servers": BOOTSTRAP, "kafka_profile": "local"},
        {"kafka_bootstrap_servers": "", "kafka_profile": "kafka"},
    ):
        text = problems(kafka_security_protocol=protocol, **SASL, **values)
        assert f"KAFKA_SECURITY_PROTOCOL={protocol} needs an Apache Kafka" in text
        assert "PLAINTEXT only" in text


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_credentials_without_sasl_are_refused(protocol: str) -> None:
    text = problems(
        kafka_bootstrap_servers=BOOTSTRAP,
        kafka_profile="kafka",
        kafka_security_protocol=protocol,
        kafka_sasl_username="jointcase-worker",
    )
    assert "KAFKA_SASL_USERNAME" in text and "does not use SASL" in text


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_tls_files_without_tls_are_refused(protocol: str) -> None:
    text = problems(
        kafka_bootstrap_servers=BOOTSTRAP,
        kafka_profile="kafka",
        kafka_security_protocol=protocol,
        kafka_ssl_cafile="/etc/kafka/ca.pem",
        **(SASL if protocol.startswith("SASL_") else {}),
    )
    assert "KAFKA_SSL_CAFILE set" in text and "does not use TLS" in text


def test_a_tls_key_needs_its_certificate() -> None:
    text = problems(
        kafka_bootstrap_servers=BOOTSTRAP,
        kafka_profile="kafka",
        kafka_security_protocol="SSL",
        kafka_ssl_keyfile="/etc/kafka/client.key",
    )
    assert "KAFKA_SSL_KEYFILE is set without KAFKA_SSL_CERTFILE" in text


def test_unknown_protocol_and_mechanism_name_their_variable() -> None:
    text = problems(kafka_security_protocol="TLS", kafka_sasl_mechanism="GSSAPI")
    assert "KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL'" in text
    assert "KAFKA_SASL_MECHANISM: Input should be 'PLAIN'" in text


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", BOOTSTRAP)
    monkeypatch.setenv("KAFKA_PROFILE", "kafka")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "jointcase-worker")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("KAFKA_SSL_CAFILE", certifi.where())
    settings = Settings()
    assert PASSWORD not in repr(settings)
    assert KafkaSecurity.from_settings(settings) == KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        username="jointcase-worker",
        password=PASSWORD,
        cafile=certifi.where(),
    )


def test_the_command_line_reports_a_bad_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", BOOTSTRAP)
    monkeypatch.setenv("KAFKA_PROFILE", "kafka")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    config.load.cache_clear()
    try:
        assert cli.main(["relay"]) == 2
    finally:
        config.load.cache_clear()
    err = capsys.readouterr().err
    assert err == (
        "configuration: KAFKA_SASL_USERNAME is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
    )


def test_kafka_security_checks_itself() -> None:
    with pytest.raises(ValueError, match="SASL_SSL needs a username and a password"):
        KafkaSecurity(protocol="SASL_SSL", username="u")
    with pytest.raises(ValueError, match="unknown security protocol 'TLS'"):
        KafkaSecurity(protocol="TLS")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown SASL mechanism 'GSSAPI'"):
        KafkaSecurity(sasl_mechanism="GSSAPI")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keyfile needs its certfile"):
        KafkaSecurity(protocol="SSL", keyfile="/k")
    secured = KafkaSecurity(protocol="SASL_PLAINTEXT", username="u", password=PASSWORD)
    assert PASSWORD not in repr(secured)
    assert secured.faust_credentials() is not None
    assert KafkaSecurity().aiokafka_kwargs() == {} and KafkaSecurity().faust_credentials() is None
