"""The response in the streaming runtime: one process acting on the workers' decisions.

Workers scale out by partitions, but revocations and Slack messages go through one
responder and its ledger (SQLite, on the machine that runs ``detector respond``): the storm
guard then counts across every worker, and a credential is revoked and recorded once. It
reads, as its own consumer group (``<app_id>-respond``):

- ``detector.actions`` — revoke decisions, each to :meth:`Responder.handle_request`;
- ``detector.notifications`` — every alert once (the workers' dedup by alert id), each to
  :meth:`Responder.handle_alert` (posted to Slack; an alert on a revocable credential gets
  its ledger row, so its *Revoke* button has something to act on).

Offsets are committed only after the responder has recorded a batch in its ledger; after a
crash the batch is read again and the ledger recognises every action id (deterministic
from the event), so nothing is done twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from detector.actions.responder import Responder
from detector.config.streaming import StreamingSection
from detector.streaming.settings import bootstrap_servers

__all__ = ["ResponseConsumer"]

log = logging.getLogger(__name__)


class ResponseConsumer:
    """Feeds the actions and notifications topics to one responder, at least once."""

    def __init__(
        self, settings: StreamingSection, responder: Responder, security: dict[str, Any]
    ) -> None:
        self.settings = settings
        self.responder = responder
        self.security = security
        self.counts: Counter[str] = Counter()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; commit behind what the ledger holds."""
        settings = self.settings
        consumer = AIOKafkaConsumer(
            settings.actions_topic,
            settings.notifications_topic,
            bootstrap_servers=bootstrap_servers(settings.broker),
            group_id=f"{settings.app_id}-respond",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=int(settings.fetch_wait * 1000),
            session_timeout_ms=int(settings.session_timeout * 1000),
            heartbeat_interval_ms=int(settings.heartbeat_interval * 1000),
            metadata_max_age_ms=5_000,  # topics the workers create later are found soon
            **self.security,
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                if not batches:
                    continue
                records = [(tp.topic, r.value) for tp, rs in batches.items() for r in rs]
                # Vault and Slack calls block: off the event loop, so heartbeats go on.
                await asyncio.to_thread(self.handle_all, records)
                await consumer.commit()
        finally:
            await consumer.stop()

    def handle_all(self, records: list[tuple[str, bytes | None]]) -> None:
        for topic, value in records:
            self.handle(topic, value)

    def handle(self, topic: str, value: bytes | None) -> None:
        """One record; a malformed one is logged and counted, never retried forever."""
        try:
            if topic == self.settings.actions_topic:
                self.responder.handle_request(value or b"")
                self.counts["action requests"] += 1
            else:
                record = orjson.loads(value or b"")
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                self.responder.handle_alert(record)
                self.counts["alerts"] += 1
        except (ValueError, KeyError, TypeError) as exc:
            log.error("%s: a record the responder cannot use (%s); skipped", topic, exc)
            self.counts["refused"] += 1
