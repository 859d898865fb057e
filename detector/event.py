"""The normalized event every parser produces and every detector reads.

A parser turns one raw audit record into :class:`AccessEvent` values; enrichers wrap it
in an :class:`EnrichedEvent` that adds (never overwrites) what the detectors need to
know about the address, the service and the secret.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

__all__ = [
    "AccessEvent",
    "EnrichedEvent",
    "GeoInfo",
    "ServiceInfo",
    "Sensitivity",
    "format_time",
]

#: Outcomes an event can have.
OK, DENIED, ERROR = "ok", "denied", "error"


class AccessEvent(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One access to a secret-bearing system, whatever wrote the log.

    ``time`` is seconds since the epoch (UTC, event time): every model runs on it, never
    on the wall clock, so replays give the same result.
    """

    event_id: str
    time: float
    source: str
    identity: str
    action: str
    resource: str
    outcome: str = OK
    identity_name: str = ""
    credential: str | None = None
    credential_hashed: bool = False
    client_ip: str | None = None
    user_agent: str | None = None
    operation: str = ""
    resources: tuple[str, ...] = ()
    mount: str | None = None
    namespace: str | None = None
    error: str | None = None
    auth_method: str | None = None
    policies: tuple[str, ...] = ()
    token_type: str | None = None
    token_ttl: int | None = None
    metadata: dict[str, str] = {}
    internal: bool = False
    new_credential: str | None = None
    new_credential_ttl: int | None = None
    new_credential_policies: tuple[str, ...] = ()
    new_credential_orphan: bool = False
    token_hash: str | None = None

    @property
    def all_resources(self) -> tuple[str, ...]:
        """Every resource the call touched (batch calls name several)."""
        return self.resources or (self.resource,)


class GeoInfo(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """Where an address is: its class, and for public addresses the GeoIP answer."""

    ip_class: str
    network: str | None = None
    country: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float | None = None
    asn: int | None = None
    as_org: str | None = None

    @property
    def is_public(self) -> bool:
        return self.ip_class == "public"

    def place(self) -> str:
        """A short place name for a reason: "Alfter, DE (AS3320 Deutsche Telekom)"."""
        if not self.is_public:
            return f"{self.ip_class} network {self.network}" if self.network else self.ip_class
        parts = ", ".join(p for p in (self.city, self.country) if p) or "unknown place"
        if self.asn is not None:
            parts += f" (AS{self.asn}{' ' + self.as_org if self.as_org else ''})"
        return parts


class ServiceInfo(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """The inventory's answer for an identity: which service, whose, how critical."""

    name: str
    team: str = ""
    environment: str = ""
    criticality: str = "medium"
    auto_revoke: bool = False
    namespaces: tuple[str, ...] = ()


class Sensitivity(msgspec.Struct, frozen=True, gc=False):
    """How much a secret matters: a level name and its weight in [0, 1]."""

    level: str
    weight: float


class EnrichedEvent:
    """An :class:`AccessEvent` with what the enrichers added.

    ``network_owner`` is the service whose CIDR holds the client address, if any: when it
    differs from ``service`` a credential is being used from another service's network.
    ``risk`` is set by the model once the event is scored, for detectors that learn from
    an event in proportion to how much it can be trusted.
    """

    __slots__ = ("event", "geo", "service", "network_owner", "sensitivity", "risk")

    def __init__(
        self,
        event: AccessEvent,
        geo: GeoInfo | None = None,
        service: ServiceInfo | None = None,
        network_owner: ServiceInfo | None = None,
        sensitivity: Sensitivity | None = None,
    ) -> None:
        self.event = event
        self.geo = geo
        self.service = service
        self.network_owner = network_owner
        self.sensitivity = sensitivity
        self.risk = 0.0

    def __repr__(self) -> str:
        return f"EnrichedEvent({self.event!r}, geo={self.geo!r}, service={self.service!r})"

    @property
    def display_identity(self) -> str:
        e = self.event
        return e.identity_name or e.identity


def format_time(epoch: float) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z``."""
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
