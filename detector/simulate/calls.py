"""One Vault request as the simulator plans it, before it becomes two audit entries.

Actors (services, people, pipelines, attackers) plan :class:`Call` objects; the audit
writer turns each into a ``request`` and a ``response`` entry. A call is small on
purpose (slots, no dicts of its own): a large run plans millions of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detector.simulate.mounts import Mount
    from detector.simulate.tokens import Token

__all__ = [
    "ALLOWED",
    "BAD_CREDENTIALS",
    "DENIED",
    "Call",
    "Label",
    "Reply",
]

#: What Vault decided, as far as the planner knows it. Whether the token was still valid
#: is decided when the entry is written (a revocation may be planned after the use).
ALLOWED, DENIED, BAD_CREDENTIALS = 0, 1, 2


class Reply:
    """What the response carries, by kind: the writer fills in the bodies."""

    NONE = 0
    KV2_READ = 1
    KV2_WRITE = 2
    KV2_METADATA = 3
    KV1_READ = 4
    KV1_WRITE = 5
    LIST = 6
    DB_CREDS = 7
    PKI_ISSUE = 8
    TRANSIT_DECRYPT = 9
    TRANSIT_ENCRYPT = 10
    LOOKUP_SELF = 11
    RENEW = 12
    LOGIN = 13
    TOKEN_CREATE = 14
    STATIC = 15


class Label:
    """The scenario instance an attacker's call belongs to (benign calls have none)."""

    __slots__ = ("scenario", "instance", "events", "first", "last")

    def __init__(self, scenario: str, instance: str) -> None:
        self.scenario = scenario
        self.instance = instance
        self.events = 0
        self.first: int | None = None
        self.last: int | None = None

    def count(self, t: int) -> None:
        """Record one written event of the instance at event time ``t``."""
        self.events += 1
        if self.first is None or t < self.first:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t


class Call:
    """One request: when, who (token, address, agent), what (operation, path), outcome.

    ``latency`` is nanoseconds between the request and the response entry. ``reply``
    and ``reply_arg`` say what the response body holds (a :class:`Reply` kind and its
    argument, e.g. the secret's logical path). ``new_token`` is the token a login or a
    ``token/create`` issues.
    """

    __slots__ = (
        "t",
        "rid",
        "operation",
        "path",
        "mount",
        "token",
        "granting",
        "outcome",
        "ip",
        "port",
        "headers",
        "data",
        "reply",
        "reply_arg",
        "new_token",
        "entity_created",
        "latency",
        "label",
    )

    def __init__(
        self,
        t: int,
        rid: str,
        operation: str,
        path: str,
        mount: Mount | None,
        token: Token | None,
        granting: str | None,
        outcome: int,
        ip: str | None,
        port: int,
        headers: dict[str, list[str]] | None,
        data: object,
        reply: int,
        reply_arg: object,
        latency: int,
        label: Label | None = None,
        new_token: Token | None = None,
        entity_created: bool = False,
    ) -> None:
        self.t = t
        self.rid = rid
        self.operation = operation
        self.path = path
        self.mount = mount
        self.token = token
        self.granting = granting
        self.outcome = outcome
        self.ip = ip
        self.port = port
        self.headers = headers
        self.data = data
        self.reply = reply
        self.reply_arg = reply_arg
        self.latency = latency
        self.label = label
        self.new_token = new_token
        self.entity_created = entity_created

    def __repr__(self) -> str:
        return f"Call({self.t}, {self.operation} {self.path}, outcome={self.outcome})"
