"""Vault / OpenBao ``file`` and ``socket`` audit device entries.

Vault writes a ``request`` entry when a call arrives and a ``response`` entry (same
``request.id``) when it is answered; the response holds the outcome, so the pair becomes
one event, built from the response. A request whose response never comes is released
after ``pair_timeout`` seconds of event time (or at the end of the input).

Login responses carry the new token's accessor in ``auth``: that ties a credential to an
identity. The parser remembers which HMAC of a client token belonged to which accessor and
identity, so a call made with a token Vault no longer knows (revoked, expired) is still
attributed to the identity that owned it. Other unauthenticated calls (failed logins,
unknown tokens) belong to ``anonymous@<address>``: a password spray from one address is
one identity's burst of denials, whichever users it tries.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from functools import lru_cache

import orjson

from detector.errors import ParseError
from detector.event import DENIED, ERROR, OK, AccessEvent
from detector.parsers.base import Ignored, Notice, ParserOutputs, Rejected
from detector.parsers.timestamps import parse_timestamp

__all__ = ["VaultAuditParser"]

HMAC_PREFIX = "hmac-sha256:"
_LOGIN_FAILURES = ("invalid credentials", "invalid role", "invalid secret", "invalid username")
_MAX_METADATA = 8
_NO_METADATA: dict[str, str] = {}  # shared: events are frozen and never change it


class _Bounded(OrderedDict):
    """A dict that forgets its oldest entries beyond ``limit`` (LRU on write)."""

    def __init__(self, limit: int = 200_000) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, value: object) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.limit:
            self.popitem(last=False)


class VaultAuditParser(ParserOutputs):
    """Parser for Vault and OpenBao audit entries (JSON lines).

    Parameters
    ----------
    pair_timeout
        Seconds of event time to wait for a response before scoring the request alone.
    max_pending
        Requests held for pairing at most; beyond it the oldest is released unpaired.
    max_known_tokens
        Token HMACs remembered for attribution (LRU).
    """

    name = "vault"

    def __init__(
        self,
        pair_timeout: float = 60.0,
        max_pending: int = 100_000,
        max_known_tokens: int = 200_000,
    ) -> None:
        super().__init__()
        self.pair_timeout = pair_timeout
        self.max_pending = max_pending
        self.max_known_tokens = max_known_tokens
        # Requests waiting for their response, oldest first (dicts keep insertion order).
        self._pending: dict[str, tuple[float, dict | bytes]] = {}
        # Calls already answered: a request entry arriving after its response (lines spread
        # over several partitions) must not become a second event.
        self._answered = _Bounded(max_pending)
        self._tokens = _Bounded(max_known_tokens)  # token hash -> (accessor, identity, name)
        self._clock = 0.0
        self._hashed_reported = False

    # -- the Parser protocol ------------------------------------------------------------

    def parse(self, record: bytes) -> list[AccessEvent]:
        held = self._hold_request(record)
        if held is not None:
            return held
        entry = _decode(record)
        kind = entry.get("type")
        if kind not in ("request", "response"):
            if isinstance(kind, str) and kind.startswith("kmip-"):
                raise Ignored(f"vault entry type {kind}")
            raise ParseError("unknown vault entry type", repr(kind)[:64])
        request = _checked_request(entry)
        time = parse_timestamp(entry.get("time"))
        self._clock = max(self._clock, time)
        key = _pair_key(request)
        if kind == "request":
            return self._hold(key, time, entry)
        if self._pending.pop(key, None) is None:
            self._answered.put(key, None)  # its request may still come
        return [self._build(entry, time, paired=True)]

    def oldest_pending(self) -> float | None:
        """The time of the oldest request still waiting for its response, if any."""
        return next(iter(self._pending.values()))[0] if self._pending else None

    def flush(self, final: bool = False, now: float | None = None) -> list[AccessEvent]:
        released = []
        clock = self._clock if now is None else max(self._clock, now)
        deadline = clock - self.pair_timeout
        while self._pending:
            key, (time, entry) = next(iter(self._pending.items()))
            if not final and time > deadline:
                break
            del self._pending[key]
            self._release(entry, time, released)
        return released

    # -- holding requests until their response -----------------------------------------

    def _hold_request(self, record: bytes) -> list[AccessEvent] | None:
        """Hold a request entry as raw bytes, undecoded: its response usually follows and
        says everything it says, so decoding it would be wasted work. Only entries in
        Vault's own field order (time, type, ..., request.id first) take this path;
        anything else returns ``None`` and is decoded in full."""
        if not record.startswith(b'{"time":"') or record.find(b'"type":"request"', 0, 96) < 0:
            return None
        start = record.find(b'"request":{"id":"')
        if start == -1:
            return None
        start += 17
        end = record.find(b'"', start)
        time_end = record.find(b'"', 9)
        key = record[start:end]
        if end == -1 or not key or b"\\" in key:
            return None
        try:
            time = parse_timestamp(record[9:time_end].decode())
            request_id = key.decode()  # not UTF-8: the full decode makes it a dead letter
        except (ParseError, UnicodeDecodeError):
            return None
        self._clock = max(self._clock, time)
        return self._hold(request_id, time, record)

    def _hold(self, key: str, time: float, entry: dict | bytes) -> list[AccessEvent]:
        if key in self._answered:
            del self._answered[key]  # answered already: the response made the event
            self.ignored["request after its response"] += 1  # counted, not lost
            return []
        self._pending[key] = (time, entry)
        released: list[AccessEvent] = []
        while len(self._pending) > self.max_pending:
            held_time, held = self._pending.pop(next(iter(self._pending)))
            self._release(held, held_time, released)
        return released

    def _release(self, entry: dict | bytes, time: float, into: list[AccessEvent]) -> None:
        """An unanswered request becomes an event; a malformed one a rejected record."""
        raw = entry if isinstance(entry, bytes) else b""
        try:
            if raw:
                entry = _decode(raw)
                _checked_request(entry)
            into.append(self._build(entry, time, paired=False))
        except ParseError as exc:
            self.rejected.append(Rejected(exc.reason, exc.detail, raw))

    # -- building one event ------------------------------------------------------------

    def _build(self, entry: dict, time: float, paired: bool) -> AccessEvent:
        try:
            return self._build_unchecked(entry, time, paired)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ParseError("vault entry with fields of the wrong type", str(exc)[:120]) from None

    def _build_unchecked(self, entry: dict, time: float, paired: bool) -> AccessEvent:
        request: dict = entry["request"]
        auth: dict = entry.get("auth") or {}
        response: dict = entry.get("response") or {}
        path: str = request["path"]
        operation = _text(request.get("operation"))
        error = entry.get("error")
        error = error.strip() if isinstance(error, str) and error.strip() else None

        accessor = _text(auth.get("accessor")) or _text(request.get("client_token_accessor"))
        hashed = accessor.startswith(HMAC_PREFIX)
        if hashed and not self._hashed_reported:
            self._hashed_reported = True
            self.notices.append(
                Notice(
                    "hashed-accessor",
                    "Vault writes token accessors hashed (hmac-sha256): revocation by "
                    "accessor is impossible. Set hmac_accessor=false on the audit device.",
                )
            )
        token_hash = _token_hash(request.get("client_token"))
        identity = _text(auth.get("entity_id")) or _text(auth.get("display_name"))
        name = _text(auth.get("display_name"))
        metadata = _metadata(auth.get("metadata"))
        action = _action(path, operation)
        outcome = _outcome(error, auth)
        remote = request.get("remote_address")
        client_ip = remote if isinstance(remote, str) and remote else None

        new_auth = response.get("auth") if isinstance(response.get("auth"), dict) else None
        new_accessor = _text(new_auth.get("accessor")) if new_auth else ""
        if new_accessor and new_accessor == accessor and action != "login":
            new_accessor = ""  # a renewal answers with the same token
        if action == "login" and new_auth:
            # The response's auth is the new token: it names who logged in.
            identity = _text(new_auth.get("entity_id")) or _text(new_auth.get("display_name"))
            name = _text(new_auth.get("display_name"))
            metadata = _metadata(new_auth.get("metadata"))
            accessor = new_accessor
            hashed = accessor.startswith(HMAC_PREFIX)

        if identity:
            if token_hash and accessor:
                known = self._tokens.get(token_hash)
                if known is None or known[0] != accessor or known[1] != identity:
                    self._tokens.put(token_hash, (accessor, identity, name))
            if new_auth and new_auth.get("client_token") and new_accessor:
                new_hash = _token_hash(new_auth.get("client_token"))
                new_identity = _text(new_auth.get("entity_id")) or identity
                self._tokens.put(
                    new_hash, (new_accessor, new_identity, new_auth.get("display_name"))
                )
        else:
            identity, name, accessor, metadata = self._attribute(
                token_hash, path, action, client_ip, metadata
            )
            hashed = accessor.startswith(HMAC_PREFIX)

        data = request.get("data") if isinstance(request.get("data"), dict) else {}
        namespace = request.get("namespace")
        namespace = namespace.get("path") or None if isinstance(namespace, dict) else None
        return AccessEvent(
            event_id=_text(request.get("id")) or _synthetic_id(entry, time),
            time=time,
            source="vault",
            identity=identity,
            identity_name=name or identity,
            action=action,
            resource=path,
            outcome=outcome if paired or error else "unknown",
            credential=accessor or None,
            credential_hashed=hashed,
            client_ip=client_ip,
            user_agent=_user_agent(request.get("headers")),
            operation=operation,
            mount=_text(request.get("mount_point")) or None,
            namespace=namespace,
            error=error[:200] if error else None,
            auth_method=_auth_method(path, action, name, _text(request.get("mount_type"))),
            policies=_strings(auth.get("policies")),
            token_type=_text(auth.get("token_type")) or None,
            token_ttl=_int(auth.get("token_ttl")),
            metadata=metadata,
            internal=client_ip is None,
            new_credential=new_accessor or None,
            new_credential_ttl=_int(new_auth.get("token_ttl")) if new_accessor else None,
            new_credential_policies=_strings(new_auth.get("policies")) if new_accessor else (),
            new_credential_orphan=bool(new_accessor)
            and (path.endswith("/create-orphan") or data.get("no_parent") is True),
            token_hash=token_hash,
        )

    def _attribute(
        self, token_hash: str | None, path: str, action: str, ip: str | None, metadata: dict
    ) -> tuple[str, str, str, dict]:
        """Who made an unauthenticated call: the owner of a token seen before, or nobody."""
        if token_hash and token_hash in self._tokens:
            accessor, identity, name = self._tokens[token_hash]
            return identity, name, accessor, {**metadata, "credential_state": "invalid"}
        if action == "login":
            metadata = {**metadata, "login": path.removeprefix("auth/")}
        return f"anonymous@{ip or 'unknown'}", "", "", metadata


def _checked_request(entry: dict) -> dict:
    request = entry.get("request")
    if not isinstance(request, dict):
        raise ParseError("vault entry without request object")
    if not isinstance(request.get("path"), str):
        raise ParseError("vault entry without request.path")
    return request


def _decode(record: bytes) -> dict:
    try:
        entry = orjson.loads(record)
    except orjson.JSONDecodeError as exc:
        raise ParseError("not JSON", str(exc)[:120]) from None
    if not isinstance(entry, dict):
        raise ParseError("not a JSON object", type(entry).__name__)
    return entry


def _pair_key(request: dict) -> str:
    request_id = request.get("id")
    if isinstance(request_id, str) and request_id:
        return request_id
    # Some internal entries carry no id: pair them on what the two entries share.
    parts = (request.get("path"), request.get("operation"), request.get("client_token"))
    return "noid:" + hashlib.sha1(repr(parts).encode()).hexdigest()


def _synthetic_id(entry: dict, time: float) -> str:
    request = entry["request"]
    basis = repr((time, request.get("path"), request.get("operation"), request.get("client_token")))
    return "vault-" + hashlib.sha1(basis.encode()).hexdigest()[:24]


def _token_hash(value: object) -> str | None:
    """The client token as an opaque key: Vault's HMAC, or our SHA-256 of a raw token."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(HMAC_PREFIX):
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@lru_cache(maxsize=65536)
def _action(path: str, operation: str) -> str:
    if path.startswith("auth/"):
        if path.startswith("auth/token/"):
            tail = path[11:]
            for prefix in ("create", "revoke", "renew", "lookup"):
                if tail.startswith(prefix):
                    return f"token-{prefix}"
        segments = path.split("/")
        if len(segments) >= 3 and segments[2] == "login" and operation in ("update", "create"):
            return "login"
        # OIDC logs in in two steps; the callback is the one that returns the new token.
        if path.endswith("/oidc/callback"):
            return "login"
    if path.startswith("sys/"):
        if path.startswith(("sys/leases/revoke", "sys/revoke")):
            return "lease-revoke"
        if path.startswith(("sys/leases/renew", "sys/renew")):
            return "lease-renew"
        if operation in ("read", "list"):
            return operation
        return "admin"
    return {
        "read": "read",
        "list": "list",
        "create": "write",
        "update": "write",
        "patch": "write",
        "delete": "delete",
    }.get(operation, operation or "other")


def _outcome(error: str | None, auth: dict) -> str:
    if error is None:
        results = auth.get("policy_results")
        if isinstance(results, dict) and results.get("allowed") is False:
            return DENIED
        return OK
    lowered = error.lower()
    if "permission denied" in lowered or "missing client token" in lowered:
        return DENIED
    if any(marker in lowered for marker in _LOGIN_FAILURES):
        return DENIED
    return ERROR


@lru_cache(maxsize=65536)
def _auth_method(path: str, action: str, display_name: str, mount_type: object) -> str | None:
    if action == "login":
        return _text(mount_type) or path.split("/")[1]
    if display_name:
        return display_name.split("-", 1)[0]
    return None


def _user_agent(headers: object) -> str | None:
    if isinstance(headers, dict):
        value = headers.get("user-agent")
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0][:200]
        if isinstance(value, str):
            return value[:200]
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _metadata(value: object) -> dict[str, str]:
    if not value or not isinstance(value, dict):
        return _NO_METADATA
    pairs = (
        (k, v) for k, v in value.items() if isinstance(v, str) and not v.startswith(HMAC_PREFIX)
    )
    return {k[:64]: v[:200] for k, v in list(pairs)[:_MAX_METADATA]}
