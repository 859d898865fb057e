"""A Vault client as the audit log sees it: an address, a port, a user agent, a token.

Every actor talks to Vault through a :class:`Client`. The client routes the path to its
mount, asks the policies whether the token may do it (and which policy grants it), says
what the response will carry and how long Vault takes to answer, and returns the
planned :class:`~detector.simulate.calls.Call`.
"""

from __future__ import annotations

import random

from detector.simulate.calls import ALLOWED, BAD_CREDENTIALS, DENIED, Call, Label, Reply
from detector.simulate.identifiers import request_id
from detector.simulate.mounts import Mount
from detector.simulate.timekeeping import SECOND
from detector.simulate.tokens import Token
from detector.simulate.world import World

__all__ = ["Client"]

_MS = 1_000_000

#: Response time of Vault by what it does, in milliseconds (low, high): a KV read is
#: served from cache, a userpass login runs bcrypt, a database credential creates a user.
_LATENCY = {
    Reply.NONE: (0.3, 3.0),
    Reply.KV2_READ: (0.3, 2.0),
    Reply.KV2_WRITE: (2.0, 9.0),
    Reply.KV2_METADATA: (0.3, 2.0),
    Reply.KV1_READ: (0.2, 1.5),
    Reply.KV1_WRITE: (1.5, 6.0),
    Reply.LIST: (0.4, 3.0),
    Reply.DB_CREDS: (15.0, 120.0),
    Reply.PKI_ISSUE: (40.0, 260.0),
    Reply.TRANSIT_DECRYPT: (0.3, 2.0),
    Reply.TRANSIT_ENCRYPT: (0.3, 2.0),
    Reply.LOOKUP_SELF: (0.3, 1.2),
    Reply.RENEW: (1.0, 4.0),
    Reply.LOGIN: (3.0, 12.0),
    Reply.TOKEN_CREATE: (1.5, 5.0),
    Reply.STATIC: (0.3, 3.0),
}
_LOGIN_LATENCY = {
    "userpass": (60.0, 95.0),
    "approle": (3.0, 12.0),
    "kubernetes": (12.0, 45.0),
    "jwt": (6.0, 25.0),
    "oidc": (120.0, 450.0),
}
_DENIED_LATENCY = (0.05, 0.3)

_replies: dict[tuple[str, str], tuple[int, object]] = {}


def _reply_for(mount: Mount | None, path: str, operation: str) -> tuple[int, object]:
    """What the response to ``operation`` on ``path`` carries (cached per path)."""
    key = (path, operation)
    answer = _replies.get(key)
    if answer is not None:
        return answer
    answer = (Reply.NONE, None)
    point = mount.point if mount else ""
    if point == "secret/":
        rest = path[7:]
        if rest.startswith("data/"):
            if operation == "read":
                answer = (Reply.KV2_READ, rest[5:])
            elif operation in ("create", "update"):
                answer = (Reply.KV2_WRITE, rest[5:])
        elif rest.startswith("metadata/"):
            if operation == "list":
                answer = (Reply.LIST, ("secret", rest[9:]))
            elif operation == "read":
                answer = (Reply.KV2_METADATA, rest[9:])
    elif point == "kv-legacy/":
        rest = path[10:]
        if operation == "read":
            answer = (Reply.KV1_READ, rest)
        elif operation == "list":
            answer = (Reply.LIST, ("kv-legacy", rest))
        elif operation in ("create", "update"):
            answer = (Reply.KV1_WRITE, rest)
    elif path.startswith("database/creds/") and operation == "read":
        answer = (Reply.DB_CREDS, path)
    elif path.startswith("pki_int/issue/"):
        answer = (Reply.PKI_ISSUE, path)
    elif path.startswith("transit/decrypt/"):
        answer = (Reply.TRANSIT_DECRYPT, None)
    elif path.startswith("transit/encrypt/"):
        answer = (Reply.TRANSIT_ENCRYPT, None)
    elif path == "auth/token/lookup-self":
        answer = (Reply.LOOKUP_SELF, None)
    if len(_replies) < 100_000:
        _replies[key] = answer
    return answer


class Client:
    """One program or person at one address, holding (at most) one token at a time.

    Parameters
    ----------
    world
        The simulated server.
    rng
        The actor's generator (ports, latencies, request ids).
    ip
        The address Vault sees (``remote_address``).
    user_agent
        The ``User-Agent`` header, audited.
    token
        The token calls are made with; logins replace it.
    label
        The scenario instance this client's calls belong to (attackers only).
    """

    def __init__(
        self,
        world: World,
        rng: random.Random,
        ip: str | None,
        user_agent: str | None,
        token: Token | None = None,
        label: Label | None = None,
    ) -> None:
        self.world = world
        self.rng = rng
        self.ip = ip
        self.headers = world.headers(user_agent)
        self.token = token
        self.label = label
        self.port = rng.randint(32768, 60999)

    @property
    def user_agent(self) -> str | None:
        return self.headers["user-agent"][0] if self.headers else None

    def reconnect(self, ip: str | None = None) -> None:
        """A new TCP connection (new source port), optionally from a new address."""
        self.port = self.rng.randint(32768, 60999)
        if ip is not None:
            self.ip = ip

    def _latency(self, bounds: tuple[float, float]) -> int:
        lo, hi = bounds
        return int((lo + (hi - lo) * self.rng.random()) * _MS)

    def call(
        self,
        t: int,
        operation: str,
        path: str,
        data: object = None,
        reply: int | None = None,
        reply_arg: object = None,
        token: Token | None = None,
    ) -> Call:
        """A request made with the client's token (or ``token``)."""
        world = self.world
        token = token or self.token
        mount = world.mounts.route(path)
        granting = world.policies.granting(token.policies, path, operation) if token else None
        if reply is None:
            reply, reply_arg = _reply_for(mount, path, operation)
        if granting is None:
            outcome, latency = DENIED, self._latency(_DENIED_LATENCY)
        else:
            outcome, latency = ALLOWED, self._latency(_LATENCY[reply])
        return Call(
            t,
            request_id(self.rng),
            operation,
            path,
            mount,
            token,
            granting,
            outcome,
            self.ip,
            self.port,
            self.headers,
            data,
            reply,
            reply_arg,
            latency,
            self.label,
        )

    def read(self, t: int, path: str, data: object = None) -> Call:
        return self.call(t, "read", path, data)

    def list(self, t: int, path: str) -> Call:
        return self.call(t, "list", path)

    def update(self, t: int, path: str, data: object = None, reply: int | None = None) -> Call:
        return self.call(t, "update", path, data, reply)

    def login(
        self,
        t: int,
        path: str,
        data: object,
        new_token: Token | None,
        method: str,
        entity_created: bool = False,
        operation: str = "update",
    ) -> Call:
        """A login: ``new_token`` is what Vault issues, ``None`` for bad credentials.

        The client holds the new token afterwards.
        """
        mount = self.world.mounts.route(path)
        latency = self._latency(_LOGIN_LATENCY.get(method, _LATENCY[Reply.LOGIN]))
        call = Call(
            t,
            request_id(self.rng),
            operation,
            path,
            mount,
            None,
            None,
            ALLOWED if new_token else BAD_CREDENTIALS,
            self.ip,
            self.port,
            self.headers,
            data,
            Reply.LOGIN if new_token else Reply.NONE,
            None,
            latency,
            self.label,
            new_token,
            entity_created,
        )
        if new_token is not None:
            self.token = new_token
        return call

    def unauthenticated(
        self, t: int, operation: str, path: str, data: object, reply_data: object
    ) -> Call:
        """A call that needs no token (the first step of an OIDC login)."""
        mount = self.world.mounts.route(path)
        return Call(
            t,
            request_id(self.rng),
            operation,
            path,
            mount,
            None,
            None,
            ALLOWED,
            self.ip,
            self.port,
            self.headers,
            data,
            Reply.STATIC,
            reply_data,
            self._latency((1.0, 6.0)),
            self.label,
        )

    def issue(self, t: int, path: str, data: object, new_token: Token) -> Call:
        """``auth/token/create`` (or ``create-orphan``): the response carries ``new_token``."""
        call = self.call(t, "update", path, data, Reply.TOKEN_CREATE, None)
        call.new_token = new_token
        return call

    def renew(self, t: int, ttl: int) -> Call:
        """``auth/token/renew-self``: the response carries the token with TTL ``ttl``."""
        return self.call(t, "update", "auth/token/renew-self", None, Reply.RENEW, ttl)

    def after(self, call: Call, gap: float) -> int:
        """When the next call starts: after ``call``'s response and ``gap`` seconds."""
        return call.t + call.latency + int(gap * SECOND)
