"""The [streaming] table: checked at start, overridden from the environment, secrets kept out."""

from __future__ import annotations

import ssl

import msgspec
import pytest

from detector.errors import ConfigError
from detector.streaming.settings import (
    StreamingSection,
    bootstrap_servers,
    broker_credentials,
    client_security,
    with_environment,
)


def section(**values) -> StreamingSection:
    return msgspec.convert(values, StreamingSection)


@pytest.fixture(autouse=True)
def no_detector_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("DETECTOR_"):
            monkeypatch.delenv(name)


def test_durations_are_read_in_the_pipeline_files_units() -> None:
    settings = section(session_timeout="30s", clock_skew="2s", idle=0.25)
    assert (settings.session_timeout, settings.clock_skew, settings.idle) == (30.0, 2.0, 0.25)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"broker": "127.0.0.1:9092"}, "broker"),
        ({"security_protocol": "TLS"}, "security_protocol"),
        ({"sasl_mechanism": "GSSAPI", "security_protocol": "SASL_SSL"}, "sasl_mechanism"),
        ({"raw_partitions": 0}, "raw_partitions"),
        ({"session_timeout": "ten seconds"}, "session_timeout"),
        ({"heartbeat_interval": "20s", "session_timeout": "10s"}, "heartbeat_interval"),
    ],
)
def test_a_wrong_value_names_its_key(values: dict, key: str) -> None:
    with pytest.raises((ConfigError, msgspec.ValidationError), match=key):
        section(**values)


def test_the_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETECTOR_BROKER", "kafka://kafka-1:9093")
    monkeypatch.setenv("DETECTOR_RAW_PARTITIONS", "12")
    monkeypatch.setenv("DETECTOR_SESSION_TIMEOUT", "45s")
    settings = with_environment(section(), "p.toml")
    assert settings.broker == "kafka://kafka-1:9093"
    assert settings.raw_partitions == 12
    assert settings.session_timeout == 45.0


def test_a_wrong_value_from_the_environment_names_the_file_and_the_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DETECTOR_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ConfigError, match=r"p\.toml: streaming \(from the environment\)"):
        with_environment(section(), "p.toml")


def test_plaintext_needs_no_credentials() -> None:
    assert broker_credentials(section()) is None
    assert client_security(section()) == {"security_protocol": "PLAINTEXT"}


def test_tls_gives_a_verifying_context_to_the_worker_and_the_shipper() -> None:
    settings = section(security_protocol="SSL")
    context = broker_credentials(settings)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    options = client_security(settings)
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_sasl_without_credentials_in_the_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="DETECTOR_SASL_USERNAME"):
        client_security(section(security_protocol="SASL_SSL"))


def test_sasl_credentials_come_from_the_environment_or_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("s3cret\n")
    password_file.chmod(0o600)
    monkeypatch.setenv("DETECTOR_SASL_USERNAME", "detector")
    monkeypatch.setenv("DETECTOR_SASL_PASSWORD_FILE", str(password_file))
    settings = section(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
    options = client_security(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "detector",
        "s3cret",
    )
    credentials = broker_credentials(settings)
    assert credentials.username == "detector"
    assert credentials.password == "s3cret"


@pytest.mark.parametrize(
    ("broker", "servers"),
    [
        ("kafka://127.0.0.1:9092", "127.0.0.1:9092"),
        ("kafka://b-1:9096;kafka://b-2:9096", "b-1:9096,b-2:9096"),
        ("kafka://b-1:9096; b-2:9096", "b-1:9096,b-2:9096"),
    ],
)
def test_the_shipper_and_responder_reach_every_broker_of_the_url(broker, servers) -> None:
    assert bootstrap_servers(broker) == servers
