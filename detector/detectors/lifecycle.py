"""Credential lifecycle: root tokens, tokens minted by unexpected identities, long TTLs,
orphans, revoked tokens still in use, audit devices touched."""

from __future__ import annotations

import math
from typing import ClassVar

from detector.detectors.base import DetectorBase, Finding, Signal, combine
from detector.event import EnrichedEvent
from detector.state import IdentityState

__all__ = ["Lifecycle"]

_DAY = 86400.0


class LifecycleState:
    """How many tokens an identity created (orphans among them) and their longest TTL."""

    __slots__ = ("created", "orphans", "longest_ttl")

    def __init__(self) -> None:
        self.created = 0
        self.orphans = 0
        self.longest_ttl = 0


class Lifecycle(DetectorBase):
    """The signs of a credential being minted, kept or used in ways that outlive a theft.

    Root tokens are for emergencies; an orphan token survives the revocation of its
    parent; an unusually long TTL keeps access open; a token Vault no longer accepts means
    someone still holds it; an audit device changed can hide the rest. Token creation by
    an identity that has never created one (after its learning period) and TTLs far beyond
    what it created before compare with its history.

    Parameters
    ----------
    long_ttl
        Seconds of TTL that count as long for an identity with no history of creating tokens.
    ttl_factor
        How many times its previous longest TTL a new token's TTL must exceed to count.
    min_history
        Learned events before "first token it ever minted" counts.
    """

    name: ClassVar[str] = "lifecycle"

    def __init__(
        self, long_ttl: float = 7 * _DAY, ttl_factor: float = 4.0, min_history: int = 20
    ) -> None:
        self.long_ttl = long_ttl
        self.ttl_factor = ttl_factor
        self.min_history = min_history

    @classmethod
    def _unit_test_params(cls):
        yield {"long_ttl": _DAY, "min_history": 5}

    # -- contract ------------------------------------------------------------------------

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        e = event.event
        who = event.display_identity
        parts: list[tuple[float, str, bool]] = []
        if "root" in e.policies:
            parts.append((0.9, f"root token used by {who} for {e.action} {e.resource}", True))
        if e.metadata.get("credential_state") == "invalid":
            parts.append(self._invalid_token(event, state))
        if e.resource.startswith("sys/audit") and e.action == "admin":
            parts.append((0.85, f"audit device changed ({e.operation} {e.resource})", True))
        elif e.resource.startswith("sys/generate-root"):
            parts.append((0.7, f"root token generation ({e.operation} {e.resource})", True))
        if e.new_credential and e.action == "token-create":
            parts.extend(self._minted(event, state))
        if not parts:
            return None
        return combine(self.name, parts, credential=e.new_credential or e.credential)

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        e = event.event
        if not (e.new_credential and e.action == "token-create"):
            return
        life: LifecycleState | None = state.lifecycle
        if life is None:
            life = state.lifecycle = LifecycleState()
        life.created += 1
        life.orphans += e.new_credential_orphan
        life.longest_ttl = max(life.longest_ttl, e.new_credential_ttl or 0)

    # -- internals -----------------------------------------------------------------------

    def _invalid_token(self, event: EnrichedEvent, state: IdentityState) -> Signal:
        """A token Vault no longer accepts: a stale client at home, or someone else."""
        who = event.display_identity
        geo, loc = event.geo, state.location
        at_home = (
            geo is not None
            and geo.network is not None
            and loc is not None
            and loc.networks.share(geo.network) >= 0.05
        )
        if at_home:
            return Signal(
                0.25,
                f"call with a token of {who} that Vault no longer accepts (revoked or "
                f"expired), from its usual network {geo.network}: likely a stale client",
                instant=True,
            )
        return Signal(
            0.7,
            f"call with a token of {who} that Vault no longer accepts (revoked or expired) "
            "from a network it does not use: someone else still holds it",
            instant=True,
        )

    def _minted(self, event: EnrichedEvent, state: IdentityState) -> list[tuple[float, str, bool]]:
        e = event.event
        who = event.display_identity
        life: LifecycleState | None = state.lifecycle
        created = life.created if life else 0
        parts: list[tuple[float, str, bool]] = []
        if "root" in e.new_credential_policies:
            parts.append((0.9, f"{who} created a token with the root policy", True, True))
        if e.new_credential_orphan and not (life and life.orphans):
            parts.append(
                Signal(
                    0.6,
                    f"{who} created an orphan token (it survives its parent's revocation)",
                    instant=True,
                    escalates=True,
                )
            )
        if created == 0 and state.learned >= self.min_history:
            parts.append(
                (
                    0.5,
                    f"first token ever minted by {who} after {state.learned:,} requests",
                    False,
                    True,
                )
            )
        ttl = e.new_credential_ttl or 0
        if created and life.longest_ttl and ttl > self.ttl_factor * life.longest_ttl:
            # Graded: four times longer is notable, a hundred times is a backdoor.
            excess = math.log10(ttl / (self.ttl_factor * life.longest_ttl))
            parts.append(
                (
                    min(0.85, 0.4 + 0.25 * excess),
                    f"token TTL {_hours(ttl)}, while tokens {who} created before lived at most "
                    f"{_hours(life.longest_ttl)}",
                    False,
                    True,
                )
            )
        elif not created and ttl >= self.long_ttl:
            parts.append(
                (0.35, f"long-lived token created by {who}: TTL {_hours(ttl)}", True, True)
            )
        return parts


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.0f}h" if seconds >= 3600 else f"{seconds / 60:,.0f}min"
