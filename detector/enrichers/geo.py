"""Where a client address is: its class, and for public addresses country, city, ASN.

The location detector needs to know whether an identity has been seen in this country,
this city or this network before, and how far it would have had to travel. This module
answers those questions for one address at a time, from MaxMind-format databases
(GeoLite2/GeoIP2 City and ASN, or DB-IP's lite databases in the same format).

Only public addresses are looked up: a private, loopback, link-local, multicast or reserved
address has no place on a map, and asking a GeoIP database about it returns either
nothing or nonsense. Those are classified with :mod:`ipaddress` and keyed by their own
prefix, so "the same private network" still means something.

Access logs repeat the same few addresses over and over (a service's pods, an office NAT),
so every answer is cached per address string: a cached lookup is one dict access.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

import geoip2.database
import geoip2.errors
import maxminddb

from detector.errors import ConfigError
from detector.event import EnrichedEvent, GeoInfo

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["GeoEnricher", "IP_CLASSES"]

#: Every value :attr:`GeoInfo.ip_class` can take.
IP_CLASSES = (
    "public",
    "private",
    "loopback",
    "link-local",
    "reserved",
    "multicast",
    "invalid",
    "none",
)

# IPv4 address classes as integer ranges, searched by bisection: classifying a new address
# is on the path of every first sighting (a scan, a fleet of mobile clients), and
# ``ipaddress``'s properties cost several microseconds each. The table is explicit rather
# than Python's ``is_private``/``is_global``, which changed in patch releases (3.11.10,
# 3.12.4): replays must classify IPv4 the same way on every interpreter.
#
# "private" means networks an organisation uses for its own hosts: RFC 1918, and
# 100.64.0.0/10 (carrier-grade NAT), which overlay networks such as Tailscale and cloud
# NAT gateways hand to internal hosts. "reserved" is the rest of the IANA special-purpose
# registry that no real client sits in (this network, documentation, benchmarking,
# protocol assignments, 240/4 and the broadcast address).
_V4_TABLE = sorted(
    (int(net.network_address), int(net.broadcast_address), ip_class)
    for cidr, ip_class in (
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "private"),
        ("0.0.0.0/8", "reserved"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "reserved"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
        ("240.0.0.0/4", "reserved"),
    )
    for net in (ipaddress.IPv4Network(cidr),)
)
_V4_STARTS = [start for start, _, _ in _V4_TABLE]

# IPv6: unique local addresses, and the deprecated site-local range, private in spirit.
# Everything else is classified by ``ipaddress`` (IPv6 clients are rarer in audit logs).
_V6_PRIVATE = (ipaddress.IPv6Network("fc00::/7"), ipaddress.IPv6Network("fec0::/10"))

# Prefix lengths that make "the same network" for an address without an ASN answer.
# /24 and /48 are the smallest blocks routed on the internet, so two public addresses
# in one are almost always one site; inside an organisation a /64 is one IPv6 subnet.
_PUBLIC_PREFIX = {4: 24, 6: 48}
_PRIVATE_PREFIX = {4: 24, 6: 64}

_NO_ADDRESS = GeoInfo("none")
_INVALID = GeoInfo("invalid")

# Which geoip2 method answers for which kind of database (by ``database_type``).
_CITY_METHODS = (("City", "city"), ("Enterprise", "enterprise"), ("Country", "country"))
_ASN_METHODS = (("ASN", "asn"), ("ISP", "isp"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class GeoEnricher:
    """Fill ``event.geo`` from the client address.

    Parameters
    ----------
    city
        A reader on a City (or Country) database, or ``None`` to only classify addresses
        and key public ones by prefix. Passed in, never opened here, so tests and
        long-running workers decide which file and when (see :meth:`from_paths`).
    asn
        A reader on an ASN database. When given, a public address's ``network`` is
        ``AS<number>``: one provider's addresses move around (mobile, DHCP), its AS
        does not, so "new network" alerts stay quiet for a roaming laptop.
    cache_size
        How many distinct address strings to remember. When full, the oldest entry is
        dropped (first in, first out): a hot address that is dropped comes straight
        back at the price of one lookup, and a plain dict keeps the hit path cheap.

    Examples
    --------
    >>> geo = GeoEnricher(None)
    >>> info = geo.lookup("10.1.0.7")
    >>> info.ip_class, info.network
    ('private', '10.1.0.0/24')
    >>> geo.lookup("::ffff:127.0.0.1").ip_class
    'loopback'
    >>> geo.lookup("not an address").ip_class
    'invalid'
    """

    def __init__(
        self,
        city: geoip2.database.Reader | None,
        asn: geoip2.database.Reader | None = None,
        cache_size: int = 65536,
    ) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.city = city
        self.asn = asn
        self.cache_size = cache_size
        self._cache: dict[str | None, GeoInfo] = {}
        self._locate = _method_for(city, _CITY_METHODS, "city") if city is not None else None
        self._owner = _method_for(asn, _ASN_METHODS, "asn") if asn is not None else None

    @classmethod
    def from_paths(
        cls,
        city_db: str | None = None,
        asn_db: str | None = None,
        cache_size: int = 65536,
    ) -> GeoEnricher:
        """Open the databases at these paths.

        Parameters
        ----------
        city_db
            Path to a City or Country ``.mmdb``; ``None`` means the GeoLite2-City
            database embedded in the ``maxminddb-geolite2`` package, so the detector
            works out of the box (that copy dates from 2018: point this at a current
            download for production).
        asn_db
            Path to an ASN ``.mmdb``, or ``None`` for no ASN lookups.
        cache_size
            See :class:`GeoEnricher`.

        Raises
        ------
        ConfigError
            A file is missing, unreadable, not a MaxMind database or the wrong kind of
            database; the error names the file and the option (``city_db``/``asn_db``).
        """
        if city_db is None:
            from _maxminddb_geolite2 import geolite2_database

            city_db = geolite2_database()
        city = _open(city_db, "city_db", _CITY_METHODS)
        try:
            asn = _open(asn_db, "asn_db", _ASN_METHODS) if asn_db is not None else None
        except ConfigError:
            city.close()
            raise
        return cls(city, asn, cache_size)

    def close(self) -> None:
        """Close the readers this enricher was given (and forget the cache)."""
        for reader in (self.city, self.asn):
            if reader is not None:
                reader.close()
        self._cache.clear()

    def __repr__(self) -> str:
        def kind(reader: geoip2.database.Reader | None) -> str:
            return "None" if reader is None else f"<{reader.metadata().database_type}>"

        return (
            f"GeoEnricher(city={kind(self.city)}, asn={kind(self.asn)}, "
            f"cache_size={self.cache_size})"
        )

    def enrich(self, event: EnrichedEvent) -> None:
        """Set ``event.geo`` unless an earlier enricher already did."""
        if event.geo is None:
            ip = event.event.client_ip
            # The cache hit is inlined: this runs once per audit line.
            info = self._cache.get(ip)
            event.geo = info if info is not None else self.lookup(ip)

    def lookup(self, ip: str | None) -> GeoInfo:
        """What is known about the address ``ip`` (cached per string).

        Never raises for a bad address: ``None`` or ``""`` is class ``"none"``, anything
        that does not parse (CloudTrail writes ``"AWS Internal"`` or a service host name
        when AWS itself made the call) is ``"invalid"``.
        """
        cache = self._cache
        info = cache.get(ip)
        if info is None:
            info = self._resolve(ip)
            if self.cache_size:
                if len(cache) >= self.cache_size:
                    del cache[next(iter(cache))]
                cache[ip] = info
        return info

    # -- uncached path ---------------------------------------------------------------

    def _resolve(self, ip: str | None) -> GeoInfo:
        if not ip:
            return _NO_ADDRESS
        try:
            addr: IPAddress = ipaddress.ip_address(ip.strip())
        except ValueError:
            return _INVALID
        if addr.version == 6 and addr.ipv4_mapped is not None:
            # ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket.
            addr = addr.ipv4_mapped
        ip_class = _classify(addr)
        if ip_class == "private":
            return GeoInfo("private", network=_prefix(addr, _PRIVATE_PREFIX))
        if ip_class != "public":
            return GeoInfo(ip_class)
        fields: dict[str, Any] = {}
        if self._locate is not None:
            fields.update(self._place(addr))
        if self._owner is not None:
            fields.update(self._autonomous_system(addr))
        asn = fields.get("asn")
        network = f"AS{asn}" if asn is not None else _prefix(addr, _PUBLIC_PREFIX)
        return GeoInfo("public", network=network, **fields)

    def _place(self, addr: IPAddress) -> dict[str, Any]:
        assert self._locate is not None
        try:
            answer = self._locate(addr)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            # ValueError: an IPv6 address asked of an IPv4-only database.
            return {}
        fields: dict[str, Any] = {"country": answer.country.iso_code}
        city = getattr(answer, "city", None)  # a Country database has no city or location
        if city is not None:
            location = answer.location
            fields.update(
                city=city.name,
                latitude=location.latitude,
                longitude=location.longitude,
                radius_km=(
                    float(location.accuracy_radius)
                    if location.accuracy_radius is not None
                    else None
                ),
            )
        return fields

    def _autonomous_system(self, addr: IPAddress) -> dict[str, Any]:
        assert self._owner is not None
        try:
            answer = self._owner(addr)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return {}
        return {
            "asn": answer.autonomous_system_number,
            "as_org": answer.autonomous_system_organization,
        }


def _classify(addr: IPAddress) -> str:
    """The class of an address (never "invalid" or "none": it parsed)."""
    if addr.version == 4:
        value = int(addr)
        i = bisect_right(_V4_STARTS, value) - 1
        if i >= 0:
            _, end, ip_class = _V4_TABLE[i]
            if value <= end:
                return ip_class
        return "public"
    # The order matters: Python also calls loopback and link-local addresses "private".
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if any(addr in net for net in _V6_PRIVATE):
        return "private"
    if addr.is_global:
        return "public"
    return "reserved"


def _prefix(addr: IPAddress, lengths: dict[int, int]) -> str:
    """The network of ``addr`` at the prefix length for its version, as text."""
    length = lengths[addr.version]
    host_bits = addr.max_prefixlen - length
    network = (int(addr) >> host_bits) << host_bits
    if addr.version == 4:
        return ".".join(map(str, network.to_bytes(4, "big"))) + f"/{length}"
    return f"{ipaddress.IPv6Address(network)}/{length}"


def _method_for(
    reader: geoip2.database.Reader,
    methods: tuple[tuple[str, str], ...],
    role: str,
) -> Callable[[IPAddress], Any]:
    """The reader's lookup method for its kind of database, checked once up front.

    geoip2 checks the database type on every call and, when it is wrong, walks the stack
    to build its message; checking here turns a misconfiguration into one clear error.
    """
    db_type = reader.metadata().database_type
    for marker, method in methods:
        if marker in db_type:
            return getattr(reader, method)
    wanted = " or ".join(marker for marker, _ in methods)
    raise ValueError(f"{role} reader is a {db_type} database, expected a {wanted} database")


def _open(path: str, key: str, methods: tuple[tuple[str, str], ...]) -> geoip2.database.Reader:
    try:
        reader = geoip2.database.Reader(path)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        # The file name is already in the error; strerror alone reads better than
        # maxminddb's message, which repeats the path as bytes.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(path, key, f"cannot open GeoIP database: {reason}") from exc
    try:
        _method_for(reader, methods, key)
    except ValueError as exc:
        reader.close()
        raise ConfigError(path, key, str(exc)) from exc
    return reader
