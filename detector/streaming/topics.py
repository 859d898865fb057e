"""The topics of one pipeline's streaming runtime."""

from __future__ import annotations

from typing import Any

from detector.streaming.settings import StreamingSection

__all__ = ["Topics"]


class Topics:
    """Raw lines in; entries and events between the stages; alerts, actions, dead letters
    and deduplicated notifications out (JSON, schemas in the README)."""

    def __init__(self, app: Any, settings: StreamingSection, partitions: int) -> None:
        def topic(name: str, count: int) -> Any:
            return app.topic(
                name,
                partitions=count,
                key_serializer="raw",
                value_serializer="raw",
                internal=True,
            )

        self.raw = topic(settings.raw_topic, settings.raw_partitions)
        self.entries = topic(settings.entries_topic, partitions)
        self.events = topic(settings.events_topic, partitions)
        self.alerts = topic(settings.alerts_topic, partitions)
        self.actions = topic(settings.actions_topic, partitions)
        self.deadletters = topic(settings.deadletter_topic, partitions)
        self.notifications = topic(settings.notifications_topic, partitions)
