"""The ``[streaming]`` table of a pipeline file, with environment overrides.

Every key can be overridden by an environment variable ``DETECTOR_<KEY>`` (for example
``DETECTOR_BROKER=kafka://kafka-1:9092``), so one pipeline file serves every deployment.
Broker credentials never go in the file: ``DETECTOR_SASL_USERNAME`` and
``DETECTOR_SASL_PASSWORD`` (or ``..._FILE`` pointing at a file holding the value).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import msgspec

from detector.config.loading import invalid, parse_duration
from detector.errors import ConfigError

__all__ = ["StreamingSection", "broker_credentials", "with_environment"]

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class StreamingSection(msgspec.Struct, forbid_unknown_fields=True):
    """Where the streaming runtime reads and writes, and how it behaves on Kafka."""

    broker: str = "kafka://127.0.0.1:9092"
    app_id: str = "secret-access-detector"  # also the consumer group
    raw_topic: str = "detector.raw"
    raw_partitions: int = 4
    entries_topic: str = "detector.entries"
    events_topic: str = "detector.events"
    alerts_topic: str = "detector.alerts"
    actions_topic: str = "detector.actions"
    deadletter_topic: str = "detector.deadletter"
    notifications_topic: str = "detector.notifications"
    replication_factor: int = 1
    session_timeout: float | str = "10s"
    heartbeat_interval: float | str = "1s"
    idle: float | str = "0.5s"
    clock_skew: float | str = "1s"
    state_flush: float | str = "1s"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    web_port: int = 0
    data_dir: str = "../models/streaming"

    def __post_init__(self) -> None:
        for name in ("session_timeout", "heartbeat_interval", "idle", "clock_skew", "state_flush"):
            try:
                setattr(self, name, parse_duration(getattr(self, name)))
            except ValueError as exc:
                raise invalid(name, str(exc)) from None
        if not self.broker.startswith(("kafka://", "aiokafka://")):
            raise invalid("broker", f"must start with kafka://, not {self.broker!r}")
        if self.security_protocol not in PROTOCOLS:
            raise invalid("security_protocol", f"must be one of {', '.join(PROTOCOLS)}")
        if self.sasl_mechanism not in MECHANISMS:
            raise invalid("sasl_mechanism", f"must be one of {', '.join(MECHANISMS)}")
        if not 1 <= self.raw_partitions <= 1024:
            raise invalid("raw_partitions", "must be between 1 and 1024")
        if self.heartbeat_interval >= self.session_timeout:
            raise invalid("heartbeat_interval", "must be shorter than session_timeout")


def with_environment(section: StreamingSection, path: str) -> StreamingSection:
    """The section with ``DETECTOR_<KEY>`` environment variables applied (and checked)."""
    values: dict[str, Any] = msgspec.structs.asdict(section)
    changed = False
    for name in values:
        override = os.environ.get(f"DETECTOR_{name.upper()}")
        if override is not None:
            values[name] = int(override) if isinstance(values[name], int) else override
            changed = True
    if not changed:
        return section
    try:
        return msgspec.convert(values, StreamingSection)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ConfigError(path, "streaming (from the environment)", str(exc)) from None


def _secret(name: str) -> str | None:
    value = os.environ.get(name)
    if value:
        return value
    file = os.environ.get(f"{name}_FILE")
    if file:
        return Path(file).read_text().strip()
    return None


def broker_credentials(section: StreamingSection) -> Any:
    """Faust broker credentials from the section and the environment (``None``: none)."""
    import faust

    context = None
    if section.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=section.ssl_cafile or None)
        if section.ssl_certfile:
            context.load_cert_chain(section.ssl_certfile, keyfile=section.ssl_keyfile or None)
    if section.security_protocol.startswith("SASL"):
        username = _secret("DETECTOR_SASL_USERNAME")
        password = _secret("DETECTOR_SASL_PASSWORD")
        if not username or not password:
            raise ConfigError(
                "environment",
                "DETECTOR_SASL_USERNAME / DETECTOR_SASL_PASSWORD",
                f"required for security_protocol {section.security_protocol}",
            )
        return faust.SASLCredentials(
            username=username,
            password=password,
            ssl_context=context,
            mechanism=section.sasl_mechanism,
        )
    return context
