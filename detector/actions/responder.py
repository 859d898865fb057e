"""The responder: from a decision to an action on production, recorded before and after.

It is the :class:`~detector.sinks.Sink` the local runtime hands every scored event to, and
the object the streaming runtime's agents call with plain JSON: an *action request* from
the ``detector.actions`` topic (:meth:`Responder.handle_request`) or an alert record from
``detector.alerts`` (:meth:`Responder.handle_alert`). For each request it

1. drops a request it has seen before (the same event replayed does nothing new);
2. finds the credential's ledger row (one per credential: revoked once, recorded once);
3. asks the guards (:mod:`detector.actions.guards`) what may be done: revoke now, ask an
   approver (storm guard, ``auto_revoke = false``, a stale event), only offer a button (an
   alert), or never (the never-revoke list);
4. writes the request to the ledger, looks the accessor up (the blast radius), writes that,
   revokes, writes the result — or, with Vault unreachable or answering 5xx, leaves the row
   queued for the dispatcher thread, which retries it with backoff until Vault answers;
   a 403 is logged as an error and marked failed, never retried;
5. queues the Slack message (the alert, what was done, the buttons) in the outbox.

Action request (JSON, schema ``detector.action/1``)::

    {
      "schema": "detector.action/1",
      "action_id": "act-<24 hex>",     sha256(event_id NUL credential): deterministic, so
                                        a replayed event yields the same id
      "kind": "revoke-token",          or "revoke-lease" (credential is then a lease id)
      "credential": "gG9FHe1Q...",     token accessor or lease id, never a token
      "decision": "revoke",            the engine's decision: "revoke" asks for a
                                        revocation; "alert" only offers one (a button)
      "event_id": "...", "alert_id": "alert-...",
      "time": "2026-11-28T05:21:32.156Z", "epoch": 1795843292.156,   event time
      "identity": "...", "identity_name": "approle",
      "service": "cart", "team": "shop", "auto_revoke": true,   from the inventory
      "policies": ["cart", "default"],  the token's policies as audited
      "risk": 0.925, "reasons": ["..."], "detectors": ["location", "resource"],
      "decided_by": "auto",
      "alert": {...}                   the alert record (alerts.jsonl schema), for Slack
    }

:func:`action_request` builds one from a scored event: for every event with a decision
and a credential that can be revoked (an accessor in the clear). In the streaming runtime
the actions agent passes each record of ``detector.actions`` to
:meth:`Responder.handle_request` (an action request, or an alert record: it is converted
by :func:`request_from_alert`), which acts and posts its alert; the alerts agent passes
each record of ``detector.alerts`` to :meth:`Responder.handle_alert`, which leaves revoke
decisions on a revocable credential to the actions agent and posts the rest, so nothing is
posted twice (a request id seen before does nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec

from detector.actions.errors import (
    CredentialGone,
    VaultForbidden,
    VaultRejected,
    VaultUnavailable,
)
from detector.actions.guards import ESCALATE, OFFER, PROTECT, REVOKE, Guards, StormCounts
from detector.actions.ledger import CLICKABLE, ActionRow, Ledger, make_action_id
from detector.actions.slack_notifier import SlackNotifier
from detector.actions.usual_hours import UsualHours
from detector.actions.vault import BlastRadius, VaultRevoker
from detector.pipeline import ScoredEvent

__all__ = ["SCHEMA", "ActionRequest", "Responder", "action_request", "request_from_alert"]

log = logging.getLogger(__name__)

SCHEMA = "detector.action/1"
_STATUS_OF = {PROTECT: "protected", OFFER: "offered", ESCALATE: "escalated"}
_CLAIM = 120.0  # seconds an attempt holds a row against other threads and processes


class ActionRequest(msgspec.Struct, kw_only=True, omit_defaults=False):
    """An action request, as produced to the ``detector.actions`` topic (see module doc)."""

    action_id: str
    kind: str
    credential: str
    decision: str
    event_id: str
    identity: str
    risk: float
    schema: str = SCHEMA
    alert_id: str | None = None
    time: str | None = None
    epoch: float = 0.0
    identity_name: str = ""
    service: str | None = None
    team: str | None = None
    auto_revoke: bool = False
    policies: list[str] = []
    reasons: list[str] = []
    detectors: list[str] = []
    decided_by: str = "auto"
    alert: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.schema != SCHEMA:
            raise msgspec.ValidationError(f"unknown schema {self.schema!r}; expected {SCHEMA}")
        if self.kind not in ("revoke-token", "revoke-lease"):
            raise msgspec.ValidationError(f"unknown kind {self.kind!r}")
        if self.decision not in ("alert", "revoke"):
            raise msgspec.ValidationError(f"unknown decision {self.decision!r}")
        if not self.credential or self.credential.startswith("hmac-sha256:"):
            raise msgspec.ValidationError("credential must be an accessor or lease id in the clear")


def request_from_alert(alert: dict[str, Any]) -> ActionRequest | None:
    """The action request an alert record implies, or ``None`` (no decision, or no
    credential in the clear). An alert record does not name the token's policies: the
    never-revoke list is then checked on the looked-up token, before revoking."""
    credential = alert.get("credential")
    decision = alert.get("decision")
    if decision not in ("alert", "revoke") or not credential:
        return None
    if str(credential).startswith("hmac-sha256:"):
        return None
    return ActionRequest(
        action_id=make_action_id(str(alert["event_id"]), str(credential)),
        kind="revoke-token",
        credential=str(credential),
        decision=str(decision),
        event_id=str(alert["event_id"]),
        alert_id=alert.get("alert_id"),
        time=alert.get("time"),
        epoch=_epoch_of(alert),
        identity=str(alert["identity"]),
        identity_name=str(alert.get("identity_name") or alert["identity"]),
        service=alert.get("service"),
        team=alert.get("team"),
        auto_revoke=bool(alert.get("auto_revoke")),
        risk=float(alert.get("risk") or 0.0),
        reasons=list(alert.get("reasons") or []),
        detectors=sorted(alert.get("detectors") or {}),
        alert=alert,
    )


def action_request(scored: ScoredEvent) -> ActionRequest | None:
    """The action request for a scored event, or ``None`` (no decision, or no credential
    the detector could revoke: none named, or an accessor Vault wrote hashed)."""
    event, assessment = scored.event, scored.assessment
    if assessment.decision is None or not event.credential or event.credential_hashed:
        return None
    alert = scored.alert_record()
    service = scored.enriched.service
    return ActionRequest(
        action_id=make_action_id(event.event_id, event.credential),
        kind="revoke-token",
        credential=event.credential,
        decision=assessment.decision,
        event_id=event.event_id,
        alert_id=alert["alert_id"],
        time=alert["time"],
        epoch=event.time,
        identity=event.identity,
        identity_name=event.identity_name or event.identity,
        service=service.name if service is not None else None,
        team=service.team if service is not None else None,
        auto_revoke=service.auto_revoke if service is not None else False,
        policies=list(event.policies),
        risk=assessment.risk,
        reasons=assessment.reasons,
        detectors=sorted(alert["detectors"]),
        alert=alert,
    )


class Responder:
    """Acts on decisions; see the module docstring for the order of things.

    Parameters
    ----------
    ledger
        The ledger (also the durable queue and the Slack outbox).
    guards
        What may be done automatically.
    revoker
        Revokes through Vault; ``None`` (no ``[vault]``) only records (dry run).
    notifier
        Posts to Slack; ``None`` posts nothing.
    dry_run
        Record what would be revoked, revoke nothing.
    retry_initial, retry_max
        Backoff between attempts while Vault is unavailable (doubling).
    shutdown_grace
        Seconds :meth:`close` keeps delivering what is due before leaving the rest queued
        in the ledger for the next run.
    background
        Run the dispatcher thread (retries, Slack delivery); tests may call
        :meth:`run_due` themselves instead.
    clock
        Wall-clock time.

    ``metrics`` may be set to an object with ``revocation(outcome)`` (the Prometheus
    metrics of :mod:`detector.metrics`): each finished attempt is counted there.
    """

    name = "responder"

    def __init__(
        self,
        ledger: Ledger,
        guards: Guards,
        revoker: VaultRevoker | None = None,
        notifier: SlackNotifier | None = None,
        dry_run: bool = True,
        retry_initial: float = 2.0,
        retry_max: float = 300.0,
        shutdown_grace: float = 10.0,
        background: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.guards = guards
        self.revoker = revoker
        self.notifier = notifier
        self.dry_run = dry_run or revoker is None
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self.hours = UsualHours()
        self.metrics: Any = None
        self.errors = 0  # revocations Vault refused (403, bad request): see the ledger
        self.counts: dict[str, int] = {}
        self._vault = threading.Lock()  # one Vault call at a time: ordered, and hvac is shared
        self._wake = threading.Event()
        self._stopping = False
        self._closed = False
        self._final: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._dispatch, name="detector-responder", daemon=True
            )
            self._thread.start()

    # -- the Sink protocol ---------------------------------------------------------------

    def handle(self, scored: ScoredEvent) -> None:
        """Act on one scored event (most have no decision: their hour is remembered)."""
        event = scored.event
        if scored.assessment.decision is None:
            self.hours.observe(event.identity, event.time)
            return
        request = action_request(scored)
        if request is None:
            self.handle_alert(scored.alert_record())
        else:
            self.handle_request(request)

    def flush(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Stop the dispatcher, deliver what is due within the grace period, close."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.shutdown_grace + 30.0)
        deadline = time.monotonic() + self.shutdown_grace
        while True:
            next_due = self.run_due()
            if next_due is None:
                break
            wait = next_due - self.clock()
            if time.monotonic() + max(wait, 0.0) > deadline:
                break
            time.sleep(max(wait, 0.01))
        self._closed = False  # for summary() below
        self._final = self.summary()
        self._closed = True
        self.ledger.close()

    def summary(self) -> dict[str, Any]:
        """For the run's summary: attempts by outcome and what still waits."""
        if self._closed:
            return self._final
        return {
            "attempts": dict(sorted(self.counts.items())),
            "waiting_for_vault": self.ledger.waiting(),
            "slack_messages_waiting": len(self.ledger.outbox("pending")),
        }

    # -- the streaming runtime's entry points -------------------------------------------

    def handle_alert(self, alert: dict[str, Any]) -> None:
        """Post an alert record from the alerts topic. A revoke decision on a revocable
        credential is left to its action request (the actions topic); an alert decision
        on one gets its ledger row, so its *Revoke* button has something to act on."""
        request = request_from_alert(alert)
        if request is not None:
            if request.decision == "alert":
                self.handle_request(request)
            return
        if self.notifier is None:
            return
        if alert.get("alert_id") and self.ledger.seen_request(str(alert["alert_id"]), self.clock()):
            return  # a replayed alert: posted the first time
        usual = self._usual_hours(alert)
        self.notifier.notify_alert(alert, None, usual)

    def handle_request(self, request: ActionRequest | dict[str, Any] | bytes) -> ActionRow | None:
        """Act on one action request (or an alert record, as the streaming runtime may
        put on the actions topic); the credential's ledger row afterwards (``None`` for a
        request seen before, or an alert record with nothing to revoke)."""
        if not isinstance(request, ActionRequest):
            decoded = _decode_request(request)
            if decoded is None:
                return None
            request = decoded
        now = self.clock()
        row = self._decide(request, now)
        if row is None:
            return None
        if row.status == "queued" and row.decided_by == "auto":
            row = self._attempt_now(row)
        elif row.status == "dry-run" and row.blast_radius is None:
            row = self._dry_run_radius(row)
        if self.notifier is not None:
            alert = request.alert or _alert_of(request)
            self.notifier.notify_alert(alert, row, self._usual_hours(alert))
            self._wake.set()
        return row

    # -- Slack buttons -------------------------------------------------------------------

    def approve(self, action_id: str, user: str) -> ActionRow | None:
        """An approver's *Revoke*: revoke now (guards other than never-revoke do not
        apply: a person decided). The row afterwards, ``None`` if there is no such row."""
        row = self.ledger.get(action_id)
        if row is None:
            return None
        if row.status not in CLICKABLE:
            return row  # already done, or never allowed: say what it is
        now = self.clock()
        protected = self.guards.protected(row.identity, row.identity_name, row.policies, None)
        if protected is not None:
            return self.ledger.transition(
                action_id, "protected", protected, now, expect=CLICKABLE, guard=protected
            )
        if self.dry_run:
            done = self.ledger.transition(
                action_id,
                "dry-run",
                f"approved by {user}; dry run: not revoked",
                now,
                expect=CLICKABLE,
                decided_by=f"slack:{user}",
                decided=now,
            )
            return done or self.ledger.get(action_id)
        queued = self.ledger.transition(
            action_id,
            "queued",
            f"approved by {user}",
            now,
            expect=CLICKABLE,
            decided_by=f"slack:{user}",
            decided=now,
            next_attempt=now,
        )
        if queued is None:
            return self.ledger.get(action_id)
        row = self._attempt_now(queued)
        if self.notifier is not None:
            self.notifier.notify_outcome(None, row)
            self._wake.set()
        return row

    def mark_benign(
        self,
        identity: str,
        detectors: list[str],
        starts: float,
        user: str,
        duration: float,
        alert_id: str | None = None,
        action_id: str | None = None,
    ) -> float:
        """An approver's *Benign*: suppress this identity's pattern until the returned time."""
        now = self.clock()
        expires = now + duration
        self.ledger.add_suppression(
            "benign",
            identity,
            detectors,
            starts,
            expires,
            now,
            f"slack:{user}",
            alert_id=alert_id,
            action_id=action_id,
        )
        if action_id is not None:
            self.ledger.transition(
                action_id, "benign", f"marked benign by {user}", now, expect=CLICKABLE
            )
        return expires

    def snooze(self, identity: str, starts: float, user: str, duration: float) -> float:
        """An approver's *Snooze*: no new alert messages for this identity for a while
        (revocations are still posted)."""
        now = self.clock()
        self.ledger.add_suppression(
            "snooze", identity, (), starts, now + duration, now, f"slack:{user}"
        )
        return now + duration

    # -- deciding ------------------------------------------------------------------------

    def _decide(self, request: ActionRequest, now: float) -> ActionRow | None:
        """Guards and the ledger row, in one transaction with the request's id (so a
        request is either recorded and decided, or not seen at all; and the storm guard's
        count and the row it allows cannot race another thread or process). ``None`` for
        a request seen before."""
        with self.ledger.transaction():
            if self.ledger.seen_request(request.action_id, now):
                return None
            existing = self.ledger.by_credential(request.credential)
            if existing is not None and not (
                existing.status in CLICKABLE and request.decision == "revoke"
            ):
                return existing  # acted on, or still only an offer: nothing new
            storm = self._storm(request.service, now)
            verdict = self.guards.decide(
                request.decision,
                request.identity,
                request.identity_name,
                request.policies,
                request.service,
                request.auto_revoke,
                request.epoch,
                now,
                storm,
            )
            status, fields = self._status(verdict.route, now)
            if existing is not None:
                if existing.status == status and existing.guard == verdict.reason:
                    return existing
                detail = f"revoke decision on event {request.event_id}: {verdict.reason or status}"
                changed = self.ledger.transition(
                    existing.action_id,
                    status,
                    detail,
                    now,
                    expect=CLICKABLE,
                    guard=verdict.reason,
                    event_id=request.event_id,
                    alert_id=request.alert_id,
                    event_time=request.epoch,
                    risk=request.risk,
                    reasons=request.reasons,
                    decision=request.decision,
                    **fields,
                )
                return changed or existing
            row = ActionRow(
                action_id=request.action_id,
                kind=request.kind,
                credential=request.credential,
                event_id=request.event_id,
                alert_id=request.alert_id,
                event_time=request.epoch,
                identity=request.identity,
                identity_name=request.identity_name,
                service=request.service,
                team=request.team,
                policies=list(request.policies),
                risk=request.risk,
                reasons=list(request.reasons),
                detectors=list(request.detectors),
                decision=request.decision,
                status=status,
                guard=verdict.reason,
                dry_run=self.dry_run,
                created=now,
                updated=now,
                **fields,
            )
            self.ledger.insert(row, f"requested ({request.decision}): {verdict.reason or status}")
            return row

    def _status(self, route: str, now: float) -> tuple[str, dict[str, Any]]:
        if route != REVOKE:
            return _STATUS_OF[route], {}
        decided = {"decided_by": "auto", "decided": now}
        if self.dry_run:
            return "dry-run", decided
        # The inline attempt comes first; the dispatcher takes the row only if it fails.
        return "queued", {**decided, "next_attempt": now + self.retry_initial}

    def _storm(self, service: str | None, now: float) -> StormCounts:
        since = now - self.guards.storm_window
        total = self.ledger.automatic_since(since)
        own = self.ledger.automatic_since(since, service) if service is not None else 0
        return StormCounts(total, own)

    # -- revoking ------------------------------------------------------------------------

    def _attempt_now(self, row: ActionRow) -> ActionRow:
        """Try at once unless older requests wait for Vault (they keep their turn)."""
        if self.ledger.waiting() > 1:
            self.ledger.transition(
                row.action_id,
                "queued",
                "behind other requests waiting for Vault",
                self.clock(),
                expect=("queued",),
                next_attempt=self.clock(),
            )
            self._wake.set()
            return self.ledger.get(row.action_id) or row
        return self._execute(row.action_id)

    def _execute(self, action_id: str) -> ActionRow:
        """One attempt: claim, look up, record, revoke, record."""
        assert self.revoker is not None
        with self._vault:
            now = self.clock()
            row = self.ledger.claim(action_id, now, _CLAIM)
            if row is None:  # another thread or process has it, or it is done
                found = self.ledger.get(action_id)
                assert found is not None
                return found
            try:
                if row.kind == "revoke-token":
                    radius = self.revoker.lookup(row.credential)
                    protected = self._protected(row, radius)
                    if protected is not None:
                        return self._finish(
                            row, "protected", f"not revoked: {protected}", guard=protected
                        )
                    self.ledger.transition(
                        action_id,
                        "in-flight",
                        f"revoking {row.credential[:8]}…: {radius.describe()}",
                        self.clock(),
                        expect=("in-flight",),
                        blast_radius=msgspec.to_builtins(radius),
                    )
                    self.revoker.revoke_token(row.credential)
                else:
                    self.ledger.note(
                        action_id, "in-flight", f"revoking lease {row.credential}", self.clock()
                    )
                    self.revoker.revoke_lease(row.credential)
            except VaultUnavailable as exc:
                delay = min(self.retry_max, self.retry_initial * 2 ** (row.attempts - 1))
                log.warning("%s; %s retried in %.0f s", exc, action_id, delay)
                return self._finish(
                    row, "queued", f"{exc}; retry in {delay:.0f} s", next_attempt=now + delay
                )
            except VaultForbidden as exc:
                log.error("REVOCATION FAILED for %s (%s): %s", row.identity, action_id, exc)
                return self._finish(row, "failed", str(exc))
            except CredentialGone as exc:
                return self._finish(row, "gone", str(exc))
            except VaultRejected as exc:
                log.error("revocation rejected for %s (%s): %s", row.identity, action_id, exc)
                return self._finish(row, "failed", str(exc))
            who = row.decided_by or "auto"
            return self._finish(row, "revoked", f"revoked ({who}, attempt {row.attempts})")

    def _finish(self, row: ActionRow, status: str, detail: str, **changes: Any) -> ActionRow:
        self.counts[status] = self.counts.get(status, 0) + 1
        if status == "failed":
            self.errors += 1
        if self.metrics is not None:
            self.metrics.revocation(status)
        done = self.ledger.transition(
            row.action_id,
            status,
            detail,
            self.clock(),
            expect=("in-flight",),
            claimed_until=None,
            **changes,
        )
        return done or self.ledger.get(row.action_id) or row

    def _protected(self, row: ActionRow, radius: BlastRadius) -> str | None:
        """The never-revoke list against what Vault says of the token, not only what the
        log line claimed: a forged line cannot name a protected token under another
        identity."""
        guards = self.guards
        return guards.protected(
            row.identity, radius.display_name, radius.policies, None
        ) or guards.protected(radius.entity_id, None, (), None)

    def _dry_run_radius(self, row: ActionRow) -> ActionRow:
        """In a dry run, still look the accessor up: the record says what would be cut."""
        if self.revoker is None or row.kind != "revoke-token":
            return row
        try:
            with self._vault:
                radius = self.revoker.lookup(row.credential)
        except Exception as exc:  # noqa: BLE001 - a dry run records, it never fails
            self.ledger.note(row.action_id, "dry-run", f"lookup failed: {exc}", self.clock())
            return row
        protected = self._protected(row, radius)
        verdict = f"would not revoke: {protected}" if protected else "would revoke"
        return (
            self.ledger.transition(
                row.action_id,
                "dry-run",
                f"{verdict} {row.credential[:8]}…: {radius.describe()}",
                self.clock(),
                expect=("dry-run",),
                blast_radius=msgspec.to_builtins(radius),
            )
            or row
        )

    # -- the dispatcher ------------------------------------------------------------------

    def run_due(self) -> float | None:
        """Retry what is due for Vault and send what is due for Slack; return when the
        next thing will be due (``None``: nothing waits)."""
        if self.revoker is not None:
            for action_id in self.ledger.due(self.clock()):
                row = self._execute(action_id)
                if self.notifier is not None and row.status != "queued":
                    self.notifier.notify_outcome(None, row)
        next_due = self.ledger.next_due() if self.revoker is not None else None
        if self.notifier is not None:
            slack_due = self.notifier.deliver()
            if slack_due is not None:
                next_due = slack_due if next_due is None else min(next_due, slack_due)
        return next_due

    def _dispatch(self) -> None:
        while not self._stopping:
            try:
                next_due = self.run_due()
            except Exception:  # the dispatcher must outlive any one failure
                log.exception("responder dispatcher")
                next_due = None
            # Wake when something is due, when told, or after a second: another process
            # (the slack-actions server) may have queued work in the shared ledger.
            wait = 1.0 if next_due is None else min(1.0, max(0.0, next_due - self.clock()))
            self._wake.wait(wait)
            self._wake.clear()

    def _usual_hours(self, alert: dict[str, Any]) -> str | None:
        if alert.get("usual_hours"):
            return str(alert["usual_hours"])
        epoch = alert.get("epoch")
        if not isinstance(epoch, int | float):
            from detector.actions.slack_notifier import _epoch

            epoch = _epoch(alert)
        return self.hours.describe(alert.get("identity", ""), float(epoch))


def _decode_request(request: dict[str, Any] | bytes | str) -> ActionRequest | None:
    try:
        if isinstance(request, bytes | str):
            request = msgspec.json.decode(request)
        if not isinstance(request, dict):
            raise msgspec.ValidationError("not a JSON object")
        if "schema" not in request and "alert_id" in request and "action_id" not in request:
            return request_from_alert(request)  # an alert record
        return msgspec.convert(request, ActionRequest)
    except (msgspec.ValidationError, msgspec.DecodeError, KeyError) as exc:
        raise ValueError(f"not an action request: {exc}") from None


def _epoch_of(alert: dict[str, Any]) -> float:
    from detector.actions.slack_notifier import _epoch

    return _epoch(alert)


def _alert_of(request: ActionRequest) -> dict[str, Any]:
    return {
        "alert_id": request.alert_id,
        "event_id": request.event_id,
        "time": request.time,
        "epoch": request.epoch,
        "identity": request.identity,
        "identity_name": request.identity_name,
        "credential": request.credential,
        "service": request.service,
        "team": request.team,
        "risk": request.risk,
        "decision": request.decision,
        "reasons": request.reasons,
        "detectors": dict.fromkeys(request.detectors, 0.0),
    }
