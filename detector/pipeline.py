"""One pipeline, ``parse → enrich → score``, shared by every runtime.

The runtime decides where records come from and where results go; the pipeline decides
what they mean. Parse errors never stop it: a malformed record goes to the dead-letter
sink with its reason, an out-of-scope one is counted, and the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from detector.errors import ParseError, StateError
from detector.event import AccessEvent, EnrichedEvent, format_time
from detector.model import RiskModel
from detector.parsers.base import Ignored, Notice, Parser
from detector.redaction import redact
from detector.scoring import Assessment

__all__ = ["CollectingSink", "DeadLetterSink", "Pipeline", "ScoredEvent"]

log = logging.getLogger(__name__)

STATE_VERSION = 1


class Enricher(Protocol):
    def enrich(self, event: EnrichedEvent) -> None: ...


class DeadLetterSink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...


class SuppressionHook(Protocol):
    """Analysts' *Benign* verdicts (``detector.actions.suppressions``): may downgrade a
    decision and say so in its reasons."""

    def apply(self, enriched: EnrichedEvent, assessment: Assessment) -> None: ...


class CollectingSink:
    """Keeps dead letters in a list (notebooks, tests, and until a runtime sets its own)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def dead_letter_record(
    reason: str, detail: str, raw: bytes, origin: str | tuple[str, int], raw_bytes: int = 4096
) -> dict[str, Any]:
    """What the dead-letter sink keeps of a record it could not use: why, where from, and
    its first ``raw_bytes`` bytes with credentials and secret values redacted."""
    if isinstance(origin, tuple):
        origin = f"{origin[0]}:{origin[1]}"
    raw = raw.rstrip(b"\r\n")
    text = raw[:raw_bytes].decode("utf-8", errors="replace")
    return {
        "reason": reason,
        "detail": redact(detail),
        "origin": origin,
        "raw": redact(text),
        "raw_bytes": len(raw),
        "truncated": len(raw) > raw_bytes,
    }


@dataclass(slots=True)
class ScoredEvent:
    """An enriched event with the model's assessment."""

    enriched: EnrichedEvent
    assessment: Assessment

    @property
    def event(self) -> AccessEvent:
        return self.enriched.event

    @property
    def decision(self) -> str | None:
        return self.assessment.decision

    def alert_record(self) -> dict[str, Any]:
        """The alert as written to ``alerts.jsonl`` and the alerts topic (schema in README)."""
        e, enriched, a = self.enriched.event, self.enriched, self.assessment
        geo, service = enriched.geo, enriched.service
        return {
            "alert_id": alert_id(e.event_id),
            "event_id": e.event_id,
            "time": format_time(e.time),
            "source": e.source,
            "identity": e.identity,
            "identity_name": e.identity_name or e.identity,
            "credential": e.credential,
            "client_ip": e.client_ip,
            "user_agent": e.user_agent,
            "action": e.action,
            "resource": e.resource,
            "outcome": e.outcome,
            "risk": a.risk,
            "decision": a.decision,
            "reasons": a.reasons,
            "detectors": a.contributions,
            "geo": geo.place() if geo is not None else None,
            "country": geo.country if geo is not None else None,
            "service": service.name if service is not None else None,
            "team": service.team if service is not None else None,
            "auto_revoke": service.auto_revoke if service is not None else False,
            "sensitivity": enriched.sensitivity.level if enriched.sensitivity else None,
        }


def alert_id(event_id: str) -> str:
    """A deterministic alert id: a replay of the same event yields the same alert."""
    return "alert-" + hashlib.sha256(event_id.encode()).hexdigest()[:24]


class Pipeline:
    """Parser, enrichers and risk model, with the counts a run reports.

    ``resume_after`` is the event time up to which a previous run already scored (restored
    with the state): older events are skipped so a restart does not alert twice.
    """

    def __init__(
        self,
        name: str,
        parser: Parser,
        enrichers: Sequence[Enricher],
        model: RiskModel,
        deadletters: DeadLetterSink | None = None,
        raw_bytes: int = 4096,
        on_notice: Callable[[Notice], None] | None = None,
    ) -> None:
        self.name = name
        self.parser = parser
        self.enrichers = list(enrichers)
        self.model = model
        self.deadletters = deadletters if deadletters is not None else CollectingSink()
        self.raw_bytes = raw_bytes
        self.on_notice = on_notice
        self.suppressions: SuppressionHook | None = None
        # Hot counters are plain ints; the rest (by reason) a Counter: see ``all_counts``.
        self.records = self.events = self.internal = self.scored = 0
        self.counts: Counter[str] = Counter()
        self.watermark = float("-inf")
        self.watermark_ids: set[str] = set()
        self.resume_after = float("-inf")
        self.resume_ids: frozenset[str] = frozenset()

    # -- parse ---------------------------------------------------------------------------

    def parse(self, record: bytes, origin: str | tuple[str, int] = "") -> list[AccessEvent]:
        """Events in one raw record; faults go to the dead-letter sink, never up."""
        self.records += 1
        parser = self.parser
        try:
            events = parser.parse(record)
        except ParseError as exc:
            self.dead_letter(exc.reason, exc.detail, record, origin)
            events = []
        except Ignored as exc:
            self.counts[f"ignored: {exc.reason}"] += 1
            events = []
        if parser.rejected or parser.ignored or parser.notices:
            self._drain_parser(origin)
        self.events += len(events)
        return events

    def flush(self, final: bool = False, now: float | None = None) -> list[AccessEvent]:
        """Events the parser held back (unanswered requests) that are due (by ``now``, the
        event time reached, if given)."""
        parser = self.parser
        try:
            events = parser.flush(final, now)
        except ParseError as exc:
            self.dead_letter(exc.reason, exc.detail, b"", "flush")
            events = []
        if parser.rejected or parser.ignored or parser.notices:
            self._drain_parser("flush")  # a held request found malformed on release
        self.events += len(events)
        return events

    def dead_letter(
        self, reason: str, detail: str, raw: bytes, origin: str | tuple[str, int]
    ) -> None:
        self.counts["deadletters"] += 1
        self.counts[f"deadletter: {reason}"] += 1
        self.deadletters.write(dead_letter_record(reason, detail, raw, origin, self.raw_bytes))

    def _drain_parser(self, origin: str | tuple[str, int]) -> None:
        for reason, count in self.parser.drain_ignored().items():
            self.counts[f"ignored: {reason}"] += count
        for rejected in self.parser.drain_rejected():
            self.dead_letter(rejected.reason, rejected.detail, rejected.record, origin)
        for notice in self.parser.drain_notices():
            self.counts[f"notice: {notice.code}"] += 1
            log.warning("%s", notice.message)
            if self.on_notice is not None:
                self.on_notice(notice)

    # -- score ---------------------------------------------------------------------------

    def score(self, event: AccessEvent) -> ScoredEvent | None:
        """Enrich and score one event; ``None`` for internal and already-scored events."""
        if event.internal:
            self.internal += 1
            return None
        time = event.time
        if time < self.resume_after or (
            time == self.resume_after and event.event_id in self.resume_ids
        ):
            self.counts["already scored"] += 1
            return None
        if time > self.watermark:
            self.watermark = time
            self.watermark_ids = {event.event_id}
        elif time == self.watermark:
            self.watermark_ids.add(event.event_id)
        else:
            self.counts["late"] += 1
        enriched = EnrichedEvent(event)
        try:
            for enricher in self.enrichers:
                enricher.enrich(enriched)
            assessment = self.model.process(enriched)
            if assessment.decision is not None and self.suppressions is not None:
                self.suppressions.apply(enriched, assessment)
        except Exception as exc:  # a bug must cost one event, not the whole stream
            log.exception("scoring failed for event %s", event.event_id)
            self.dead_letter(
                "scoring failed", f"{type(exc).__name__}: {exc}", msgspec.json.encode(event), ""
            )
            return None
        self.scored += 1
        if assessment.decision is not None:
            self.counts[assessment.decision] += 1
        return ScoredEvent(enriched, assessment)

    def all_counts(self) -> dict[str, int]:
        """Every count of the run: records, events, scored, decisions, faults by reason."""
        hot = {
            "records": self.records,
            "events": self.events,
            "internal": self.internal,
            "scored": self.scored,
        }
        return {**{k: v for k, v in hot.items() if v}, **self.counts}

    def process(self, record: bytes, origin: str | tuple[str, int] = "") -> list[ScoredEvent]:
        """Parse and score one record, in arrival order (the streaming runtime's path)."""
        scored = (self.score(event) for event in self.parse(record, origin))
        return [s for s in scored if s is not None]

    # -- state ---------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The learned state (model, parser memory, watermark) as bytes to save."""
        return pickle.dumps(
            {
                "version": STATE_VERSION,
                "pipeline": self.name,
                "model": self.model,
                "parser": self.parser,
                "watermark": self.watermark,
                "watermark_ids": self.watermark_ids,
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, data: bytes, origin: str) -> None:
        """Load state saved by :meth:`snapshot` (from a trusted, local file)."""
        try:
            saved = pickle.loads(data)  # noqa: S301 - our own state file, see README
        except Exception as exc:
            raise StateError(f"{origin}: unreadable state ({exc})") from None
        if not isinstance(saved, dict) or saved.get("version") != STATE_VERSION:
            raise StateError(f"{origin}: state of another version; start fresh with --fresh")
        if saved["pipeline"] != self.name:
            raise StateError(
                f"{origin}: state of pipeline {saved['pipeline']!r}, not {self.name!r}"
            )
        model: RiskModel = saved["model"]
        if [repr(d) for d in model.detectors] != [repr(d) for d in self.model.detectors]:
            raise StateError(
                f"{origin}: the model profile's detectors changed since this state was saved; "
                "restore the profile or start fresh with --fresh"
            )
        # Learned state comes from the file; settings (thresholds, weights, bounds) from
        # today's files.
        budget = model.scorer.budget
        model.scorer = self.model.scorer
        if budget is not None and model.scorer.budget is not None:
            budget.per_day = model.scorer.budget.per_day  # the risks seen, today's rate
            model.scorer.budget = budget
        model.store.idle_ttl = self.model.store.idle_ttl
        model.store.max_identities = self.model.store.max_identities
        parser = saved["parser"]
        for setting in ("pair_timeout", "max_pending", "max_known_tokens"):
            if hasattr(self.parser, setting):
                setattr(parser, setting, getattr(self.parser, setting))
        self.model = model
        self.parser = parser
        self.watermark = self.resume_after = saved["watermark"]
        self.watermark_ids = set(saved["watermark_ids"])
        self.resume_ids = frozenset(saved["watermark_ids"])
