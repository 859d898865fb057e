"""GeoEnricher against small real MaxMind databases (see conftest) and the embedded one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geoip2.database
import pytest

from detector.enrichers import GeoEnricher
from detector.errors import ConfigError
from detector.event import EnrichedEvent, GeoInfo


@pytest.fixture
def geo(city_reader: geoip2.database.Reader) -> GeoEnricher:
    return GeoEnricher(city_reader)


@pytest.fixture
def geo_asn(city_reader: geoip2.database.Reader, asn_reader: geoip2.database.Reader) -> GeoEnricher:
    return GeoEnricher(city_reader, asn_reader)


def test_public_address_gets_country_city_coordinates_and_radius(geo: GeoEnricher) -> None:
    info = geo.lookup("89.0.142.86")

    assert info.ip_class == "public"
    assert (info.country, info.city) == ("DE", "Alfter")
    assert (info.latitude, info.longitude) == pytest.approx((50.7333, 7.0167))
    assert info.radius_km == 10
    assert (info.asn, info.as_org) == (None, None)


def test_without_asn_database_public_network_is_the_24_prefix(geo: GeoEnricher) -> None:
    assert geo.lookup("89.0.142.86").network == "89.0.142.0/24"
    assert geo.lookup("177.67.80.10").network == "177.67.80.0/24"


def test_asn_database_makes_network_the_autonomous_system(geo_asn: GeoEnricher) -> None:
    info = geo_asn.lookup("89.0.142.86")

    assert (info.asn, info.as_org) == (3320, "Deutsche Telekom AG")
    assert info.network == "AS3320"
    assert info.country == "DE"  # both databases answer


def test_public_address_missing_from_asn_database_is_keyed_by_prefix(
    geo_asn: GeoEnricher,
) -> None:
    info = geo_asn.lookup("8.8.8.8")

    assert info.asn is None
    assert info.network == "8.8.8.0/24"
    assert info.country == "US"


def test_country_only_answer_has_no_city(geo: GeoEnricher) -> None:
    info = geo.lookup("8.8.8.8")

    assert (info.country, info.city) == ("US", None)
    assert info.radius_km == 1000


def test_address_not_in_database_is_public_without_country(geo_asn: GeoEnricher) -> None:
    info = geo_asn.lookup("1.1.1.1")

    assert info.ip_class == "public"
    assert (info.country, info.city, info.latitude, info.asn) == (None, None, None, None)
    assert info.network == "1.1.1.0/24"


def test_ipv6_address_is_looked_up_and_keyed_by_48(geo: GeoEnricher, geo_asn: GeoEnricher) -> None:
    info = geo.lookup("2a00:1450:4001:80b::200e")

    assert (info.ip_class, info.country, info.city) == ("public", "IE", "Dublin")
    assert info.network == "2a00:1450:4001::/48"
    assert geo_asn.lookup("2a00:1450:4001:80b::200e").network == "AS15169"


def test_ipv4_mapped_ipv6_is_treated_as_the_ipv4_address(geo: GeoEnricher) -> None:
    mapped = geo.lookup("::ffff:89.0.142.86")

    assert mapped == geo.lookup("89.0.142.86")
    assert geo.lookup("::ffff:10.1.2.3") == GeoInfo("private", network="10.1.2.0/24")
    assert geo.lookup("::ffff:127.0.0.1").ip_class == "loopback"


@pytest.mark.parametrize(
    ("ip", "ip_class", "network"),
    [
        ("10.1.2.3", "private", "10.1.2.0/24"),
        ("172.16.5.4", "private", "172.16.5.0/24"),
        ("192.168.1.10", "private", "192.168.1.0/24"),
        ("100.64.7.8", "private", "100.64.7.0/24"),  # carrier-grade NAT, Tailscale
        ("fd00:1:2:3::1", "private", "fd00:1:2:3::/64"),
        ("127.0.0.1", "loopback", None),
        ("::1", "loopback", None),
        ("169.254.169.254", "link-local", None),
        ("fe80::1", "link-local", None),
        ("fe80::1%eth0", "link-local", None),
        ("224.0.0.251", "multicast", None),
        ("ff02::1", "multicast", None),
        ("192.0.2.1", "reserved", None),  # documentation range
        ("240.0.0.1", "reserved", None),
        ("0.0.0.0", "reserved", None),
        ("2001:db8::1", "reserved", None),
    ],
)
def test_non_public_addresses_are_classified_without_lookup(
    geo_asn: GeoEnricher, ip: str, ip_class: str, network: str | None
) -> None:
    # The test database holds a "ZZ" answer for every one of these networks: a lookup
    # would show up as a country.
    assert geo_asn.lookup(ip) == GeoInfo(ip_class, network=network)


@pytest.mark.parametrize(
    ("ip", "ip_class"),
    [
        ("9.255.255.255", "public"),
        ("10.0.0.0", "private"),
        ("10.255.255.255", "private"),
        ("11.0.0.0", "public"),
        ("100.63.255.255", "public"),
        ("100.64.0.0", "private"),
        ("100.127.255.255", "private"),
        ("100.128.0.0", "public"),
        ("126.255.255.255", "public"),
        ("127.255.255.255", "loopback"),
        ("128.0.0.0", "public"),
        ("172.15.255.255", "public"),
        ("172.31.255.255", "private"),
        ("172.32.0.0", "public"),
        ("198.17.255.255", "public"),
        ("198.19.255.255", "reserved"),
        ("223.255.255.255", "public"),
        ("224.0.0.0", "multicast"),
        ("239.255.255.255", "multicast"),
        ("240.0.0.0", "reserved"),
        ("255.255.255.255", "reserved"),
    ],
)
def test_ipv4_class_boundaries_are_exact(ip: str, ip_class: str) -> None:
    assert GeoEnricher(None).lookup(ip).ip_class == ip_class


@pytest.mark.parametrize("ip", ["not-an-ip", "AWS Internal", "300.1.1.1", "10.1.2", "::g"])
def test_malformed_address_is_invalid_not_an_error(geo: GeoEnricher, ip: str) -> None:
    assert geo.lookup(ip) == GeoInfo("invalid")


@pytest.mark.parametrize("ip", [None, ""])
def test_missing_address_is_class_none(geo: GeoEnricher, ip: str | None) -> None:
    assert geo.lookup(ip) == GeoInfo("none")


def test_without_city_database_addresses_are_still_classified_and_keyed() -> None:
    geo = GeoEnricher(None)

    assert geo.lookup("89.0.142.86") == GeoInfo("public", network="89.0.142.0/24")
    assert geo.lookup("10.0.0.1").ip_class == "private"


def test_repeated_lookup_returns_the_cached_object(geo: GeoEnricher) -> None:
    first = geo.lookup("89.0.142.86")

    assert geo.lookup("89.0.142.86") is first


def test_cache_forgets_the_oldest_address_when_full(city_reader: geoip2.database.Reader) -> None:
    geo = GeoEnricher(city_reader, cache_size=2)
    first = geo.lookup("89.0.142.86")
    geo.lookup("177.67.80.10")
    geo.lookup("8.8.8.8")

    again = geo.lookup("89.0.142.86")

    assert again == first
    assert again is not first


def test_enrich_sets_geo_from_the_client_address(
    geo: GeoEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(client_ip="177.67.80.10")
    other = make_event(client_ip="177.67.80.10")

    geo.enrich(event)
    geo.enrich(other)

    assert event.geo is not None and event.geo.country == "BR"
    assert other.geo is event.geo


def test_enrich_never_overwrites_geo_already_set(
    geo: GeoEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(client_ip="177.67.80.10")
    preset = GeoInfo("public", network="AS1", country="NZ")
    event.geo = preset

    geo.enrich(event)

    assert event.geo is preset


def test_enrich_without_client_address_sets_class_none(
    geo: GeoEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event()

    geo.enrich(event)

    assert event.geo == GeoInfo("none")


def test_from_paths_opens_city_and_asn_databases(city_db: Path, asn_db: Path) -> None:
    geo = GeoEnricher.from_paths(str(city_db), str(asn_db), cache_size=16)
    try:
        info = geo.lookup("89.0.142.86")
        assert (info.country, info.network) == ("DE", "AS3320")
        assert geo.cache_size == 16
    finally:
        geo.close()


def test_from_paths_missing_city_database_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mmdb"

    with pytest.raises(ConfigError) as caught:
        GeoEnricher.from_paths(str(missing), None)

    assert (caught.value.file, caught.value.key) == (str(missing), "city_db")
    assert str(missing) in str(caught.value)


def test_from_paths_missing_asn_database_names_the_file(city_db: Path, tmp_path: Path) -> None:
    missing = tmp_path / "asn.mmdb"

    with pytest.raises(ConfigError) as caught:
        GeoEnricher.from_paths(str(city_db), str(missing))

    assert (caught.value.file, caught.value.key) == (str(missing), "asn_db")


def test_from_paths_rejects_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "city.mmdb"
    bogus.write_text("not a maxmind database\n")

    with pytest.raises(ConfigError) as caught:
        GeoEnricher.from_paths(str(bogus), None)

    assert caught.value.file == str(bogus)


def test_from_paths_rejects_the_wrong_kind_of_database(asn_db: Path, city_db: Path) -> None:
    with pytest.raises(ConfigError, match="GeoLite2-ASN") as caught:
        GeoEnricher.from_paths(str(asn_db), None)
    assert caught.value.key == "city_db"

    with pytest.raises(ConfigError, match="GeoLite2-City") as caught:
        GeoEnricher.from_paths(str(city_db), str(city_db))
    assert caught.value.key == "asn_db"


def test_constructor_rejects_an_asn_reader_given_as_city(
    asn_reader: geoip2.database.Reader,
) -> None:
    with pytest.raises(ValueError, match="GeoLite2-ASN"):
        GeoEnricher(asn_reader)


@pytest.mark.parametrize(("ip", "country"), [("89.0.142.86", "DE"), ("177.67.80.10", "BR")])
def test_embedded_default_database_answers_without_configuration(ip: str, country: str) -> None:
    geo = GeoEnricher.from_paths(None, None)
    try:
        info = geo.lookup(ip)
    finally:
        geo.close()

    assert (info.ip_class, info.country) == ("public", country)
    assert info.latitude is not None and info.radius_km is not None
