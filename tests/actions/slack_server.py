"""A local stand-in for Slack's Web API: the shapes the notifier uses, and its failures.

It answers ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral`` and ``auth.test``
as Slack does (``{"ok": true, "channel": ..., "ts": ...}``), records every call with the
time it arrived, keeps the latest version of each message, and can be told to answer
``429`` with ``Retry-After`` or a 5xx for the next calls. It listens on a free port of
127.0.0.1 only; point ``slack_sdk.WebClient(base_url=server.base_url)`` at it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["SlackCall", "SlackServer"]


@dataclass
class SlackCall:
    method: str
    arguments: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200


@dataclass
class _Failure:
    status: int
    retry_after: float | None
    remaining: int


@dataclass
class SlackServer:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    calls: list[SlackCall] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # ts -> message
    down: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._ts = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------

    def fail(self, times: int, status: int = 429, retry_after: float | None = None) -> None:
        """Answer the next ``times`` calls with ``status`` (and ``Retry-After``)."""
        with self._lock:
            self._failures.append(_Failure(status, retry_after, times))

    def start(self) -> SlackServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, headers, answer = server._answer(self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = json.dumps(answer).encode()
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/api/"

    # -- what arrived --------------------------------------------------------------------

    def calls_to(self, method: str, ok_only: bool = True) -> list[SlackCall]:
        with self._lock:
            return [
                c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)
            ]

    def parents(self) -> list[dict[str, Any]]:
        """Top-level messages (not thread replies), in their latest version."""
        with self._lock:
            return [m for m in self.messages.values() if not m.get("thread_ts")]

    def replies(self, ts: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages.values() if m.get("thread_ts") == ts]

    # -- answering -----------------------------------------------------------------------

    def _answer(self, path: str, headers, body: bytes) -> tuple[int, dict[str, str], dict]:
        method = path.rsplit("/", 1)[-1]
        arguments = _arguments(headers.get("Content-Type", ""), body)
        with self._lock:
            call = SlackCall(method, arguments, time.monotonic())
            self.calls.append(call)
            if self._failures:
                failure = self._failures[0]
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
                call.status = failure.status
                extra = {}
                if failure.retry_after is not None:
                    extra["Retry-After"] = str(int(failure.retry_after))
                error = "ratelimited" if failure.status == 429 else "fatal_error"
                return failure.status, extra, {"ok": False, "error": error}
            if "Bearer xoxb-" not in headers.get("Authorization", ""):
                return 200, {}, {"ok": False, "error": "not_authed"}
            return 200, {}, self._method(method, arguments)

    def _method(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "team_id": "T0001", "bot_id": "B0001"}
        if method == "chat.postMessage":
            channel = _channel_id(arguments.get("channel", ""))
            ts = f"{1_800_000_000 + next(self._ts)}.000100"
            message = {
                "channel": channel,
                "ts": ts,
                "text": arguments.get("text"),
                "blocks": _json(arguments.get("blocks")),
                "thread_ts": arguments.get("thread_ts"),
            }
            self.messages[ts] = message
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            ts = arguments.get("ts", "")
            if ts not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[ts].update(
                text=arguments.get("text"), blocks=_json(arguments.get("blocks"))
            )
            return {"ok": True, "channel": arguments.get("channel"), "ts": ts}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1_800_000_000 + next(self._ts)}.000200"}
        return {"ok": False, "error": "unknown_method"}


def _arguments(content_type: str, body: bytes) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(body or b"{}")
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _channel_id(name: str) -> str:
    """Slack answers with channel ids: "#soc-alerts" -> "CSOCALERTS"."""
    return "C" + "".join(ch for ch in name.upper() if ch.isalnum())
