"""``detector simulate``: a realistic audit log whose attacks are labelled, and only those.

One run of nine days (at a quarter of the default load) is written once per module and
read by most tests; determinism, the CLI and odd start times use short runs of their own.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geoip2.database
import orjson
import pytest
from _maxminddb_geolite2 import geolite2_database
from click.testing import CliRunner

from detector.cli import main
from detector.enrichers.service import Inventory
from detector.event import AccessEvent
from detector.parsers.timestamps import parse_timestamp
from detector.parsers.vault import VaultAuditParser
from detector.simulate import SCENARIO_NAMES, simulate
from detector.simulate.networks import POOLS, pool_of
from detector.simulate.organisation import CITIES, PEOPLE

START = datetime(2026, 11, 2, tzinfo=UTC)
DAYS = 9
FILES = ("audit.log", "labels.jsonl", "scenarios.json", "inventory.toml")
#: Pools only attackers draw from: every call from them must be labelled.
ATTACKER_POOLS = {p.name for p in POOLS.values() if p.kind in ("hosting", "mobile")} | {
    "nj-residential"
}


@dataclass
class Run:
    """A simulated log, read back: raw entries, parsed events, labels, scenarios."""

    directory: Path
    entries: list[dict]
    events: dict[str, AccessEvent]
    labels: list[dict]
    scenarios: list[dict]

    @property
    def labelled(self) -> set[str]:
        return {label["event_id"] for label in self.labels}

    def benign(self) -> list[AccessEvent]:
        labelled = self.labelled
        return [e for e in self.events.values() if e.event_id not in labelled]


def _read(directory: Path) -> Run:
    parser = VaultAuditParser()
    entries, events = [], []
    with (directory / "audit.log").open("rb") as log:
        for line in log:
            entries.append(orjson.loads(line))
            events.extend(parser.parse(line))  # a ParseError fails the test
    events.extend(parser.flush(final=True))
    labels = [orjson.loads(line) for line in (directory / "labels.jsonl").read_bytes().splitlines()]
    scenarios = json.loads((directory / "scenarios.json").read_text())
    return Run(directory, entries, {e.event_id: e for e in events}, labels, scenarios)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    directory = tmp_path_factory.mktemp("simulated")
    simulate(directory, seed=7, days=DAYS, start=START, scale=0.25)
    return _read(directory)


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    first = simulate(tmp_path / "a", seed=11, days=3, scale=0.1)
    second = simulate(tmp_path / "b", seed=11, days=3, scale=0.1)
    assert first.lines == second.lines > 10_000
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_seed_writes_a_different_log(tmp_path: Path) -> None:
    simulate(tmp_path / "a", seed=11, days=2, scale=0.1)
    simulate(tmp_path / "b", seed=12, days=2, scale=0.1)
    assert (tmp_path / "a/audit.log").read_bytes() != (tmp_path / "b/audit.log").read_bytes()


def test_benign_traffic_is_the_same_with_and_without_attacks(tmp_path: Path, run: Run) -> None:
    simulate(tmp_path, seed=7, days=DAYS, start=START, scale=0.25, attacks=False)
    quiet = _read(tmp_path)
    assert quiet.labels == [] and quiet.scenarios == []
    assert set(quiet.events) <= set(run.events)
    # Besides the attackers' calls, only the victim's reaction: sam signs in and revokes.
    extra = set(run.events) - set(quiet.events) - run.labelled
    reaction = sorted((run.events[i] for i in extra), key=lambda e: e.time)
    assert len({e.client_ip for e in reaction}) == 1
    assert [e.resource for e in reaction if e.identity_name == "oidc-sam@acme.example"] == [
        "auth/oidc/oidc/callback",
        "auth/token/revoke-accessor",
    ]


# -- the format ------------------------------------------------------------------------------

_RFC3339_NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z\Z")
_HMAC = re.compile(r"hmac-sha256:[0-9a-f]{64}\Z")


def test_every_request_entry_is_followed_by_its_response_in_time_order(run: Run) -> None:
    seen: dict[str, str] = {}
    previous = 0.0
    for entry in run.entries:
        assert _RFC3339_NANO.match(entry["time"]), entry["time"]
        t = parse_timestamp(entry["time"])
        assert t >= previous
        previous = t
        rid = entry["request"]["id"]
        assert seen.get(rid) == ("request" if entry["type"] == "response" else None), rid
        seen[rid] = entry["type"]
    assert set(seen.values()) == {"response"}
    assert len(run.events) == len(run.entries) // 2
    assert not [e for e in run.events.values() if e.outcome == "unknown"]  # all paired


@pytest.mark.parametrize("start", ["2026-10-20T07:30:00+00:00", "2027-03-26T23:00:00+00:00"])
def test_log_is_in_time_order_from_any_start(tmp_path: Path, start: str) -> None:
    simulate(tmp_path, seed=3, days=2.5, start=datetime.fromisoformat(start), scale=0.2)
    times = [parse_timestamp(orjson.loads(line)["time"]) for line in _lines(tmp_path)]
    assert times == sorted(times)


def _lines(directory: Path) -> list[bytes]:
    return (directory / "audit.log").read_bytes().splitlines()


def test_entries_have_the_shape_openbao_writes(run: Run) -> None:
    kinds: Counter[str] = Counter()
    for entry in run.entries:
        request, auth = entry["request"], entry["auth"]
        assert request["namespace"] == {"id": "root"}
        if "client_token" in request:
            assert _HMAC.match(request["client_token"])  # never a raw token
        if "accessor" in auth:
            assert re.fullmatch(r"[A-Za-z0-9]{24}", auth["accessor"])  # hmac_accessor=false
            if "client_token" in request:
                assert request["client_token_accessor"] == auth["accessor"]
            else:  # a login: the entry's auth is the token it issued
                assert entry["response"]["auth"]["accessor"] == auth["accessor"]
        if "mount_point" in request and request["operation"] in ("read", "list"):
            has_accessor = "mount_accessor" in request
            allowed = auth.get("policy_results", {}).get("allowed", True) and not entry.get("error")
            assert has_accessor == (entry["type"] == "response" and allowed)
        error = entry.get("error")
        if error == "permission denied":
            # A token Vault no longer knows: only its HMAC, no accessor, no identity.
            assert entry["type"] == "request" and auth == {"token_type": "default"}
            assert "client_token_accessor" not in request and "client_id" not in request
            kinds["unknown token"] += 1
        elif error == "1 error occurred:\n\t* permission denied\n\n":
            kinds["denied"] += 1
        elif error == "invalid credentials":
            assert entry["type"] == "response" and "auth" not in entry["response"]
            kinds["bad login"] += 1
        if entry["type"] == "response" and "auth" in entry.get("response", {}):
            new = entry["response"]["auth"]
            assert _HMAC.match(new["client_token"]) and new["token_type"] == "service"
            kinds["token issued"] += 1
    assert len(kinds) == 4, kinds


def test_tokens_expire_and_are_replaced(run: Run) -> None:
    accessors: defaultdict[str, set[str]] = defaultdict(set)
    logins: Counter[str] = Counter()
    for event in run.benign():
        role = event.metadata.get("role_name") or event.identity_name
        if event.credential:
            accessors[role].add(event.credential)
        if event.action == "login" and event.outcome == "ok":
            logins[role] += 1
    # At this scale cart and inventory run one host each: cart renews its token up to a
    # day, inventory logs in again every 12 hours; people log in each working day.
    assert DAYS <= len(accessors["cart"]) <= 2 * DAYS
    assert 2 * DAYS - 2 <= len(accessors["inventory"]) <= 3 * DAYS
    assert logins["userpass-lena"] >= 5
    renewals = [e for e in run.benign() if e.resource == "auth/token/renew-self"]
    assert sum(e.metadata.get("role_name") == "cart" for e in renewals) > 20 * DAYS


# -- labels and scenarios ------------------------------------------------------------------------


def test_every_scenario_is_injected_after_the_baseline(run: Run) -> None:
    assert sorted(s["name"] for s in run.scenarios) == sorted(SCENARIO_NAMES)
    assert len(SCENARIO_NAMES) == 10
    baseline_end = START + timedelta(days=min(6, 0.43 * DAYS))
    for scenario in run.scenarios:
        assert datetime.fromisoformat(scenario["start"]) >= baseline_end, scenario["name"]
        assert scenario["description"].endswith(".") and scenario["credential"]
        assert scenario["identity"] and scenario["source_ips"]


def test_labels_name_existing_requests_of_their_scenario(run: Run) -> None:
    by_instance = {s["instance"]: s for s in run.scenarios}
    counts = Counter(label["instance"] for label in run.labels)
    assert counts == {name: s["events"] for name, s in by_instance.items()}
    assert len(run.labelled) == len(run.labels)
    for label in run.labels:
        event = run.events[label["event_id"]]
        scenario = by_instance[label["instance"]]
        assert label["scenario"] == scenario["name"]
        assert event.client_ip in scenario["source_ips"]


def test_no_benign_event_is_labelled(run: Run) -> None:
    labelled = run.labelled
    from_attackers = [
        e
        for e in run.events.values()
        if e.client_ip and pool_of(e.client_ip).name in ATTACKER_POOLS
    ]
    assert from_attackers and all(e.event_id in labelled for e in from_attackers)
    # The victims keep working meanwhile, unlabelled, with the same credentials.
    stolen = {s["name"]: s["credential"] for s in run.scenarios}
    for name in ("stolen-service-token", "impossible-travel", "ci-token-abuse"):
        users = [e for e in run.events.values() if e.credential == stolen[name]]
        assert any(e.event_id not in labelled for e in users), name
        assert any(e.event_id in labelled for e in users), name


def test_attacks_behave_as_described(run: Run) -> None:
    events = defaultdict(list)
    for label in run.labels:
        events[label["scenario"]].append(run.events[label["event_id"]])
    spray = events["password-spray"]
    assert sum(e.action == "login" and e.outcome == "denied" for e in spray) >= 40
    assert len({e.resource for e in spray if e.action == "login"}) >= 10
    exfiltrated = {e.resource for e in events["bulk-exfiltration"] if e.action == "read"}
    assert len(exfiltrated) >= 20
    probes = events["permission-probing"]
    assert sum(e.outcome == "denied" for e in probes) >= 0.7 * len(probes)
    orphan = [e for e in events["orphan-token-persistence"] if e.new_credential_orphan]
    assert orphan and orphan[0].new_credential_ttl == 365 * 24 * 3600
    root = events["root-token-use"]
    assert any(e.policies == ("root",) and e.resource.startswith("sys/auth/") for e in root)
    revoked = events["revoked-token-reuse"]
    assert sum(e.metadata.get("credential_state") == "invalid" for e in revoked) >= 10


# -- behaviour of the organisation ----------------------------------------------------------


_ZONES = {city: ZoneInfo(c.timezone) for city, c in CITIES.items()}


def _local_zone(ip: str | None, home: str) -> ZoneInfo:
    """The time zone of where a person was: the city of the address's pool, else home."""
    pool = pool_of(ip) if ip else None
    city = pool.name.split("-")[0] if pool else home
    return _ZONES.get(city, _ZONES[home])


def test_people_work_mostly_in_their_local_hours(run: Run) -> None:
    for person in PEOPLE:
        times = [
            datetime.fromtimestamp(e.time, _local_zone(e.client_ip, person.city))
            for e in run.benign()
            if e.identity_name == person.display_name
        ]
        inside = sum(t.weekday() < 5 and 7 <= t.hour < 20 for t in times)
        assert len(times) > 50, person.username
        assert inside / len(times) >= 0.8, person.username


def test_services_read_mostly_their_own_namespaces(run: Run) -> None:
    inventory = Inventory.load(run.directory / "inventory.toml")
    checked = 0
    for entry in inventory.entries:
        if entry.environment == "corp" or not entry.match.entity_ids:
            continue
        reads = [
            e
            for e in run.benign()
            if e.identity in entry.match.entity_ids and e.action in ("read", "write", "list")
        ]
        inside = sum(
            any(fnmatch.fnmatchcase(e.resource, g) for g in entry.match.namespaces) for e in reads
        )
        if reads:
            checked += 1
            assert inside / len(reads) >= 0.95, entry.name
    assert checked >= 14


def test_inventory_names_the_services_and_their_networks(run: Run) -> None:
    inventory = Inventory.load(run.directory / "inventory.toml")
    cart = next(e for e in run.events.values() if e.metadata.get("role_name") == "cart")
    service = inventory.service_for(cart.identity, cart.identity_name, role_name="cart")
    assert service is not None and service.name == "cart" and service.criticality == "high"
    owner = inventory.network_owner(cart.client_ip)
    assert owner is not None and owner.name == "cart"
    github = next(e for e in run.events.values() if e.identity_name == "jwt-acme/shop")
    assert inventory.service_for(github.identity).environment == "ci"


@pytest.fixture(scope="module")
def geoip() -> geoip2.database.Reader:
    return geoip2.database.Reader(geolite2_database())


def test_addresses_geolocate_where_the_organisation_says(
    run: Run, geoip: geoip2.database.Reader
) -> None:
    addresses = Counter(e.client_ip for e in run.events.values() if e.client_ip)
    for ip in addresses:
        pool = pool_of(ip)
        assert pool is not None, ip
        if pool.country is None:
            assert pool.kind == "private"
            continue
        answer = geoip.city(ip)
        assert answer.country.iso_code == pool.country, (ip, pool.name)
        if pool.city:
            assert answer.city.name == pool.city, (ip, pool.name)


def test_people_offices_homes_travel_and_attackers_are_where_intended(
    run: Run, geoip: geoip2.database.Reader
) -> None:
    countries = {
        "berlin": "DE",
        "newyork": "US",
        "bangalore": "IN",
        "saopaulo": "BR",
    }
    for person in PEOPLE:
        places = {
            geoip.city(e.client_ip).country.iso_code
            for e in run.benign()
            if e.identity_name == person.display_name
            and e.client_ip
            and pool_of(e.client_ip).country
        }
        expected = {countries[person.city]}
        if person.username == "jonas":
            expected.add("US")  # the trip to New York
        assert places == expected, person.username
    expected_sources = {
        "stolen-service-token": "NL",
        "impossible-travel": "SG",
        "bulk-exfiltration": "NG",
        "ci-token-abuse": "US",
        "password-spray": "HR",
        "revoked-token-reuse": "RU",
    }
    for scenario in run.scenarios:
        if scenario["name"] in expected_sources:
            (ip,) = scenario["source_ips"]
            assert geoip.city(ip).country.iso_code == expected_sources[scenario["name"]]
    lena_berlin = [e for e in run.benign() if e.identity_name == "userpass-lena" and e.client_ip]
    assert {geoip.city(e.client_ip).city.name for e in lena_berlin} >= {"Berlin"}


# -- the command line ---------------------------------------------------------------------


def test_cli_writes_the_four_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--out",
            str(tmp_path),
            "--days",
            "2",
            "--scale",
            "0.1",
            "--seed",
            "5",
            "--start",
            "2026-11-09",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "lines" in result.output
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0 or name == "labels.jsonl"
    first = orjson.loads(_lines(tmp_path)[0])
    assert first["time"].startswith("2026-11-09T00:")
    assert json.loads((tmp_path / "scenarios.json").read_text())  # 2 days: attacks squeezed in


def test_cli_without_attacks_writes_no_labels(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["simulate", "--out", str(tmp_path), "--days", "1", "--scale", "0.1", "--no-attacks"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "labels.jsonl").read_bytes() == b""
    assert json.loads((tmp_path / "scenarios.json").read_text()) == []


def test_cli_rejects_a_bad_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path), "--start", "monday"])
    assert result.exit_code != 0 and "not an ISO date" in result.output


def test_scale_multiplies_the_machines_load(tmp_path: Path) -> None:
    small = simulate(tmp_path / "a", days=1, scale=0.5, attacks=False)
    large = simulate(tmp_path / "b", days=1, scale=2.0, attacks=False)
    assert 3.0 < large.lines / small.lines < 4.5
