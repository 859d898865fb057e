"""Model profiles: the shipped one loads and builds; detectors, parameters, weights and
thresholds are checked at start, with errors naming the file and the key."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pytest

from detector.config import build_model, load_profile, parse_duration
from detector.detectors import DETECTORS
from detector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "models" / "default.toml"


def write(directory: Path, text: str) -> Path:
    path = directory / "profile.toml"
    path.write_text('name = "test"\n' + text + "\n")
    return path


def refused(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    return caught.value


# -- the shipped profile --------------------------------------------------------------------


def test_default_profile_loads_as_written():
    raw = tomllib.loads(DEFAULT.read_text())
    profile = load_profile(DEFAULT)
    assert profile.name == raw["name"]
    assert profile.scoring.alert == raw["scoring"]["alert"]
    assert profile.scoring.revoke == raw["scoring"]["revoke"]
    assert profile.learning.min_age == parse_duration(raw["learning"]["min_age"])
    assert profile.state.idle_ttl == parse_duration(raw["state"]["idle_ttl"])
    assert set(profile.detectors) == set(raw["detectors"]) <= set(DETECTORS)


def test_default_profile_builds_every_detector_with_its_weight_and_parameters():
    raw = tomllib.loads(DEFAULT.read_text())
    model = build_model(load_profile(DEFAULT))
    assert [type(d).name for d in model.detectors] == [
        name for name in DETECTORS if raw["detectors"].get(name, {}).get("enabled", True)
    ]
    for name, table in raw["detectors"].items():
        assert model.scorer.weights[name] == table.get("weight", 1.0)
    time = next(d for d in model.detectors if type(d).name == "time")
    assert time.half_life == parse_duration(raw["detectors"]["time"]["half_life"])
    assert model.scorer.alert == raw["scoring"]["alert"]
    assert model.store.idle_ttl == parse_duration(raw["state"]["idle_ttl"])


# -- bad profiles ---------------------------------------------------------------------------

BAD = [
    ('[detectors.volume]\nwindow = "5 minutes"', "detectors.volume.window", "not a duration"),
    ('[detectors.volume]\nwindow = "-5m"', "detectors.volume.window", "not a duration"),
    ("[detectors.volume]\nwindow = [300]", "detectors.volume.window", "expected a number"),
    ("[detectors.volume]\nwindow = true", "detectors.volume.window", "got bool"),
    ('[detectors.volume]\nmemory = "many"', "detectors.volume.memory", "expected an integer"),
    ("[detectors.volume]\nmemory = 2.5", "detectors.volume.memory", "got float"),
    ("[detectors.volume]\nmemory = true", "detectors.volume.memory", "got bool"),
    ("[detectors.volume]\nmemroy = 200", "detectors.volume.memroy", "unknown key"),
    ("[detectors.volume]\nwindow = -300", "detectors.volume.window", "cannot be negative"),
    ("[detectors.volume]\nmemory = -2", "detectors.volume.memory", "cannot be negative"),
    ("[detectors.volume]\nweight = 2", "detectors.volume.weight", "between 0 and 1"),
    ('[detectors.volume]\nweight = "high"', "detectors.volume.weight", "between 0 and 1"),
    ("[detectors.volume]\nweight = true", "detectors.volume.weight", "between 0 and 1"),
    ('[detectors.volume]\nenabled = "yes"', "detectors.volume.enabled", "true or false"),
    ("[detectors.telepathy]\nweight = 0.5", "detectors.telepathy", "unknown detector"),
    ("detectors = 3", "detectors", "Expected `object`"),
    ("[scoring]\nalert = 1.6", "scoring.alert", "between 0 and 1"),
    ("[scoring]\nalert = 0.95\nrevoke = 0.9", "scoring.alert", "must not exceed revoke"),
    ('[scoring]\nalert = "x"', "scoring.alert", "got `str`"),
    ("[scoring]\nrevoke = 1.1", "scoring.revoke", "between 0 and 1"),
    ("[scoring]\nalert_budget_per_day = -1", "scoring.alert_budget_per_day", "negative"),
    ("[scoring]\nescalation_window = true", "scoring.escalation_window", "got `bool`"),
    ('[scoring]\nescalation_window = "a while"', "scoring.escalation_window", "not a duration"),
    ("[scoring]\nescalation_weight = 1.5", "scoring.escalation_weight", "between 0 and 1"),
    ('[learning]\nmin_age = "one day"', "learning.min_age", "not a duration"),
    ("[learning]\nmin_events = -1", "learning.min_events", "negative"),
    ("[learning]\ndamping = 2", "learning.damping", "between 0 and 1"),
    ('[state]\nidle_ttl = "forever"', "state.idle_ttl", "not a duration"),
    ("[state]\nmax_identities = 0", "state.max_identities", "at least 1"),
    ("[scorring]\nalert = 0.5", "scorring", "unknown key"),
    ("[scoring]\nalret = 0.5", "scoring.alret", "unknown key"),
]


@pytest.mark.parametrize(
    "text, key, problem", BAD, ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(BAD)]
)
def test_bad_profile_names_the_file_the_key_and_the_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    error = refused(path)
    assert (error.file, error.key) == (str(path), key)
    assert problem in error.problem
    assert str(error) == f"{path}: {key}: {error.problem}"


def test_unknown_detector_error_lists_the_known_ones(tmp_path):
    error = refused(write(tmp_path, "[detectors.telepathy]\nweight = 0.5"))
    assert all(name in error.problem for name in DETECTORS)


def test_unknown_detector_parameter_error_lists_the_allowed_ones(tmp_path):
    error = refused(write(tmp_path, "[detectors.volume]\nmemroy = 200"))
    for parameter in ["enabled", "weight", *inspect.signature(DETECTORS["volume"]).parameters]:
        assert parameter in error.problem


def test_profile_without_a_name_is_refused(tmp_path):
    path = tmp_path / "profile.toml"
    path.write_text("[scoring]\nalert = 0.5\n")
    error = refused(path)
    assert (error.key, error.problem) == ("name", "required key missing")


# -- values -------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["300", "300.0", '"300s"', '"5m"'])
def test_detector_durations_are_seconds_or_strings_with_a_unit(tmp_path, written):
    model = build_model(load_profile(write(tmp_path, f"[detectors.volume]\nwindow = {written}")))
    (volume,) = [d for d in model.detectors if type(d).name == "volume"]
    assert volume.window == 300.0 and isinstance(volume.window, float)


def test_profile_durations_are_seconds_or_strings_with_a_unit(tmp_path):
    days = load_profile(write(tmp_path, '[state]\nidle_ttl = "14d"\n[learning]\nmin_age = 7200'))
    assert days.state.idle_ttl == 14 * parse_duration("1d")
    assert days.learning.min_age == parse_duration("2h")


def test_integer_for_a_float_parameter_is_taken_as_a_float(tmp_path):
    model = build_model(load_profile(write(tmp_path, "[detectors.location]\nmax_speed_kmh = 900")))
    (location,) = [d for d in model.detectors if type(d).name == "location"]
    assert location.max_speed_kmh == 900.0


def test_disabled_detector_is_not_built_and_missing_weight_is_one(tmp_path):
    text = "[detectors.multivariate]\nenabled = false\n[detectors.volume]\nmemory = 50"
    model = build_model(load_profile(write(tmp_path, text)))
    names = [type(d).name for d in model.detectors]
    assert "multivariate" not in names and "multivariate" not in model.scorer.weights
    assert names == [name for name in DETECTORS if name != "multivariate"]
    assert model.scorer.weights["volume"] == 1.0


def test_overrides_replace_the_profiles_thresholds(tmp_path):
    profile = load_profile(write(tmp_path, "[scoring]\nalert = 0.5\nrevoke = 0.8"))
    assert (build_model(profile).scorer.alert, build_model(profile).scorer.revoke) == (0.5, 0.8)
    model = build_model(profile, {"alert": 0.7, "revoke": None, "alert_budget_per_day": 4.0})
    assert (model.scorer.alert, model.scorer.revoke) == (0.7, 0.8)
    assert model.scorer.budget is not None and model.scorer.budget.per_day == 4.0


@pytest.mark.parametrize("value", ["0", "0.0"])
def test_zero_escalation_weight_turns_escalation_off(tmp_path, value):
    profile = load_profile(write(tmp_path, f"[scoring]\nescalation_weight = {value}"))
    assert build_model(profile).scorer.escalation is None
