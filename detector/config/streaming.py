"""The ``[streaming]`` table of a pipeline file: broker, topics and timeouts of the
streaming runtime (environment overrides and credentials: ``detector.streaming.settings``)."""

from __future__ import annotations

import msgspec

from detector.config.loading import invalid, parse_duration

__all__ = ["StreamingSection"]

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
    lateness: float | str = 0.1
    idle: float | str = "0.5s"
    replay_idle: float | str = "5s"
    fetch_wait: float | str = 0.1
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
        for name in (
            "session_timeout",
            "heartbeat_interval",
            "lateness",
            "idle",
            "replay_idle",
            "fetch_wait",
            "clock_skew",
            "state_flush",
        ):
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
