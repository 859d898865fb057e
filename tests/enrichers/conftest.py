"""Fixtures for the enricher tests: small real MaxMind databases and events.

The databases are written with ``mmdb-writer`` once per session, so the tests read real
``.mmdb`` files through the real ``geoip2`` reader (no mocks), and stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geoip2.database
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from detector.event import AccessEvent, EnrichedEvent

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_INVENTORY = REPO / "pipelines" / "inventory.example.toml"

# Real public networks (documentation ranges would be classified "reserved" and never
# looked up), with made-up but plausible answers.
CITY_RECORDS: dict[str, dict[str, Any]] = {
    "89.0.142.0/24": {
        "country": {"iso_code": "DE", "names": {"en": "Germany"}},
        "city": {"names": {"en": "Alfter", "de": "Alfter"}},
        "location": {"latitude": 50.7333, "longitude": 7.0167, "accuracy_radius": 10},
    },
    "177.67.80.0/24": {
        "country": {"iso_code": "BR", "names": {"en": "Brazil"}},
        "city": {"names": {"en": "Rio de Janeiro"}},
        "location": {"latitude": -22.8305, "longitude": -43.2192, "accuracy_radius": 50},
    },
    "2a00:1450::/32": {
        "country": {"iso_code": "IE", "names": {"en": "Ireland"}},
        "city": {"names": {"en": "Dublin"}},
        "location": {"latitude": 53.3331, "longitude": -6.2489, "accuracy_radius": 20},
    },
    # Country-level answer only: no city, as GeoLite2 gives for many addresses.
    "8.8.8.0/24": {
        "country": {"iso_code": "US", "names": {"en": "United States"}},
        "location": {"latitude": 37.751, "longitude": -97.822, "accuracy_radius": 1000},
    },
}

# Traps: answers for networks that must never be looked up. If the enricher asked the
# database about a private, loopback, link-local, multicast or reserved address, the
# country "ZZ" would show.
_TRAP = {"country": {"iso_code": "ZZ", "names": {"en": "Trap"}}}
CITY_RECORDS.update(
    {
        cidr: _TRAP
        for cidr in (
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "224.0.0.0/4",
            "240.0.0.0/4",
            "192.0.2.0/24",
            "fc00::/7",
            "fe80::/10",
            "ff00::/8",
            "2001:db8::/32",
        )
    }
)

ASN_RECORDS: dict[str, dict[str, Any]] = {
    "89.0.0.0/16": {
        "autonomous_system_number": 3320,
        "autonomous_system_organization": "Deutsche Telekom AG",
    },
    "2a00:1450::/32": {
        "autonomous_system_number": 15169,
        "autonomous_system_organization": "Google LLC",
    },
}


def _write(path: Path, database_type: str, records: dict[str, dict[str, Any]]) -> Path:
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description=f"test {database_type}",
    )
    for cidr, record in records.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="session")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("geo") / "city.mmdb", "GeoLite2-City", CITY_RECORDS)


@pytest.fixture(scope="session")
def asn_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("geo") / "asn.mmdb", "GeoLite2-ASN", ASN_RECORDS)


@pytest.fixture
def city_reader(city_db: Path) -> Iterator[geoip2.database.Reader]:
    with geoip2.database.Reader(str(city_db)) as reader:
        yield reader


@pytest.fixture
def asn_reader(asn_db: Path) -> Iterator[geoip2.database.Reader]:
    with geoip2.database.Reader(str(asn_db)) as reader:
        yield reader


@pytest.fixture(scope="session")
def example_inventory() -> Path:
    """The documented example inventory shipped in ``pipelines/``."""
    return EXAMPLE_INVENTORY


@pytest.fixture
def make_event() -> Callable[..., EnrichedEvent]:
    """An EnrichedEvent with sensible defaults; keyword arguments override AccessEvent fields."""

    def make(**fields: Any) -> EnrichedEvent:
        values: dict[str, Any] = {
            "event_id": "req-1",
            "time": 1_700_000_000.0,
            "source": "vault",
            "identity": "ent-unknown",
            "action": "read",
            "resource": "secret/data/shop/cart/db",
        }
        values.update(fields)
        return EnrichedEvent(AccessEvent(**values))

    return make
