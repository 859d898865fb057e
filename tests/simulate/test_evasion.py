"""``detector simulate --scenarios evasion``: four attacks written to stay under the detector.

They are asked for, never injected by default; each has the shape its description claims
(what it avoids is what the README says the detectors look at). One twelve-day run at a
tenth of the load is written once per module and read by most tests.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import geoip2.database
import orjson
import pytest
from _maxminddb_geolite2 import geolite2_database
from click.testing import CliRunner

from detector.cli import main
from detector.cli.simulate import SCENARIO_SETS as CLI_SETS
from detector.evaluation import evaluate
from detector.event import AccessEvent
from detector.parsers.vault import VaultAuditParser
from detector.simulate import EVASION_NAMES, SCENARIO_NAMES, SCENARIO_SETS, simulate
from detector.simulate.networks import POOLS, pool_of
from detector.simulate.organisation import PEOPLE

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 2, tzinfo=UTC)
DAYS, SCALE = 12, 0.1
FILES = ("audit.log", "labels.jsonl", "scenarios.json", "inventory.toml")
#: The networks only the evasion scenarios' attackers use.
EVASION_POOLS = ("do-frankfurt", "aws-sa-east-1", "strato-berlin")
#: Beyond this the detector does not call two networks of one credential a replay.
REPLAY_WINDOW = 600.0
PERSON = {p.username: p for p in PEOPLE}


class Run:
    """A simulated log read back: parsed events, labels and scenarios."""

    def __init__(self, directory: Path) -> None:
        parser = VaultAuditParser()
        events: list[AccessEvent] = []
        with (directory / "audit.log").open("rb") as log:
            for line in log:
                events.extend(parser.parse(line))
        events.extend(parser.flush(final=True))
        self.directory = directory
        self.events = {e.event_id: e for e in events}
        lines = (directory / "labels.jsonl").read_bytes().splitlines()
        self.labels = [orjson.loads(line) for line in lines]
        self.scenarios = json.loads((directory / "scenarios.json").read_text())

    @property
    def labelled(self) -> set[str]:
        return {label["event_id"] for label in self.labels}

    def attack(self, scenario: str) -> list[AccessEvent]:
        """The scenario's events in time order."""
        ids = [label["event_id"] for label in self.labels if label["scenario"] == scenario]
        return sorted((self.events[i] for i in ids), key=lambda e: e.time)

    def benign_of(self, identity_name: str) -> list[AccessEvent]:
        labelled = self.labelled
        return [
            e
            for e in self.events.values()
            if e.identity_name == identity_name and e.event_id not in labelled
        ]


def _simulate(directory: Path, **kwargs: object) -> Path:
    arguments = {"seed": 7, "days": DAYS, "start": START, "scale": SCALE, **kwargs}
    simulate(directory, **arguments)  # type: ignore[arg-type]
    return directory


@pytest.fixture(scope="module")
def evasion(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(_simulate(tmp_path_factory.mktemp("evasion"), scenarios="evasion"))


@pytest.fixture(scope="module")
def geoip() -> geoip2.database.Reader:
    return geoip2.database.Reader(geolite2_database())


def _place(geoip: geoip2.database.Reader, ip: str) -> tuple[str | None, str | None]:
    answer = geoip.city(ip)
    return answer.country.iso_code, answer.city.name


def _network(ip: str) -> str:
    """The /24 the detector calls a network when it has no ASN database."""
    return ip.rsplit(".", 1)[0]


def _secret_reads(events: list[AccessEvent]) -> list[AccessEvent]:
    prefixes = ("secret/data/", "kv-legacy/", "database/creds/")
    return [e for e in events if e.action == "read" and e.resource.startswith(prefixes)]


def _most_within(times: list[float], seconds: float) -> int:
    """The largest number of ``times`` (sorted) in any window of ``seconds``."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def _assert_never_beside_the_owner(attack: list[AccessEvent], own: list[AccessEvent]) -> None:
    """No stolen credential is used within the replay window of its owner's own use."""
    for event in attack:
        near = [
            e
            for e in own
            if e.credential == event.credential and abs(e.time - event.time) < REPLAY_WINDOW
        ]
        assert not near, (event.resource, event.time)


def _local_day(event: AccessEvent, zone: str) -> date:
    return datetime.fromtimestamp(event.time, ZoneInfo(zone)).date()


# -- the sets ----------------------------------------------------------------------------------


def test_the_sets_keep_the_standard_ten_apart_from_the_four_evasions() -> None:
    assert len(SCENARIO_NAMES) == 10 and len(EVASION_NAMES) == 4
    assert set(EVASION_NAMES) == {
        "slow-exfiltration",
        "same-country-network",
        "slow-warmup",
        "baseline-poisoning",
    }
    names = {key: tuple(kind.name for kind in kinds) for key, kinds in SCENARIO_SETS.items()}
    assert names == {
        "standard": SCENARIO_NAMES,
        "evasion": EVASION_NAMES,
        "all": SCENARIO_NAMES + EVASION_NAMES,
    }
    assert CLI_SETS == tuple(SCENARIO_SETS)


def test_default_run_injects_only_the_standard_set_and_all_adds_the_evasions_unchanged(
    tmp_path: Path,
) -> None:
    default = Run(_simulate(tmp_path / "default"))
    both = Run(_simulate(tmp_path / "all", scenarios="all"))
    assert [s["name"] for s in default.scenarios] == list(SCENARIO_NAMES)
    assert [s["name"] for s in both.scenarios] == list(SCENARIO_NAMES + EVASION_NAMES)
    # The evasions fit in this run, yet the default left them out; adding them changes
    # neither the standard attacks nor their labels.
    standard = [label for label in both.labels if label["scenario"] in SCENARIO_NAMES]
    assert sorted(standard, key=str) == sorted(default.labels, key=str)
    assert set(default.events) <= set(both.events)


def test_an_unknown_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="standard, evasion, all"):
        simulate(tmp_path, days=1, scale=0.1, scenarios="sneaky")
    result = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path), "--scenarios", "x"])
    assert result.exit_code != 0 and "'standard', 'evasion', 'all'" in result.output


def test_cli_injects_the_evasion_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["simulate", "--out", str(tmp_path), "--days", "12", "--scale", "0.05"]
        + ["--scenarios", "evasion"],
    )
    assert result.exit_code == 0, result.output
    assert "4 scenario instances" in result.output
    scenarios = json.loads((tmp_path / "scenarios.json").read_text())
    assert [s["name"] for s in scenarios] == list(EVASION_NAMES)


# -- determinism and labels ----------------------------------------------------------------


def test_same_seed_writes_identical_evasion_files(tmp_path: Path, evasion: Run) -> None:
    again = _simulate(tmp_path / "again", scenarios="evasion")
    for name in FILES:
        assert (again / name).read_bytes() == (evasion.directory / name).read_bytes(), name
    other = Run(_simulate(tmp_path / "other", seed=8, scenarios="evasion"))
    assert [s["name"] for s in other.scenarios] == list(EVASION_NAMES)
    assert other.labels != evasion.labels


def test_every_evasion_is_injected_after_the_baseline_and_labelled(evasion: Run) -> None:
    assert [s["name"] for s in evasion.scenarios] == list(EVASION_NAMES)
    counts = Counter(label["scenario"] for label in evasion.labels)
    assert counts == {s["name"]: s["events"] for s in evasion.scenarios}
    assert len(evasion.labelled) == len(evasion.labels)
    baseline_end = START.timestamp() + min(6, 0.43 * DAYS) * 86400
    for scenario in evasion.scenarios:
        assert scenario["description"].endswith(".") and scenario["credential"]
        assert scenario["identity"] and scenario["source_ips"]
        events = evasion.attack(scenario["name"])
        assert events[0].time >= baseline_end, scenario["name"]
        assert {e.client_ip for e in events} <= set(scenario["source_ips"])
        assert {e.identity for e in events} == {scenario["identity"]}
        assert all(e.outcome == "ok" for e in events), scenario["name"]  # a token it may use


def test_benign_traffic_is_the_same_with_the_evasions(tmp_path: Path, evasion: Run) -> None:
    quiet = Run(_simulate(tmp_path, attacks=False))
    assert set(evasion.events) - evasion.labelled == set(quiet.events)


def test_only_the_attackers_use_their_networks(evasion: Run, geoip: geoip2.database.Reader) -> None:
    from_them = [
        e for e in evasion.events.values() if e.client_ip and pool_of(e.client_ip).name in POOLS
    ]
    ours = [e for e in from_them if pool_of(e.client_ip).name in EVASION_POOLS]
    assert ours and all(e.event_id in evasion.labelled for e in ours)
    rng = random.Random(0)
    for name in EVASION_POOLS:  # every address of the new pools is where the pool says
        pool = POOLS[name]
        for _ in range(50):
            assert _place(geoip, pool.pick(rng)) == (pool.country, pool.city), name


# -- each has the shape it claims ------------------------------------------------------------


def test_slow_exfiltration_reads_many_secrets_a_few_an_hour_from_the_victims_laptop(
    evasion: Run,
) -> None:
    attack = evasion.attack("slow-exfiltration")
    noah = evasion.benign_of("oidc-noah@acme.example")
    assert {e.identity_name for e in attack} == {"oidc-noah@acme.example"}
    reads = _secret_reads(attack)
    times = [e.time for e in reads]
    assert _most_within(times, 600) == 1  # never two secrets in ten minutes
    assert _most_within([e.time for e in attack], 300) <= 2  # a read and the CLI's preflight
    assert times[-1] - times[0] >= 4 * 3600
    own = {e.resource for e in noah if e.action == "read"}
    assert len({e.resource for e in reads} - own) >= 15
    # His laptop: his addresses of the day, his CLI, his working hours in New York.
    assert {e.client_ip for e in attack} <= {e.client_ip for e in noah}
    assert {e.user_agent for e in attack} == {PERSON["noah"].cli}
    hours = [datetime.fromtimestamp(t, ZoneInfo("America/New_York")).hour for t in times]
    assert min(hours) >= 9 and max(hours) < 19


def test_same_country_network_changes_nothing_but_the_network(
    evasion: Run, geoip: geoip2.database.Reader
) -> None:
    attack = evasion.attack("same-country-network")
    service = evasion.benign_of("kubernetes-payments-payments-api")
    assert {e.identity_name for e in attack} == {"kubernetes-payments-payments-api"}
    (ip,) = {e.client_ip for e in attack}
    usual = {e.client_ip for e in service}
    assert {_place(geoip, i) for i in usual} == {_place(geoip, ip)} == {("DE", "Frankfurt am Main")}
    assert _network(ip) not in {_network(i) for i in usual}
    assert {e.user_agent for e in attack} == {e.user_agent for e in service}
    assert {e.resource for e in attack} <= {e.resource for e in service if e.action == "read"}
    # A token its pod no longer uses: nobody else's use within the replay window.
    (credential,) = {e.credential for e in attack}
    before = [e.time for e in service if e.credential == credential]
    assert before and max(before) <= attack[0].time - REPLAY_WINDOW
    _assert_never_beside_the_owner(attack, service)
    local = [datetime.fromtimestamp(e.time, ZoneInfo("Europe/Berlin")) for e in attack]
    assert all(t.weekday() < 5 and 9 <= t.hour < 18 for t in local)


def test_slow_warmup_repeats_the_victims_routine_for_a_day_before_reading_anything_new(
    evasion: Run, geoip: geoip2.database.Reader
) -> None:
    attack = evasion.attack("slow-warmup")
    lucas = evasion.benign_of("oidc-lucas@acme.example")
    assert {e.identity_name for e in attack} == {"oidc-lucas@acme.example"}
    (ip,) = {e.client_ip for e in attack}
    assert _place(geoip, ip) == ("BR", "São Paulo")
    assert ("BR", "São Paulo") in {_place(geoip, e.client_ip) for e in lucas}
    assert _network(ip) not in {_network(e.client_ip) for e in lucas}
    assert {e.user_agent for e in attack} <= {PERSON["lucas"].browser, PERSON["lucas"].cli}
    own = {e.resource for e in lucas if e.action == "read"}
    reads = _secret_reads(attack)
    new = [e for e in reads if e.resource not in own]
    assert len({e.resource for e in new}) >= 5
    routine = [e for e in reads if e.time < new[0].time]
    assert len(routine) >= 4
    assert new[0].time - attack[0].time >= 20 * 3600  # a day or more of routine first
    assert len({_local_day(e, "America/Sao_Paulo") for e in new}) == 1  # then one day
    _assert_never_beside_the_owner(attack, lucas)


def test_baseline_poisoning_grows_from_a_tiny_share_to_a_bulk_read(
    evasion: Run, geoip: geoip2.database.Reader
) -> None:
    attack = evasion.attack("baseline-poisoning")
    tobias = evasion.benign_of("userpass-tobias")
    assert {e.identity_name for e in attack} == {"userpass-tobias"}
    (ip,) = {e.client_ip for e in attack}
    assert _place(geoip, ip) == ("DE", "Berlin")
    assert ("DE", "Berlin") in {_place(geoip, e.client_ip) for e in tobias if e.client_ip}
    assert _network(ip) not in {_network(e.client_ip) for e in tobias if e.client_ip}
    zone = "Europe/Berlin"
    theirs = Counter(_local_day(e, zone) for e in attack)
    his = Counter(_local_day(e, zone) for e in tobias)
    days = sorted(theirs)
    *poisoning, bulk = days
    assert len(poisoning) >= 3 and (days[-1] - days[0]).days >= 3
    first, latest = poisoning[0], poisoning[-1]
    assert theirs[first] <= 4 and theirs[first] <= 0.25 * his[first]  # one read: a tiny share
    assert theirs[latest] >= 3 * theirs[first]
    # The poisoning reads only what he reads; the last day reads much that he never does,
    # within half an hour.
    own = {e.resource for e in tobias if e.action == "read"}
    before = _secret_reads([e for e in attack if _local_day(e, zone) < bulk])
    assert before and all(e.resource in own for e in before)
    taken = _secret_reads([e for e in attack if _local_day(e, zone) == bulk])
    assert len({e.resource for e in taken} - own) >= 20
    assert taken[-1].time - taken[0].time <= 1800
    _assert_never_beside_the_owner(attack, tobias)


# -- detector eval --------------------------------------------------------------------------


def test_eval_reports_each_evasion_like_any_scenario(evasion: Run) -> None:
    directory = evasion.directory
    report = evaluate(
        directory / "audit.log",
        directory / "labels.jsonl",
        REPO / "pipelines" / "vault-local.toml",
        directory / "inventory.toml",
    )
    scenarios = report.scenarios()
    assert sorted(scenarios) == sorted(EVASION_NAMES)
    for scenario in evasion.scenarios:
        assert scenarios[scenario["name"]]["events"] == scenario["events"]
        assert scenarios[scenario["name"]]["instances"] == 1
