"""Planned calls to audit entries, in the exact JSON shape OpenBao 2.7 writes.

Each call becomes a ``request`` entry at its start and a ``response`` entry (same
``request.id``) when Vault answers; entries of calls that overlap interleave, as in a real
file, so the log is in time order line by line. The shapes follow a real OpenBao file
audit device with ``hmac_accessor=false`` and the ``user-agent`` header audited:

- a read or list request entry has no ``mount_accessor``; its response entry has one;
- a denied call writes ``policy_results: {"allowed": false}``, the error on both
  entries and no mount accessor;
- a call with a token Vault does not know (revoked, expired) has an ``auth`` of only
  ``token_type``, the client token HMAC but no accessor and no client id, and the error
  ``permission denied`` on the request entry;
- a login's response entry names the *new* token in ``auth`` and ``response.auth``.

Random response values (dynamic credentials, ciphertexts) derive from the request id,
so they do not depend on the order calls are written in.
"""

from __future__ import annotations

import hashlib
import heapq
import string
from typing import BinaryIO

import orjson

from detector.simulate.calls import DENIED, Call, Reply
from detector.simulate.identifiers import HMAC_PREFIX
from detector.simulate.mounts import RUNNING_VERSION, Mount
from detector.simulate.timekeeping import SECOND, rfc3339_nano
from detector.simulate.tokens import Token
from detector.simulate.world import World

__all__ = ["AuditLogWriter"]

_NAMESPACE = {"id": "root"}
_LOGIN_REQUEST_AUTH = orjson.Fragment(b'{"policy_results":{"allowed":true},"token_type":"default"}')
_NO_TOKEN_AUTH = orjson.Fragment(b'{"token_type":"default"}')
_DENIED = "1 error occurred:\n\t* permission denied\n\n"
_BAD_LOGIN = "invalid credentials"
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_ALPHANUMERIC = string.ascii_letters + string.digits


def _line(
    time: str,
    kind: str,
    auth: object,
    request: dict[str, object],
    response: dict[str, object] | None = None,
    error: str | None = None,
) -> bytes:
    """One audit entry, its keys in the order Vault writes them."""
    entry = {"time": time, "type": kind, "auth": auth, "request": request}
    if response is not None:
        entry["response"] = response
    if error is not None:
        entry["error"] = error
    return orjson.dumps(entry, option=_NEWLINE)


def _mount_fields(mount: Mount | None, with_accessor: bool) -> dict[str, object]:
    if mount is None:
        return {}
    fields: dict[str, object] = {"mount_point": mount.point, "mount_type": mount.type}
    if with_accessor:
        fields["mount_accessor"] = mount.accessor
    fields["mount_running_plugin_version"] = RUNNING_VERSION
    fields["mount_class"] = mount.mount_class
    return fields


class AuditLogWriter:
    """Writes calls (given in start-time order) as audit entries, and the labels.

    Parameters
    ----------
    world
        The simulated server (secrets for response bodies, the HMAC).
    log
        Binary file the audit entries go to.
    labels
        Binary file the labels of attackers' calls go to.
    """

    def __init__(self, world: World, log: BinaryIO, labels: BinaryIO) -> None:
        self.world = world
        self.log = log
        self.labels = labels
        self.lines = 0
        self.calls = 0
        self._pending: list[tuple[int, int, bytes]] = []
        self._buffer: list[bytes] = []
        self._seq = 0
        h = world.hasher
        self._denied_data = {"error": h("permission denied")}
        self._invalid_data = {"error": h("permission denied: invalid token")}
        self._bad_login_data = {"error": h(_BAD_LOGIN)}
        self._salt = world.hasher.salt

    # -- the stream ------------------------------------------------------------------------

    def write(self, calls: list[Call]) -> None:
        """Write calls sorted by start time; their responses follow when they are due."""
        pending, buffer = self._pending, self._buffer
        for call in calls:
            t = call.t
            while pending and pending[0][0] <= t:
                buffer.append(heapq.heappop(pending)[2])
            request, response = self._entries(call)
            buffer.append(request)
            if len(buffer) >= 4096:
                self._flush()
            self._seq += 1
            heapq.heappush(pending, (t + call.latency, self._seq, response))
            if call.label is not None:
                call.label.count(t)
                self.labels.write(
                    orjson.dumps(
                        {
                            "event_id": call.rid,
                            "scenario": call.label.scenario,
                            "instance": call.label.instance,
                        },
                        option=_NEWLINE,
                    )
                )
        self.calls += len(calls)
        self.lines += 2 * len(calls)
        self._flush()

    def close(self) -> None:
        """Write the responses still due and flush."""
        while self._pending:
            self._buffer.append(heapq.heappop(self._pending)[2])
        self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self.log.write(b"".join(self._buffer))
            self._buffer.clear()

    # -- one call ----------------------------------------------------------------------------

    def _entries(self, c: Call) -> tuple[bytes, bytes]:
        token = c.token
        requested = rfc3339_nano(c.t)
        answered = rfc3339_nano(c.t + c.latency)
        if token is None:
            return self._unauthenticated(c, requested, answered)
        if not token.valid_at(c.t):
            return self._unknown_token(c, token, requested, answered)
        if c.outcome == DENIED:
            auth = token.request_auth(None)
            body = self._request(c, token, with_accessor=False)
            response = _mount_fields(c.mount, False)
            response["data"] = self._denied_data
            return (
                _line(requested, "request", auth, body, error=_DENIED),
                _line(answered, "response", auth, body, response, _DENIED),
            )
        auth = token.request_auth(c.granting)
        body = self._request(c, token, with_accessor=True)
        # Vault writes the mount accessor of a read or list only once it has routed it.
        first = body
        if c.operation in ("read", "list"):
            first = self._request(c, token, with_accessor=False)
        return (
            _line(requested, "request", auth, first),
            _line(answered, "response", auth, body, self._response(c, token)),
        )

    def _request(
        self, c: Call, token: Token | None, with_accessor: bool, known: bool = True
    ) -> dict[str, object]:
        body: dict[str, object] = {"id": c.rid}
        if token is not None and known:
            body["client_id"] = token.client_id
        body["operation"] = c.operation
        mount = c.mount
        if mount is not None:
            body["mount_point"] = mount.point
            body["mount_type"] = mount.type
            if with_accessor:
                body["mount_accessor"] = mount.accessor
            body["mount_running_version"] = RUNNING_VERSION
            body["mount_class"] = mount.mount_class
        if token is not None:
            body["client_token"] = token.client_token
            if known:
                body["client_token_accessor"] = token.accessor
        body["namespace"] = _NAMESPACE
        body["path"] = c.path
        if c.data is not None:
            body["data"] = c.data
        if c.ip is not None:
            body["remote_address"] = c.ip
            body["remote_port"] = c.port
        if c.headers is not None:
            body["headers"] = c.headers
        return body

    def _unknown_token(
        self, c: Call, token: Token, requested: str, answered: str
    ) -> tuple[bytes, bytes]:
        """A token Vault no longer knows: no accessor, no identity, permission denied."""
        body = self._request(c, token, with_accessor=False, known=False)
        response = _mount_fields(c.mount, False)
        response["data"] = self._invalid_data
        return (
            _line(requested, "request", _NO_TOKEN_AUTH, body, error="permission denied"),
            _line(answered, "response", _NO_TOKEN_AUTH, body, response, _DENIED),
        )

    def _unauthenticated(self, c: Call, requested: str, answered: str) -> tuple[bytes, bytes]:
        """Logins (good and bad) and the token-less first step of an OIDC login."""
        accessor = c.operation not in ("read", "list")
        body = self._request(c, None, with_accessor=accessor)
        full = body if accessor else self._request(c, None, with_accessor=True)
        request = _line(requested, "request", _LOGIN_REQUEST_AUTH, body)
        new = c.new_token
        if new is not None:
            response: dict[str, object] = {"auth": new.issued_auth()}
            response.update(_mount_fields(c.mount, True))
            auth = new.issued_auth(c.entity_created)
            return request, _line(answered, "response", auth, full, response)
        response = _mount_fields(c.mount, True)
        if c.reply == Reply.STATIC:
            if c.reply_arg is not None:
                response["data"] = c.reply_arg
            return request, _line(answered, "response", _LOGIN_REQUEST_AUTH, full, response)
        response["data"] = self._bad_login_data
        return request, _line(answered, "response", _NO_TOKEN_AUTH, full, response, _BAD_LOGIN)

    # -- response bodies ------------------------------------------------------------------

    def _derived(self, rid: str, field: str) -> str:
        digest = hashlib.sha256(self._salt + f"{rid}/{field}".encode()).hexdigest()
        return HMAC_PREFIX + digest

    def _lease(self, rid: str, path: str) -> str:
        digest = hashlib.sha256(self._salt + f"{rid}/lease".encode()).digest()
        return f"{path}/{''.join(_ALPHANUMERIC[b % 62] for b in digest[:24])}"

    def _response(self, c: Call, token: Token) -> dict[str, object]:
        kind = c.reply
        issued = None
        if kind == Reply.RENEW:
            issued = token.renewed_auth(c.reply_arg)
        elif kind == Reply.TOKEN_CREATE and c.new_token is not None:
            issued = c.new_token.issued_auth()
        if issued is not None:  # the token comes first, then the mount
            response: dict[str, object] = {"auth": issued}
            response.update(_mount_fields(c.mount, True))
            return response
        response = _mount_fields(c.mount, True)
        store = self.world.store
        data: object = None
        if kind == Reply.KV2_READ:
            data = store.kv2_read(c.reply_arg, c.t)
        elif kind == Reply.TRANSIT_DECRYPT:
            data = {"plaintext": self._derived(c.rid, "plaintext")}
        elif kind == Reply.TRANSIT_ENCRYPT:
            data = {"ciphertext": self._derived(c.rid, "ciphertext"), "key_version": 1}
        elif kind == Reply.DB_CREDS:
            response["secret"] = {"lease_id": self._lease(c.rid, c.reply_arg)}
            data = {
                "password": self._derived(c.rid, "password"),
                "username": self._derived(c.rid, "username"),
            }
        elif kind == Reply.KV1_READ:
            data = store.kv1_read(c.reply_arg, c.t)
            if data is not None:
                response["secret"] = {}
        elif kind == Reply.LIST:
            engine, prefix = c.reply_arg
            data = store.list_keys(engine, prefix, c.t)
        elif kind == Reply.KV2_WRITE:
            data = store.kv2_written(c.reply_arg, c.t)
        elif kind == Reply.KV2_METADATA:
            data = store.kv2_metadata(c.reply_arg, c.t)
        elif kind == Reply.PKI_ISSUE:
            data = {
                "certificate": self._derived(c.rid, "certificate"),
                "expiration": (c.t // SECOND) + 72 * 3600,
                "issuing_ca": self.world.hasher("pki_int/ca"),
                "private_key": self._derived(c.rid, "private_key"),
                "private_key_type": self.world.hasher("rsa"),
                "serial_number": self._derived(c.rid, "serial_number"),
            }
        elif kind == Reply.LOOKUP_SELF:
            data = self._lookup(token, c.t)
        elif kind == Reply.STATIC:
            data = c.reply_arg
        if data is not None:
            response["data"] = data
        return response

    def _lookup(self, token: Token, t: int) -> dict[str, object]:
        h = self.world.hasher
        data: dict[str, object] = {
            "accessor": h(token.accessor),
            "creation_time": token.issued // SECOND,
            "creation_ttl": token.ttl or 0,
            "display_name": h(token.display_name),
            "entity_id": h(token.entity_id or ""),
            "expire_time": rfc3339_nano(token.expires) if token.ttl else None,
            "explicit_max_ttl": 0,
            "id": token.client_token,
            "issue_time": rfc3339_nano(token.issued),
        }
        if token.metadata:
            data["meta"] = {k: h(v) for k, v in token.metadata.items()}
        data.update(
            {
                "num_uses": 0,
                "orphan": token.orphan,
                "path": h(token.path),
                "policies": [h(p) for p in token.policies],
                "renewable": token.ttl is not None,
                "ttl": token.remaining(t) if token.ttl else 0,
                "type": h(token.token_type),
            }
        )
        return data
