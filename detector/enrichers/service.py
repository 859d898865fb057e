"""Which service an identity belongs to, and which service owns a client address.

An audit log names tokens, entity ids and ARNs; an analyst (and the revocation policy)
thinks in services: "cart in prod, owned by shop, may be auto-revoked". The inventory is
a small TOML file that maps one to the other (see ``pipelines/inventory.example.toml``).
It also records which networks each service's hosts use, so a credential used from
*another* service's network is visible (``event.network_owner != event.service``).

The file is validated strictly when loaded: a typo in a key silently matching nothing
would leave a critical service unprotected, so unknown keys, wrong types, bad networks and
unknown criticality levels are errors that name the file and the key.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from detector.errors import ConfigError
from detector.event import EnrichedEvent, ServiceInfo

__all__ = [
    "CRITICALITIES",
    "Inventory",
    "ServiceEnricher",
    "ServiceEntry",
    "ServiceMatch",
]

#: Criticality levels, least to most critical (the same names as sensitivity levels).
CRITICALITIES = ("low", "medium", "high", "critical")


class ServiceMatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The ``[service.match]`` table: what makes an identity (or address) this service's.

    Globs use :mod:`fnmatch` syntax and are case-sensitive (Vault and AWS names are);
    ``*`` also matches ``/``.
    """

    entity_ids: tuple[str, ...] = ()
    display_names: tuple[str, ...] = ()
    role_names: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    arns: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()

    @property
    def names_identities(self) -> bool:
        """Whether this entry says whose credentials are its own (not only where it is)."""
        return bool(
            self.entity_ids
            or self.display_names
            or self.role_names
            or self.usernames
            or self.policies
            or self.arns
        )


class ServiceEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One ``[[service]]`` table of the inventory file.

    ``auto_revoke`` defaults to false: revoking a credential takes a service down, so it
    must be allowed explicitly, service by service.
    """

    name: str
    team: str = ""
    environment: str = ""
    criticality: str = "medium"
    auto_revoke: bool = False
    match: ServiceMatch = ServiceMatch()

    @property
    def info(self) -> ServiceInfo:
        """What an enriched event carries about this service."""
        return ServiceInfo(
            name=self.name,
            team=self.team,
            environment=self.environment,
            criticality=self.criticality,
            auto_revoke=self.auto_revoke,
            namespaces=self.match.namespaces,
        )


class _InventoryFile(msgspec.Struct, forbid_unknown_fields=True):
    service: tuple[ServiceEntry, ...] = ()


class _Matcher:
    """One service's identity criteria, compiled once: sets and a single regex per glob list."""

    __slots__ = ("entity_ids", "display_names", "role_names", "usernames", "policies", "arns")

    def __init__(self, match: ServiceMatch) -> None:
        self.entity_ids = frozenset(match.entity_ids)
        self.display_names = _glob_regex(match.display_names)
        self.role_names = frozenset(match.role_names)
        self.usernames = frozenset(match.usernames)
        self.policies = frozenset(match.policies)
        self.arns = _glob_regex(match.arns)

    def matches(
        self,
        identity: str,
        identity_name: str,
        role_name: str | None,
        username: str | None,
        policies: tuple[str, ...],
        role_arn: str | None,
    ) -> bool:
        return bool(
            identity in self.entity_ids
            or (self.arns is not None and self.arns.match(identity))
            or (self.arns is not None and role_arn is not None and self.arns.match(role_arn))
            or (self.display_names is not None and self.display_names.match(identity_name))
            or (role_name is not None and role_name in self.role_names)
            or (username is not None and username in self.usernames)
            or (policies and not self.policies.isdisjoint(policies))
        )


class Inventory:
    """The services of an organisation and how to recognise them.

    An identity belongs to the *first* service (in file order) any of whose ``match``
    criteria hold; an address belongs to the service with the *longest* CIDR prefix that
    holds it (the first in file order on a tie).

    Parameters
    ----------
    entries
        The services, in precedence order. Prefer :meth:`load` or :meth:`from_dict`,
        which validate and report errors by file and key.
    file
        Where the entries came from, for messages.

    Examples
    --------
    >>> inv = Inventory.from_dict(
    ...     {"service": [{"name": "cart", "match": {"role_names": ["cart"]}}]}
    ... )
    >>> inv.service_for("ent-1", role_name="cart").name
    'cart'
    """

    def __init__(self, entries: Iterable[ServiceEntry] = (), file: str = "<inventory>") -> None:
        self.entries = tuple(entries)
        self.file = file
        self.services = tuple(entry.info for entry in self.entries)
        self._by_name = {info.name: info for info in reversed(self.services)}
        self._matchers = tuple(
            (info, _Matcher(entry.match))
            for info, entry in zip(self.services, self.entries, strict=True)
        )
        self._networks = _network_table(self.entries, self.services)

    @classmethod
    def empty(cls) -> Inventory:
        """An inventory with no services: every identity and address is unknown."""
        return cls((), "<empty inventory>")

    @classmethod
    def load(cls, path: str | Path) -> Inventory:
        """Read and validate an inventory TOML file.

        Raises
        ------
        ConfigError
            The file cannot be read, is not TOML, or a key is unknown, of the wrong type
            or has a bad value; ``key`` is a path such as ``service[2].match.cidrs[0]``
            (indices count from 0, in file order).
        """
        file = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(file, "", f"cannot read inventory: {exc.strerror or exc}") from exc
        try:
            data = msgspec.toml.decode(raw)
        except msgspec.DecodeError as exc:
            raise ConfigError(file, "", f"not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(file, "", f"not UTF-8 text (byte {exc.start})") from None
        return cls.from_dict(data, file)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "<inventory>") -> Inventory:
        """Validate an inventory already parsed into plain data (e.g. inline in a pipeline).

        Raises
        ------
        ConfigError
            As :meth:`load`.
        """
        try:
            parsed = msgspec.convert(data, _InventoryFile)
        except msgspec.ValidationError as exc:
            key, problem = _describe_validation_error(str(exc))
            raise ConfigError(file, key, problem) from exc
        _check(parsed.service, file)
        return cls(parsed.service, file)

    def __len__(self) -> int:
        return len(self.services)

    def __iter__(self) -> Iterator[ServiceInfo]:
        return iter(self.services)

    def __repr__(self) -> str:
        return f"Inventory({self.file!r}, services={[s.name for s in self.services]})"

    def get(self, name: str) -> ServiceInfo | None:
        """The service called ``name``, if the inventory has one."""
        return self._by_name.get(name)

    def service_for(
        self,
        identity: str,
        identity_name: str = "",
        role_name: str | None = None,
        username: str | None = None,
        policies: tuple[str, ...] = (),
    ) -> ServiceInfo | None:
        """The first service whose criteria match this identity (uncached).

        ``identity`` is tried as a Vault entity id and as an ARN; for an STS
        assumed-role ARN the IAM role ARN is tried too, because an inventory names roles
        (``arn:aws:iam::123456789012:role/cart``) while CloudTrail logs the session
        (``arn:aws:sts::123456789012:assumed-role/cart/i-0abc``). The role's IAM path is
        not in the session ARN, so write role globs that do not depend on it.
        """
        role_arn = _iam_role_arn(identity)
        for info, matcher in self._matchers:
            if matcher.matches(identity, identity_name, role_name, username, policies, role_arn):
                return info
        return None

    def network_owner(self, ip: str | None) -> ServiceInfo | None:
        """The service whose CIDRs hold ``ip`` (longest prefix wins; uncached).

        ``None`` also when the most specific network holding ``ip`` is claimed by several
        services (a shared office or CI runner pool): it belongs to no one in particular.
        """
        if not ip or not self._networks:
            return None
        try:
            addr = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None
        if addr.version == 6 and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        value, bits = int(addr), addr.max_prefixlen
        for version, prefixlen, owners in self._networks:
            if version == addr.version:
                owner = owners.get(value >> (bits - prefixlen))
                if owner is not None:
                    return None if owner is _SHARED else owner
        return None


_MISS: Any = object()
_SHARED: Any = object()  # a network more than one service claims


class ServiceEnricher:
    """Set ``event.service`` and ``event.network_owner`` from an :class:`Inventory`.

    Parameters
    ----------
    inventory
        The services to recognise.
    cache_size
        How many identity keys and how many addresses to remember (each). Logs repeat
        the same few identities and hosts, so a hit is one dict access; when full the
        oldest entry is dropped, first in first out.
    """

    def __init__(self, inventory: Inventory, cache_size: int = 65536) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.inventory = inventory
        self.cache_size = cache_size
        self._identities: dict[tuple[Any, ...], ServiceInfo | None] = {}
        self._owners: dict[str, ServiceInfo | None] = {}

    def __repr__(self) -> str:
        return f"ServiceEnricher({self.inventory!r}, cache_size={self.cache_size})"

    def enrich(self, event: EnrichedEvent) -> None:
        """Fill ``service`` and ``network_owner`` unless an earlier enricher already did."""
        e = event.event
        if event.service is None:
            metadata = e.metadata
            key = (
                e.identity,
                e.identity_name,
                # AppRole writes ``role_name``; Kubernetes, JWT/OIDC and the cloud
                # methods write ``role``. Both name the role the inventory matches.
                metadata.get("role_name") or metadata.get("role"),
                metadata.get("username"),
                e.policies,
            )
            service = self._identities.get(key, _MISS)
            if service is _MISS:
                service = self.inventory.service_for(*key)
                _remember(self._identities, key, service, self.cache_size)
            event.service = service
        if event.network_owner is None:
            ip = e.client_ip
            if ip:
                owner = self._owners.get(ip, _MISS)
                if owner is _MISS:
                    owner = self.inventory.network_owner(ip)
                    _remember(self._owners, ip, owner, self.cache_size)
                event.network_owner = owner


def _remember(cache: dict[Any, Any], key: Any, value: Any, size: int) -> None:
    if size:
        if len(cache) >= size:
            del cache[next(iter(cache))]
        cache[key] = value


def _glob_regex(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """All globs as one compiled regex, so a list of twenty costs one match call."""
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


_ASSUMED_ROLE = re.compile(r"arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/")


def _iam_role_arn(identity: str) -> str | None:
    m = _ASSUMED_ROLE.match(identity)
    return f"arn:{m[1]}:iam::{m[2]}:role/{m[3]}" if m else None


def _network_table(
    entries: tuple[ServiceEntry, ...], services: tuple[ServiceInfo, ...]
) -> list[tuple[int, int, dict[int, ServiceInfo]]]:
    """CIDRs bucketed by (version, prefix length), longest prefix first.

    A lookup shifts the address right by ``bits - prefixlen`` and checks one dict per
    distinct prefix length, so the cost grows with the number of distinct lengths (a
    handful), not with the number of networks.
    """
    buckets: dict[tuple[int, int], dict[int, ServiceInfo]] = {}
    for entry, info in zip(entries, services, strict=True):
        if not entry.match.names_identities:
            # A place with no identities of its own (a bastion, a NAT gateway) owns no
            # credentials: a credential used from it is not "another service's".
            continue
        for cidr in entry.match.cidrs:
            net = ipaddress.ip_network(cidr, strict=False)
            owners = buckets.setdefault((net.version, net.prefixlen), {})
            key = int(net.network_address) >> (net.max_prefixlen - net.prefixlen)
            # A network several services claim (a shared office, a CI runner pool) belongs
            # to none of them: using it says nothing about whose credential it should be.
            owners[key] = _SHARED if key in owners and owners[key] is not info else info
    return [(v, p, owners) for (v, p), owners in sorted(buckets.items(), key=lambda kv: -kv[0][1])]


def _check(services: tuple[ServiceEntry, ...], file: str) -> None:
    """What msgspec's types cannot say: names, levels and networks."""
    seen: dict[str, int] = {}
    for i, svc in enumerate(services):
        where = f"service[{i}]"
        if not svc.name.strip():
            raise ConfigError(file, f"{where}.name", "a service needs a non-empty name")
        if svc.name in seen:
            raise ConfigError(
                file,
                f"{where}.name",
                f"duplicate service name {svc.name!r} (also service[{seen[svc.name]}])",
            )
        seen[svc.name] = i
        if svc.criticality not in CRITICALITIES:
            raise ConfigError(
                file,
                f"{where}.criticality",
                f"not one of {', '.join(CRITICALITIES)}: {svc.criticality!r}",
            )
        for k, cidr in enumerate(svc.match.cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                problem = f"not a network: {cidr!r}"
                if "host bits set" in str(exc):
                    fixed = ipaddress.ip_network(cidr, strict=False)
                    problem += f" (host bits set; the network is {fixed})"
                raise ConfigError(file, f"{where}.match.cidrs[{k}]", problem) from exc


_ERROR_AT = re.compile(r"(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.S)
_FIELD = re.compile(r"Object (?P<kind>contains unknown|missing required) field `(?P<field>[^`]*)`")
_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_NOUNS = {
    "array": "an array",
    "object": "a table",
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "datetime": "a date-time",
    "date": "a date",
    "time": "a time",
}


def _describe_validation_error(message: str) -> tuple[str, str]:
    """Turn msgspec's "problem - at `$.a[0].b`" into (key, problem) for a ConfigError."""
    m = _ERROR_AT.fullmatch(message)
    assert m is not None  # the pattern matches any string
    problem, path = m["problem"], (m["path"] or "").lstrip(".")
    if field := _FIELD.fullmatch(problem):
        parent = path
        path = f"{parent}.{field['field']}" if parent else field["field"]
        if field["kind"] == "missing required":
            return path, "missing required key"
        return path, f"unknown key; expected one of: {', '.join(_keys_at(parent))}"
    if expected := _EXPECTED.fullmatch(problem):
        want = _NOUNS.get(expected["want"], expected["want"])
        got = _NOUNS.get(expected["got"], expected["got"])
        return path, f"expected {want}, got {got}"
    return path, problem


def _keys_at(path: str) -> tuple[str, ...]:
    if not path:
        struct: type[msgspec.Struct] = _InventoryFile
    elif path.endswith(".match"):
        struct = ServiceMatch
    else:
        struct = ServiceEntry
    return struct.__struct_fields__
