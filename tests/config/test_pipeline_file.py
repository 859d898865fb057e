"""Pipeline files: the shipped ones load; a bad one is refused at start naming the file,
the key and what is wrong; paths are relative to the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from detector.build import build_pipeline, load_pipeline
from detector.config import load_pipeline_file, parse_duration
from detector.enrichers import Inventory
from detector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PIPELINES = sorted((REPO / "pipelines").glob("*-local.toml"))
PROFILE = REPO / "models" / "default.toml"


def write(directory: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def minimal(extra: str = "") -> str:
    """A pipeline file that loads: a name, the shipped profile, no inventory."""
    return f'name = "test"\n{extra}\n[model]\nprofile = "{PROFILE}"\n'


# -- the shipped files --------------------------------------------------------------------


def test_both_local_pipelines_are_shipped():
    assert [p.name for p in PIPELINES] == ["cloudtrail-local.toml", "vault-local.toml"]


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_shipped_pipeline_loads_as_written(path: Path):
    raw = tomllib.loads(path.read_text())
    config = load_pipeline_file(path)
    assert config.name == raw["name"] == path.stem
    assert config.source.parser == raw["source"]["parser"]
    assert config.source.reorder_window == parse_duration(raw["source"]["reorder_window"])
    assert isinstance(config.source.pair_timeout, float)
    assert config.path == str(path)
    assert config.resolve(config.model.profile).resolve() == PROFILE.resolve()
    rules = [(r.pattern, r.level) for r in config.enrichers.sensitivity.rules]
    assert rules == [(r["pattern"], r["level"]) for r in raw["enrichers"]["sensitivity"]["rules"]]


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_shipped_pipeline_builds(path: Path):
    config, pipeline = load_pipeline(path)
    assert pipeline.name == config.name
    assert pipeline.parser.name == config.source.parser
    assert pipeline.model.detectors


def test_shipped_example_inventory_loads():
    path = REPO / "pipelines" / "inventory.example.toml"
    raw = tomllib.loads(path.read_text())
    inventory = Inventory.load(path)
    assert [s.name for s in inventory] == [s["name"] for s in raw["service"]]


# -- bad files ------------------------------------------------------------------------------

BAD = [
    ('[source]\nreorder_window = "5 minutes"', "source.reorder_window", "not a duration"),
    ("[source]\npair_timeout = -60", "source.pair_timeout", "cannot be negative"),
    ('[source]\npoll_interval = "soon"', "source.poll_interval", "not a duration"),
    ("[source]\nreorder_window = true", "source.reorder_window", "got `bool`"),
    ('[source]\nparser = "splunk"', "source.parser", "unknown parser 'splunk'"),
    ('[source]\nreoder_window = "5m"', "source.reoder_window", "unknown key"),
    ('[source]\npaths = "audit.log"', "source.paths", "Expected `array`"),
    ("sources = 1", "sources", "unknown key"),
    ("[thresholds]\nalert = 1.5", "thresholds.alert", "between 0 and 1"),
    ("[thresholds]\nrevoke = -0.1", "thresholds.revoke", "between 0 and 1"),
    ('[thresholds]\nalert = "high"', "thresholds.alert", "got `str`"),
    ('[enrichers.sensitivity]\ndefault = "secret"', "enrichers.sensitivity.default", "one of"),
    (
        '[enrichers.sensitivity]\nrules = [{ pattern = "*", level = "extreme" }]',
        "enrichers.sensitivity.rules[0].level",
        "'extreme'",
    ),
    (
        '[enrichers.sensitivity]\nrules = [{ pattern = "*" }]',
        "enrichers.sensitivity.rules[0].level",
        "required key missing",
    ),
    ('[enrichers.geo]\ncache_size = "big"', "enrichers.geo.cache_size", "Expected `int`"),
    ("[outputs]\ndeadletter_raw_bytes = 1.5", "outputs.deadletter_raw_bytes", "Expected `int`"),
]


@pytest.mark.parametrize("extra, key, problem", BAD, ids=[key for _, key, _ in BAD])
def test_bad_pipeline_file_names_the_file_the_key_and_the_problem(tmp_path, extra, key, problem):
    path = write(tmp_path, minimal(extra))
    with pytest.raises(ConfigError) as caught:
        load_pipeline_file(path)
    error = caught.value
    assert (error.file, error.key) == (str(path), key)
    assert problem in error.problem
    assert str(error) == f"{path}: {key}: {error.problem}"


def test_missing_name_is_named(tmp_path):
    path = write(tmp_path, 'description = "no name"\n')
    with pytest.raises(ConfigError) as caught:
        load_pipeline_file(path)
    assert (caught.value.key, caught.value.problem) == ("name", "required key missing")


def test_file_that_is_not_toml_is_refused(tmp_path):
    path = write(tmp_path, 'name = "unterminated\n')
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_pipeline_file(path)
    assert caught.value.file == str(path)


def test_missing_pipeline_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file") as caught:
        load_pipeline_file(tmp_path / "absent.toml")
    assert caught.value.file == str(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "key, name",
    [
        ("enrichers.service.inventory", "services.toml"),
        ("enrichers.geo.city_db", "GeoLite2-City.mmdb"),
        ("enrichers.geo.asn_db", "GeoLite2-ASN.mmdb"),
    ],
)
def test_missing_referenced_file_is_named_with_its_resolved_path(tmp_path, key, name):
    table, option = key.rsplit(".", 1)
    path = write(tmp_path, minimal(f'[{table}]\n{option} = "{name}"'))
    with pytest.raises(ConfigError) as caught:
        load_pipeline_file(path)
    assert caught.value.key == key
    assert caught.value.problem == f"no such file: {tmp_path / name}"


def test_missing_profile_is_named(tmp_path):
    path = write(tmp_path, 'name = "test"\n[model]\nprofile = "../models/absent.toml"\n')
    with pytest.raises(ConfigError) as caught:
        load_pipeline_file(path)
    assert caught.value.key == "model.profile"
    assert "absent.toml" in caught.value.problem


# -- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, seconds",
    [("300", 300.0), ("2.5", 2.5), ('"90s"', 90.0), ('"5m"', 5 * 60.0), ('"1.5h"', 5400.0)],
)
def test_durations_are_seconds_or_strings_with_a_unit(tmp_path, written, seconds):
    path = write(tmp_path, minimal(f"[source]\nreorder_window = {written}"))
    assert load_pipeline_file(path).source.reorder_window == seconds


def test_relative_paths_resolve_against_the_files_directory(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "profile.toml").write_text(PROFILE.read_text())
    write(tmp_path / "conf", "", "services.toml")
    path = write(
        tmp_path / "conf",
        'name = "relative"\n[model]\nprofile = "../models/profile.toml"\n'
        '[enrichers.service]\ninventory = "services.toml"\n[outputs]\ndir = "out"\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_pipeline_file(path)
    assert config.resolve(config.model.profile).resolve() == tmp_path / "models" / "profile.toml"
    assert config.resolve(config.outputs.dir) == tmp_path / "conf" / "out"
    assert config.resolve(str(tmp_path / "abs")) == tmp_path / "abs"
    assert build_pipeline(config).name == "relative"


def test_thresholds_override_the_profile_and_default_to_it(tmp_path):
    profile = tomllib.loads(PROFILE.read_text())["scoring"]
    plain = build_pipeline(load_pipeline_file(write(tmp_path, minimal(), "plain.toml")))
    assert plain.model.scorer.alert == profile["alert"]
    assert plain.model.scorer.revoke == profile["revoke"]
    path = write(tmp_path, minimal("[thresholds]\nalert = 0.42\nrevoke = 0.97"), "set.toml")
    model = build_pipeline(load_pipeline_file(path)).model
    assert (model.scorer.alert, model.scorer.revoke) == (0.42, 0.97)


def test_an_alert_threshold_above_the_revoke_threshold_is_rejected(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "default.toml").write_bytes((repo / "models/default.toml").read_bytes())
    inventory = repo / "pipelines" / "inventory.example.toml"
    (tmp_path / "pipelines" / inventory.name).write_bytes(inventory.read_bytes())
    text = (repo / "pipelines" / "vault-local.toml").read_text()
    path = tmp_path / "pipelines" / "thresholds.toml"
    path.write_text(text.replace("# alert = 0.6", "alert = 0.95"))
    with pytest.raises(ConfigError) as raised:
        build_pipeline(load_pipeline_file(path))
    assert raised.value.file == str(path)
    assert raised.value.key == "thresholds.alert"
    assert "must not exceed the revoke threshold" in str(raised.value)
