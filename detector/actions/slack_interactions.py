"""The buttons: Slack's interactive payloads, verified, acknowledged, carried out.

Slack POSTs a click to the interactions URL (``detector slack-actions``, or the worker's web
server through :meth:`InteractionHandler.handle`). Each request is checked before anything
else: its ``X-Slack-Signature`` must be the HMAC of its body with the app's signing secret,
and its ``X-Slack-Request-Timestamp`` within 5 minutes of now; a signed request seen before
(a replay inside those 5 minutes) is refused too.
Slack wants an answer within 3 seconds, while a revocation may wait for Vault, so the
handler answers at once and a worker thread carries the click out: the clicking user must
be on the approvers list; *Revoke* revokes (through the responder: ledger before and after),
*Benign* records an expiring suppression for that identity and pattern (which the pipeline
then takes into account), *Snooze* mutes that identity's alerts for a while; the message is
updated with the outcome, and a refused click is told to the user alone (ephemeral).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.parse
from collections.abc import Collection, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from detector.actions.ledger import ActionRow
from detector.actions.responder import Responder
from detector.actions.slack_messages import (
    BENIGN,
    REVOKE,
    SNOOZE,
    action_summary,
    clicked_message,
)
from detector.event import format_time

__all__ = ["InteractionHandler", "InteractionServer"]

log = logging.getLogger(__name__)

_FRESH_FOR = 6 * 60.0  # seconds a signed request stays acceptable (Slack: 5 minutes)

_MAX_BODY = 1 << 20  # Slack's payloads are a few KB


class InteractionHandler:
    """Verifies and acknowledges clicks; a worker thread carries them out.

    Parameters
    ----------
    verifier
        ``slack_sdk.signature.SignatureVerifier`` with the signing secret.
    responder
        Carries out *Revoke*, *Benign* and *Snooze* (and writes the ledger).
    client
        ``slack_sdk.WebClient`` to update the clicked message.
    approvers
        Slack user ids allowed to click (an empty list allows nobody).
    benign_for, snooze_for
        Seconds a *Benign* suppression and a *Snooze* last.
    """

    def __init__(
        self,
        verifier: SignatureVerifier,
        responder: Responder,
        client: WebClient,
        approvers: Collection[str],
        benign_for: float = 7 * 86400.0,
        snooze_for: float = 3600.0,
    ) -> None:
        self.verifier = verifier
        self.responder = responder
        self.client = client
        self.approvers = frozenset(approvers)
        self.benign_for = benign_for
        self.snooze_for = snooze_for
        self.handled = 0
        self._seen: dict[str, float] = {}  # signatures accepted, until they go stale
        self._seen_lock = threading.Lock()
        self._work: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="slack-clicks", daemon=True)
        self._worker.start()
        if not self.approvers:
            log.warning("slack.approvers is empty: every button click will be refused")

    def close(self) -> None:
        """Finish the clicks already acknowledged, then stop."""
        self._work.put(None)
        self._worker.join(60.0)

    # -- the request ---------------------------------------------------------------------

    def handle(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """Status and body to answer Slack with, at once; the click is queued."""
        lowered = {k.lower(): v for k, v in headers.items()}
        timestamp = lowered.get("x-slack-request-timestamp")
        signature = lowered.get("x-slack-signature")
        try:
            valid = self.verifier.is_valid(body, timestamp, signature)
        except ValueError:  # a timestamp that is not a number
            valid = False
        if not valid:
            log.warning("refused a Slack request: bad signature or stale timestamp")
            return 401, b"invalid signature or stale timestamp"
        if self._replayed(str(signature)):
            log.warning("refused a Slack request: a signed request seen before (a replay)")
            return 401, b"replayed request"
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
            payload = json.loads(form["payload"][0])
        except (UnicodeDecodeError, ValueError, KeyError, IndexError):
            return 400, b"not an interactive payload"
        if payload.get("type") != "block_actions" or not payload.get("actions"):
            return 200, b""
        self._work.put(payload)
        return 200, b""

    def _replayed(self, signature: str) -> bool:
        """Whether this exact signed request was accepted before. A signature is kept
        for as long as its timestamp is fresh (5 minutes, and a minute of clock skew);
        after that the timestamp check refuses it anyway."""
        now = time.monotonic()
        with self._seen_lock:
            if len(self._seen) > 10_000:
                self._seen = {sig: until for sig, until in self._seen.items() if until > now}
            until = self._seen.get(signature)
            if until is not None and until > now:
                return True
            self._seen[signature] = now + _FRESH_FOR
            return False

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Whether every queued click was carried out within ``timeout`` (for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._work.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    # -- carrying clicks out -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            payload = self._work.get()
            try:
                if payload is None:
                    return
                self._click(payload)
            except Exception:  # one bad click must not stop the others
                log.exception("Slack click failed")
            finally:
                self._work.task_done()

    def _click(self, payload: dict[str, Any]) -> None:
        action = payload["actions"][0]
        user = (payload.get("user") or {}).get("id", "")
        channel = (payload.get("channel") or {}).get("id")
        message = payload.get("message") or {}
        ts = (payload.get("container") or {}).get("message_ts") or message.get("ts")
        kind, value = action.get("action_id"), action.get("value") or ""
        if user not in self.approvers:
            log.warning("click %s by %s refused: not an approver", kind, user)
            if kind == REVOKE:
                row = self.responder.ledger.get(value)
                if row is not None:
                    self.responder.ledger.note(
                        value, row.status, f"click by {user} refused: not an approver", time.time()
                    )
            self._ephemeral(channel, user, "You are not on this detector's approvers list.")
            return
        if kind == REVOKE:
            row = self.responder.approve(value, user)
            outcome = self._revoke_outcome(row, user)
        elif kind in (BENIGN, SNOOZE):
            pattern = json.loads(value)
            starts = float(pattern.get("time") or time.time())
            if kind == BENIGN:
                until = self.responder.mark_benign(
                    pattern["identity"],
                    list(pattern.get("detectors") or []),
                    starts,
                    user,
                    self.benign_for,
                    alert_id=pattern.get("alert_id"),
                    action_id=pattern.get("action_id"),
                )
                detectors = ", ".join(pattern.get("detectors") or []) or "no detector"
                outcome = (
                    f"*Marked benign* by <@{user}>: alerts of this identity from the same "
                    f"signals ({detectors}) are downgraded until {format_time(until)}."
                )
            else:
                until = self.responder.snooze(pattern["identity"], starts, user, self.snooze_for)
                outcome = f"*Snoozed* by <@{user}> until {format_time(until)}."
        else:
            log.warning("unknown button %r", kind)
            return
        self.handled += 1
        if channel and ts:
            self._update(channel, ts, message, outcome)

    def _revoke_outcome(self, row: ActionRow | None, user: str) -> str:
        if row is None:
            return f"<@{user}> clicked Revoke, but the ledger has no such action."
        summary = action_summary(row.as_dict(), {}) or row.status
        if row.decided_by != f"slack:{user}" and row.status not in ("escalated", "offered"):
            return f"Already handled: {summary}"
        return summary

    def _update(self, channel: str, ts: str, message: dict[str, Any], outcome: str) -> None:
        blocks = clicked_message(list(message.get("blocks") or []), outcome)
        try:
            self.client.chat_update(
                channel=channel, ts=ts, text=outcome.replace("*", ""), blocks=blocks
            )
        except (SlackApiError, OSError) as exc:
            # The ledger holds the outcome, and the notifier's outbox updates the thread.
            log.warning("could not update the clicked message: %s", exc)

    def _ephemeral(self, channel: str | None, user: str, text: str) -> None:
        if not channel:
            return
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, OSError) as exc:
            log.warning("could not tell %s: %s", user, exc)


class InteractionServer:
    """``POST /slack/actions`` (and ``GET /healthz``) on ``host:port``, one thread per request.

    >>> # server = InteractionServer(handler, "127.0.0.1", 3000); server.serve_forever()
    """

    def __init__(self, handler: InteractionHandler, host: str, port: int) -> None:
        self.handler = handler
        interactions = handler

        class _Request(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                if self.path.split("?")[0] != "/slack/actions":
                    self._answer(404, b"not found")
                elif length > _MAX_BODY:
                    self._answer(413, b"too large")
                else:
                    body = self.rfile.read(length)
                    status, answer = interactions.handle(body, dict(self.headers.items()))
                    self._answer(status, answer)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(200 if self.path == "/healthz" else 404, b"ok")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("slack-actions: " + format, *args)

        self.httpd = ThreadingHTTPServer((host, port), _Request)
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop serving (from another thread) and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
