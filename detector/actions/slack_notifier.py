"""Alerts to Slack: one thread per identity's incident, paced, and nothing lost.

A burst of fifty alerts from one identity is one Slack thread, not fifty messages: the
first alert posts the parent message; later ones (within ``thread_window`` of event time
of the previous, as :mod:`detector.incidents` groups them) update the parent — its
headline is the worst alert, its footer the count and the secrets touched — and add a
reply only when something new happens (a revoke decision, a credential acted on).

Every message goes through the outbox in the ledger before it is sent, so a Slack outage,
a crash or a rate limit loses nothing: :meth:`SlackNotifier.deliver` sends what is due,
paces each channel (``pace`` seconds between messages: Slack allows about one per second
per channel), honours ``429`` and its ``Retry-After`` for every channel, and retries 5xx
and network errors with exponential backoff. A parent's pending updates are coalesced:
an update renders the thread's latest summary when it is sent. Messages Slack refuses for
good (``channel_not_found``, ``invalid_auth``) are marked failed and logged as errors.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from detector.actions.config import SEVERITIES, SlackRoute
from detector.actions.errors import ActionError, SlackUnavailable
from detector.actions.ledger import ActionRow, Ledger, OutboxEntry, SlackThread
from detector.actions.slack_messages import alert_message, outcome_message, severity
from detector.event import format_time

__all__ = ["ChannelRouter", "SlackNotifier"]

log = logging.getLogger(__name__)

_RETRYABLE_ERRORS = {
    "ratelimited",
    "fatal_error",
    "internal_error",
    "service_unavailable",
    "request_timeout",
}
_MAX_RESOURCES = 10
_CLAIM = 60.0  # seconds a delivery attempt holds a message against other processes


class SlackRejected(ActionError):
    """Slack refused a message for good (bad channel, bad token, bad blocks)."""


class ChannelRouter:
    """Which channel an alert goes to: the first route whose team and minimum severity
    match, else the default channel; ``None`` below the minimum severity.

    >>> router = ChannelRouter("#sec", [SlackRoute("#pay-sec", team="payments")])
    >>> router.channel({"team": "payments", "decision": "alert", "risk": 0.7})
    '#pay-sec'
    >>> router.channel({"team": "shop", "decision": "alert", "risk": 0.7})
    '#sec'
    """

    def __init__(self, default: str, routes: list[SlackRoute], min_severity: str = "medium"):
        self.default = default
        self.routes = list(routes)
        self.min_severity = min_severity

    def channel(self, alert: dict[str, Any]) -> str | None:
        level = SEVERITIES.index(severity(alert))
        if level < SEVERITIES.index(self.min_severity):
            return None
        team = alert.get("team") or ""
        for route in self.routes:
            if route.team in ("*", team) and level >= SEVERITIES.index(route.min_severity):
                return route.channel
        return self.default


class SlackNotifier:
    """Posts alerts and outcomes to Slack through the ledger's outbox.

    Parameters
    ----------
    client
        A ``slack_sdk.WebClient`` with the bot token (tests point ``base_url`` at a local
        server).
    ledger
        Holds the outbox and the threads.
    router
        Picks each alert's channel.
    thread_window
        Seconds of event time after an identity's last alert within which a new alert
        joins its thread.
    pace
        Seconds between two messages to one channel.
    retry_initial, retry_max
        Backoff of a message after a 5xx or network error (doubling from the first).
    snooze_for
        How long *Snooze* lasts, as the button says it.
    clock
        Wall-clock time (tests pass their own).
    """

    def __init__(
        self,
        client: WebClient,
        ledger: Ledger,
        router: ChannelRouter,
        thread_window: float = 1800.0,
        pace: float = 1.0,
        retry_initial: float = 2.0,
        retry_max: float = 300.0,
        snooze_for: str = "1 h",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.router = router
        self.thread_window = thread_window
        self.pace = pace
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.snooze_for = snooze_for
        self.clock = clock
        self._channel_free: dict[str, float] = {}  # channel -> when it may take a message
        self._not_before = 0.0  # a Retry-After for every channel

    # -- what to say ---------------------------------------------------------------------

    def notify_alert(
        self, alert: dict[str, Any], action: ActionRow | None, usual_hours: str | None = None
    ) -> None:
        """Queue an alert: a new thread, or an update (and maybe a reply) in its thread."""
        if action is None or action.status in ("offered", "benign"):
            if self._snoozed(alert.get("identity", ""), alert):
                return
        channel = self.router.channel(alert)
        if channel is None:
            return
        now = self.clock()
        epoch = _epoch(alert)
        alert = {**alert, "epoch": epoch}
        thread = self.ledger.open_thread(alert["identity"], epoch, self.thread_window)
        action_id = action.action_id if action is not None else None
        if thread is None:
            summary = {
                "alert": alert,
                "count": 1,
                "first": alert.get("time"),
                "resources": [alert.get("resource")],
                "usual_hours": usual_hours,
                "action_id": action_id,
                "actions": [action_id] if action_id else [],
                "revoke": alert.get("decision") == "revoke",
            }
            thread = SlackThread(
                thread_key=f"{alert['identity']}|{epoch:.3f}",
                identity=alert["identity"],
                channel=channel,
                opened=epoch,
                last=epoch,
                summary=summary,
            )
            self.ledger.save_thread(thread)
            self.ledger.enqueue(thread.thread_key, "post", {}, now)
            return
        summary = thread.summary
        summary["count"] += 1
        resource = alert.get("resource")
        if resource not in summary["resources"] and len(summary["resources"]) < _MAX_RESOURCES:
            summary["resources"].append(resource)
        if (alert.get("risk") or 0.0) > (summary["alert"].get("risk") or 0.0):
            summary["alert"] = alert
            summary["usual_hours"] = usual_hours or summary.get("usual_hours")
            if action_id:
                summary["action_id"] = action_id
        notable = (action_id is not None and action_id not in summary["actions"]) or (
            alert.get("decision") == "revoke" and not summary.get("revoke")
        )
        if action_id and action_id not in summary["actions"]:
            summary["actions"].append(action_id)
        summary["revoke"] = summary.get("revoke") or alert.get("decision") == "revoke"
        thread.last = max(thread.last, epoch)
        self.ledger.save_thread(thread)
        if notable:
            if action is not None:
                text, blocks = outcome_message(alert, action.as_dict(), self.snooze_for)
            else:
                text, blocks = alert_message(
                    {"alert": alert, "usual_hours": usual_hours}, None, self.snooze_for
                )
            self.ledger.enqueue(thread.thread_key, "reply", {"text": text, "blocks": blocks}, now)
        self.ledger.enqueue(thread.thread_key, "update", {}, now)

    def notify_outcome(self, alert: dict[str, Any] | None, action: ActionRow) -> None:
        """Queue what happened to a credential as a reply in its identity's thread (and a
        fresh parent), or as a new thread when there is none."""
        alert = alert or _alert_from_action(action)
        epoch = _epoch(alert)
        thread = self.ledger.open_thread(action.identity, epoch, self.thread_window)
        if thread is None:
            self.notify_alert(alert, action)
            return
        now = self.clock()
        if action.action_id not in thread.summary["actions"]:
            thread.summary["actions"].append(action.action_id)
        self.ledger.save_thread(thread)
        text, blocks = outcome_message(alert, action.as_dict(), self.snooze_for)
        self.ledger.enqueue(thread.thread_key, "reply", {"text": text, "blocks": blocks}, now)
        self.ledger.enqueue(thread.thread_key, "update", {}, now)

    def _snoozed(self, identity: str, alert: dict[str, Any]) -> bool:
        epoch = _epoch(alert)
        return any(
            s.identity == identity and s.starts <= epoch
            for s in self.ledger.suppressions("snooze", after=self.clock())
        )

    # -- sending -------------------------------------------------------------------------

    def deliver(self) -> float | None:
        """Send every message that is due; return when the next one will be (or ``None``).

        Messages of one thread go in the order written; a reply or update waits for its
        parent; each channel is paced; a 429 holds every channel for its ``Retry-After``.
        """
        next_due: float | None = None
        held: set[str] = set()  # threads with an earlier message not yet sent
        for entry in self.ledger.pending_messages(self.clock()):
            if entry.thread_key in held:
                continue
            thread = self.ledger.thread(entry.thread_key)
            if thread is None:  # a thread removed by hand: nothing to send to
                self.ledger.message_failed(entry.id, self.clock(), "no such thread")
                continue
            if entry.method != "post" and thread.ts is None:
                held.add(entry.thread_key)  # the parent is not posted yet
                continue
            channel = thread.channel_id or thread.channel
            now = self.clock()
            due = max(entry.next_attempt, self._not_before, self._channel_free.get(channel, 0.0))
            if due > now:
                next_due = due if next_due is None else min(next_due, due)
                held.add(entry.thread_key)
                continue
            if not self.ledger.claim_message(entry.id, now, _CLAIM):
                held.add(entry.thread_key)
                continue
            try:
                self._send(entry, thread)
            except SlackUnavailable as exc:
                now = self.clock()
                if exc.retry_after is not None:
                    self._not_before = now + exc.retry_after
                    retry = self._not_before
                else:
                    retry = now + min(self.retry_max, self.retry_initial * 2**entry.attempts)
                log.warning("Slack unavailable (%s); message %d retried later", exc, entry.id)
                self.ledger.message_retry(entry.id, retry, str(exc))
                next_due = retry if next_due is None else min(next_due, retry)
                held.add(entry.thread_key)
            except SlackRejected as exc:
                log.error("Slack refused message %d for good: %s", entry.id, exc)
                self.ledger.message_failed(entry.id, self.clock(), str(exc))
            else:
                now = self.clock()
                self.ledger.message_sent(entry.id, now)
                self._channel_free[channel] = now + self.pace
                self._channel_free[thread.channel] = now + self.pace
        return next_due

    def _send(self, entry: OutboxEntry, thread: SlackThread) -> None:
        if entry.method in ("post", "update"):
            action_id = thread.summary.get("action_id")
            action = self.ledger.get(action_id) if action_id else None
            text, blocks = alert_message(
                thread.summary, action.as_dict() if action else None, self.snooze_for
            )
            if entry.method == "post":
                answer = self._call(
                    self.client.chat_postMessage,
                    channel=thread.channel,
                    text=text,
                    blocks=blocks,
                    unfurl_links=False,
                )
                self.ledger.thread_posted(
                    thread.thread_key, str(answer["channel"]), str(answer["ts"])
                )
            else:
                self._call(
                    self.client.chat_update,
                    channel=thread.channel_id,
                    ts=thread.ts,
                    text=text,
                    blocks=blocks,
                )
        elif entry.method == "reply":
            self._call(
                self.client.chat_postMessage,
                channel=thread.channel_id,
                thread_ts=thread.ts,
                text=entry.payload["text"],
                blocks=entry.payload["blocks"],
                unfurl_links=False,
            )
        else:
            raise SlackRejected(f"unknown outbox method {entry.method!r}")

    @staticmethod
    def _call(method, **arguments: Any) -> Any:
        """One Web API call, its failures sorted into retry later or give up."""
        try:
            return method(**arguments)
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", 0)
            error = response.get("error") if hasattr(response, "get") else None
            if status == 429 or error == "ratelimited":
                headers = {k.lower(): v for k, v in (response.headers or {}).items()}
                value = headers.get("retry-after")
                if isinstance(value, list):
                    value = value[0] if value else None
                try:
                    retry_after = float(value) if value is not None else 1.0
                except ValueError:
                    retry_after = 1.0
                raise SlackUnavailable("rate limited (429)", retry_after=retry_after) from None
            if status >= 500 or error in _RETRYABLE_ERRORS:
                raise SlackUnavailable(f"Slack answered {status} ({error})") from None
            raise SlackRejected(f"{error or 'error'} (HTTP {status})") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise SlackUnavailable(f"network error: {type(exc).__name__}") from None


def _epoch(alert: dict[str, Any]) -> float:
    epoch = alert.get("epoch")
    if isinstance(epoch, int | float):
        return float(epoch)
    from datetime import datetime

    text = str(alert.get("time") or "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def _alert_from_action(action: ActionRow) -> dict[str, Any]:
    """What an outcome message needs when only the ledger row is at hand."""
    return {
        "alert_id": action.alert_id,
        "event_id": action.event_id,
        "time": format_time(action.event_time) if action.event_time else None,
        "epoch": action.event_time,
        "identity": action.identity,
        "identity_name": action.identity_name,
        "credential": action.credential,
        "service": action.service,
        "team": action.team,
        "risk": action.risk,
        "decision": action.decision,
        "reasons": action.reasons,
        "detectors": dict.fromkeys(action.detectors, 0.0),
    }
