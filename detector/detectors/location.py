"""Unusual place: a new country, network or city; impossible travel; a credential replayed
from another network or used from another service's network."""

from __future__ import annotations

import math
import zlib
from typing import ClassVar

from detector.detectors.base import DetectorBase, Finding, combine, surprise
from detector.event import EnrichedEvent, GeoInfo
from detector.state import Decay, DecayingCounter, IdentityState

__all__ = ["Location", "credential_key"]

_EARTH_RADIUS_KM = 6371.0
_NO_PLACE = frozenset({"none", "invalid", "loopback"})


class LocationState:
    """Where an identity has been, and the last network of each of its recent credentials."""

    __slots__ = ("networks", "places", "fix", "credentials", "novelty")

    def __init__(self) -> None:
        self.networks = DecayingCounter()
        self.novelty = 0.0  # running share of learned events that came from a new network
        # Created at the first public address: most services never have one.
        # Public places as "CC|City" (one counter for countries and cities: smaller).
        self.places: DecayingCounter | None = None
        # Last public position: (latitude, longitude, radius km, time, place).
        # Last public position and when. GeoInfo objects are shared through the enricher's
        # cache, so holding one costs a reference, not a copy.
        self.fix: tuple[GeoInfo, float] | None = None
        # credential key -> (network, when, public?) for the credentials used lately.
        self.credentials: dict[int, tuple[str, float, bool]] = {}


class Location(DetectorBase):
    """First-seen country / network / city, impossible travel and credential replay.

    A place is *established* for an identity once it has been seen in at least
    ``established`` trusted events (decayed): one alerted event from a thief's address does
    not make it home. Novelty is judged against how often the identity meets new networks
    at all (a running rate): rare for a service that always calls from one subnet, common
    for a CI runner on ever-changing cloud addresses.

    Parameters
    ----------
    half_life
        Seconds after which an observation counts half.
    max_speed_kmh
        Travel faster than this between two public addresses is impossible (an airliner).
    min_travel_km
        Distances below this (after the accuracy radii) are GeoIP noise, not travel.
    replay_window
        Seconds within which one credential seen from two networks counts as replayed.
    max_places
        Networks remembered per identity (the most used; six public places).
    established
        Trusted (decayed) events from a place before it counts as known.
    memory
        Events the running rate of new networks effectively averages over.
    """

    observes: ClassVar[bool] = True
    name: ClassVar[str] = "location"

    def __init__(
        self,
        half_life: float = 30 * 86400.0,
        max_speed_kmh: float = 1000.0,
        min_travel_km: float = 500.0,
        replay_window: float = 600.0,
        max_places: int = 8,
        established: float = 1.0,
        memory: int = 500,
    ) -> None:
        self.half_life = half_life
        self.max_speed_kmh = max_speed_kmh
        self.min_travel_km = min_travel_km
        self.replay_window = replay_window
        self.max_places = max_places
        self.established = established
        self.memory = memory
        self._decay = Decay(half_life)

    @classmethod
    def _unit_test_params(cls):
        yield {"max_speed_kmh": 800.0, "replay_window": 300.0, "established": 1.0}

    # -- contract ------------------------------------------------------------------------

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        e = event.event
        parts: list[tuple[float, str, bool]] = []
        geo = event.geo
        loc: LocationState | None = state.location
        owner, service = event.network_owner, event.service
        if (
            owner is not None
            and service is not None
            and owner.name != service.name
            and not (loc and geo and self._known(loc.networks, geo.network, e.time))
        ):
            parts.append(
                (
                    0.6,
                    f"{service.name}'s credential used from {owner.name}'s network ({e.client_ip})",
                    True,
                )
            )
        if geo is not None and loc is not None and geo.ip_class not in _NO_PLACE and geo.network:
            if not self._known(loc.networks, geo.network, e.time):
                parts.append(self._new_network(loc, geo.network, geo.place(), e.time, state))
            if geo.is_public and geo.country:
                parts.append(
                    self._new_country(loc, geo.country, geo.city, event.display_identity, e.time)
                )
            fix = loc.fix
            if geo.is_public and fix is not None and fix[0] is not geo and geo.latitude is not None:
                parts.append(self._travel(fix, event))
            if e.credential and credential_key(e.credential) in loc.credentials:
                parts.append(self._replay(loc, event))
        if not parts:
            return None
        return combine(
            self.name,
            parts,
            network=geo.network if geo else None,
            country=geo.country if geo else None,
        )

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        geo = event.geo
        if geo is None or geo.ip_class in _NO_PLACE or geo.network is None:
            return
        loc: LocationState | None = state.location
        if loc is None:
            loc = state.location = LocationState()
        time, decay, limit = event.event.time, self._decay, self.max_places
        new = not self._known(loc.networks, geo.network, time)
        loc.novelty += (float(new) - loc.novelty) / min(state.learned + 1, self.memory)
        # A place becomes the identity's own through trusted use: a request that alerted
        # counts for less (a thief's address stays foreign for longer), but still counts
        # (a traveller's new country stops alerting after a request or two).
        trust = 1.0 - 0.5 * event.risk
        loc.networks.add(geo.network, time, decay, limit, trust)
        if geo.is_public and geo.country:
            if loc.places is None:
                loc.places = DecayingCounter()
            # Few identities work from more than a handful of places: keep six.
            loc.places.add(f"{geo.country}|{geo.city or ''}", time, decay, 6, trust)
            if geo.latitude is not None and geo.longitude is not None:
                loc.fix = (geo, time)

    def observe_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        """Remember each credential's last network, trusted or not: replay needs both ends."""
        geo, e = event.geo, event.event
        if geo is None or geo.network is None or not e.credential or state.location is None:
            return
        credentials = state.location.credentials
        key = credential_key(e.credential)
        credentials.pop(key, None)
        credentials[key] = (geo.network, e.time, geo.is_public)
        # Only credentials used within the replay window matter: forget the others (the
        # dict is in order of last use), so a service keeps each of its hosts' active
        # tokens and an idle identity keeps none; never more than 16.
        horizon = e.time - self.replay_window
        while credentials:
            first = next(iter(credentials))
            if len(credentials) <= 16 and credentials[first][1] >= horizon:
                break
            del credentials[first]

    # -- sub-signals ---------------------------------------------------------------------

    def _known(self, counter: DecayingCounter | None, key: str | None, time: float) -> bool:
        """Seen in enough trusted (decayed) events to count as one of the identity's own."""
        if counter is None or key is None or key not in counter:
            return False
        return counter.effective(key, time, self._decay) >= self.established

    def _new_network(
        self, loc: LocationState, network: str, place: str, time: float, state: IdentityState
    ) -> tuple[float, str, bool]:
        known = min(state.learned, self.memory)
        p_new = (loc.novelty * known + 0.5) / (known + 1.0)
        n = loc.networks.effective_total(time, self._decay)
        return (
            0.45 * surprise(p_new),
            f"first use from network {network} ({place}), seen before: "
            + _listing(loc.networks, n)
            + f" ({p_new:.1%} of its requests come from a new network)",
            False,
        )

    def _country_known(self, loc: LocationState, country: str | None, time: float) -> bool:
        places = loc.places
        if places is None or not country:
            return False
        prefix = country + "|"
        seen = sum(
            places.effective(key, time, self._decay)
            for key in places.counts
            if key.startswith(prefix)
        )
        return seen >= self.established

    def _new_country(
        self, loc: LocationState, country: str, city: str | None, who: str, time: float
    ) -> tuple[float, str, bool]:
        decay, places = self._decay, loc.places
        n_public = places.effective_total(time, decay) if places is not None else 0.0
        if self._country_known(loc, country, time):
            if city and not self._known(places, f"{country}|{city}", time) and n_public >= 1.0:
                known = len(places)
                p_new = (known + 0.5) / (n_public + known + 0.5)
                return (
                    0.25 * surprise(p_new),
                    f"first access from {city}, {country}, places seen before: "
                    + _places(places, n_public),
                    False,
                )
            return (0.0, "", False)
        if n_public < 1.0:
            n_all = loc.networks.effective_total(time, decay)
            p_new = 1.5 / (n_all + 1.5)
            return (
                0.85 * surprise(p_new, decades=2.5),
                f"first access from a public address ({country}) for {who}, until now only "
                f"from private networks ({_listing(loc.networks, n_all)})",
                False,
            )
        countries = {key.split("|", 1)[0] for key in places.counts}
        p_new = (len(countries) + 0.5) / (n_public + len(countries) + 0.5)
        return (
            0.85 * surprise(p_new, decades=2.5),
            f"first access from {country} for {who}, seen before: " + _places(places, n_public),
            False,
        )

    def _travel(self, fix: tuple[GeoInfo, float], event: EnrichedEvent) -> tuple[float, str, bool]:
        before, time0 = fix
        geo, time = event.geo, event.event.time
        distance = _haversine_km(before.latitude, before.longitude, geo.latitude, geo.longitude)
        distance -= (before.radius_km or 0.0) + (geo.radius_km or 0.0)
        if distance < self.min_travel_km or time <= time0 - 1.0:
            return (0.0, "", True)
        hours = max(time - time0, 60.0) / 3600.0
        speed = distance / hours
        if speed <= self.max_speed_kmh:
            return (0.0, "", True)
        score = min(1.0, 0.6 + 0.4 * math.log10(speed / self.max_speed_kmh))
        return (
            score,
            f"impossible travel: {before.place()} → {geo.place()}, {distance:,.0f} km in "
            f"{_duration(time - time0)} ({speed:,.0f} km/h)",
            True,
        )

    def _replay(self, loc: LocationState, event: EnrichedEvent) -> tuple[float, str, bool]:
        """One credential from two networks within minutes: copied, or a client that moved?"""
        e, geo = event.event, event.geo
        network, seen, was_public = loc.credentials[credential_key(e.credential)]
        if network == geo.network or e.time - seen > self.replay_window:
            return (0.0, "", True)
        if loc.networks.share(geo.network) >= 0.02:
            score = 0.3  # both are the identity's own networks (replicas, dual-stack)
        elif geo.is_public and not was_public:
            score = 0.9  # a credential left the private network it lives on: theft's shape
        elif geo.is_public:
            # Public to public: mobile clients hop networks; a new country is the stronger sign.
            score = 0.4 if self._country_known(loc, geo.country, e.time) else 0.85
        else:
            score = 0.5
        return (
            score,
            f"credential {e.credential[:8]}… used from {geo.place()} {_duration(e.time - seen)} "
            f"after {'' if was_public else 'private '}network {network}",
            True,
        )


def credential_key(credential: str) -> int:
    """A small, stable stand-in for a credential (accessor strings are big to keep)."""
    return zlib.crc32(credential.encode())


def _listing(counter: DecayingCounter, total: float) -> str:
    shown = ", ".join(f"{key} {share * total:,.0f}" for key, share in counter.most_common(3))
    more = len(counter) - 3
    return shown + (f" and {more} more" if more > 0 else "") if shown else "nothing"


def _places(places: DecayingCounter, total: float) -> str:
    """ "Berlin, DE 230, New York, US 12" from "CC|City" keys."""
    shown = []
    for key, share in places.most_common(3):
        country, city = key.split("|", 1)
        shown.append(f"{city + ', ' if city else ''}{country} {share * total:,.0f}")
    more = len(places) - 3
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _haversine_km(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    phi0, phi1 = math.radians(lat0), math.radians(lat1)
    dphi, dlon = phi1 - phi0, math.radians(lon1 - lon0)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi0) * math.cos(phi1) * math.sin(dlon / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
