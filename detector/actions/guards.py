"""Whether a revoke decision may be carried out automatically: pure decisions.

The detection engine says *revoke* when the risk is high enough; these guards say whether
the detector may do it on its own, must ask a person (the alert then offers a *Revoke*
button) or must never do it. They read nothing and change nothing, so every rule can be
tested in isolation, and the responder holds all the side effects.

The rules, in order:

1. **never-revoke**: a credential whose policies or identity are on the list (root,
   break-glass policies, named entities) is never revoked, not even by a click;
2. a decision below *revoke* is only an offer to the approvers;
3. the service's inventory entry must allow it (``auto_revoke``; no entry, no permission);
4. the event must be recent (``max_event_age``): a replay of last week's log must not
   revoke tokens that are still alive today (nor may an event dated in the future);
5. the **storm guard**: at most ``storm_limit`` automatic revocations per ``storm_window``,
   and ``storm_limit_per_service`` per service; beyond that a person decides. A detector
   gone wrong (a bad model, a bad deploy) must not take production down by itself.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ESCALATE", "OFFER", "PROTECT", "REVOKE", "Guards", "StormCounts", "Verdict"]

#: What a guard can say about a request.
REVOKE, ESCALATE, OFFER, PROTECT = "revoke", "escalate", "offer", "protect"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guards' answer: ``route`` is one of ``revoke``, ``escalate`` (ask an approver),
    ``offer`` (an alert: a button, no request), ``protect`` (never); ``reason`` says why
    it is not ``revoke``, for the ledger and the Slack message."""

    route: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StormCounts:
    """Automatic revocations in the storm window: all of them and the service's."""

    total: int
    service: int


def _globs(patterns: Iterable[str]) -> re.Pattern[str] | None:
    patterns = list(patterns)
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


class Guards:
    """The rules of :mod:`detector.actions.guards`, configured from ``[actions]``.

    Parameters
    ----------
    never_revoke_policies
        Globs on token policies (``root``, ``break-glass*``).
    never_revoke_identities
        Globs on identities: entity ids, display names, service names.
    storm_window, storm_limit, storm_limit_per_service
        At most this many automatic revocations in ``storm_window`` seconds.
    max_event_age
        Seconds an event may be old (wall clock against event time) and still be acted on
        automatically.

    Examples
    --------
    >>> guards = Guards(["root"], [], 600, 5, 3, 900)
    >>> guards.decide("revoke", "t", "t", ("root",), "ops", True, 0.0, 0.0, StormCounts(0, 0))
    Verdict(route='protect', reason='on the never-revoke list: policy root')
    >>> guards.decide("revoke", "e", "cart", ("cart",), "cart", True, 0.0, 1.0, StormCounts(0, 0))
    Verdict(route='revoke', reason=None)
    """

    def __init__(
        self,
        never_revoke_policies: Iterable[str] = ("root",),
        never_revoke_identities: Iterable[str] = (),
        storm_window: float = 600.0,
        storm_limit: int = 5,
        storm_limit_per_service: int = 3,
        max_event_age: float = 900.0,
    ) -> None:
        self.never_revoke_policies = tuple(never_revoke_policies)
        self.never_revoke_identities = tuple(never_revoke_identities)
        self.storm_window = storm_window
        self.storm_limit = storm_limit
        self.storm_limit_per_service = storm_limit_per_service
        self.max_event_age = max_event_age
        self._policies = _globs(self.never_revoke_policies)
        self._identities = _globs(self.never_revoke_identities)

    def protected(
        self, identity: str, identity_name: str | None, policies: Iterable[str], service: str | None
    ) -> str | None:
        """Why the credential is on the never-revoke list, or ``None``."""
        if self._policies is not None:
            for policy in policies:
                if self._policies.fullmatch(policy):
                    return f"on the never-revoke list: policy {policy}"
        if self._identities is not None:
            for name in (identity, identity_name, service):
                if name and self._identities.fullmatch(name):
                    return f"on the never-revoke list: {name}"
        return None

    def decide(
        self,
        decision: str | None,
        identity: str,
        identity_name: str | None,
        policies: Iterable[str],
        service: str | None,
        auto_revoke: bool,
        event_time: float,
        now: float,
        storm: StormCounts,
    ) -> Verdict:
        """What may be done with a request for ``decision`` on this credential."""
        protected = self.protected(identity, identity_name, policies, service)
        if protected is not None:
            return Verdict(PROTECT, protected)
        if decision != REVOKE:
            return Verdict(OFFER, "an alert, below the revoke threshold")
        if service is None:
            return Verdict(ESCALATE, "the identity is in no service of the inventory")
        if not auto_revoke:
            return Verdict(ESCALATE, f"{service}'s inventory entry does not allow auto-revocation")
        age = now - event_time
        if -age > self.max_event_age:
            return Verdict(
                ESCALATE,
                f"the event is dated {_duration(-age)} in the future (a clock is wrong)",
            )
        if age > self.max_event_age:
            return Verdict(
                ESCALATE,
                f"the event is {_duration(age)} old (a replay or a backlog; automatic up to "
                f"{_duration(self.max_event_age)})",
            )
        window = _duration(self.storm_window)
        if storm.total >= self.storm_limit:
            return Verdict(
                ESCALATE,
                f"storm guard: {storm.total} automatic revocations in the last {window} "
                f"(limit {self.storm_limit})",
            )
        if storm.service >= self.storm_limit_per_service:
            return Verdict(
                ESCALATE,
                f"storm guard: {storm.service} automatic revocations of {service} in the last "
                f"{window} (limit {self.storm_limit_per_service} per service)",
            )
        return Verdict(REVOKE)


def _duration(seconds: float) -> str:
    """ "45 s", "12 min", "3 h", "2 d": how long, as a person says it."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
