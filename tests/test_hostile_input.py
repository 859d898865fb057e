"""Hostile input, property-based: whatever bytes reach the pipeline, nothing crashes, every
record is accounted for (events, a dead letter with a reason, or a counted ignore), and what
is accepted is not silently altered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.pipeline import CollectingSink, Pipeline

REPO = Path(__file__).resolve().parents[1]
SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=25,
)
addresses = st.one_of(
    st.ip_addresses().map(str),
    st.text(max_size=40),
    st.just("999.1.2.3"),
    st.just("fe80::1%eth0"),
    st.just("::ffff:10.0.0.1"),
)
paths = st.text(max_size=200)  # control characters, unicode, empty
times = st.one_of(
    st.datetimes(
        min_value=dt.datetime(1, 1, 1),
        max_value=dt.datetime(9999, 12, 31),
        timezones=st.just(dt.UTC),
    ).map(lambda t: t.isoformat().replace("+00:00", "Z")),
    st.text(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63),
)


def fresh(parser: str = "vault") -> tuple[Pipeline, CollectingSink]:
    config = load_pipeline_file(REPO / "pipelines" / f"{parser}-local.toml")
    sink = CollectingSink()
    return build_pipeline(config, sink), sink


@pytest.fixture(scope="module")
def vault() -> tuple[Pipeline, CollectingSink]:
    return fresh("vault")


@pytest.fixture(scope="module")
def cloudtrail() -> tuple[Pipeline, CollectingSink]:
    return fresh("cloudtrail")


def run_one(pipeline: Pipeline, sink: CollectingSink, record: bytes) -> list:
    """Parse, pair up, enrich and score one record; the events it gave. Asserts that the
    record was accounted for and that every dead letter says why."""
    letters_before = len(sink.records)
    ignored_before = _ignored(pipeline)
    events = pipeline.parse(record)
    events += pipeline.flush(final=True)
    for event in events:
        pipeline.score(event)
    letters = sink.records[letters_before:]
    assert events or letters or _ignored(pipeline) > ignored_before, record[:2000]
    for letter in letters:
        assert isinstance(letter["reason"], str) and letter["reason"]
        assert letter["raw_bytes"] >= 0
    return events


def _ignored(pipeline: Pipeline) -> int:
    return sum(v for k, v in pipeline.all_counts().items() if k.startswith("ignored"))


@SETTINGS
@given(record=st.binary(max_size=3000))
def test_arbitrary_bytes(vault, cloudtrail, record):
    run_one(*vault, record)
    run_one(*cloudtrail, record)


@SETTINGS
@given(value=json_values)
def test_arbitrary_json(vault, cloudtrail, value):
    record = orjson.dumps(value)
    run_one(*vault, record)
    run_one(*cloudtrail, record)


@SETTINGS
@given(
    kind=st.sampled_from(["request", "response", "weird", ""]),
    time=times,
    request_id=st.text(max_size=40),
    path=paths,
    operation=st.sampled_from(["read", "list", "update", "create", "delete", "", "x"]),
    address=addresses,
    accessor=st.text(max_size=30),
    extra=json_values,
)
def test_vault_entries_with_hostile_fields(
    vault, kind, time, request_id, path, operation, address, accessor, extra
):
    entry = {
        "time": time,
        "type": kind,
        "auth": {"accessor": accessor, "display_name": "approle", "entity_id": "ent-h"},
        "request": {
            "id": request_id,
            "path": path,
            "operation": operation,
            "remote_address": address,
            "data": extra,
        },
    }
    if kind == "response":
        entry["response"] = {"data": extra}
    events = run_one(*vault, orjson.dumps(entry))
    for event in events:  # accepted: exactly what the line said
        assert event.resource == path
        assert event.client_ip == (address or None)
        if request_id:
            assert event.event_id == request_id


@SETTINGS
@given(
    name=st.sampled_from(["GetSecretValue", "Decrypt", "GetParameter", "ListUsers", ""]),
    time=times,
    event_id=st.text(max_size=40),
    address=addresses,
    arn=st.text(max_size=80),
    extra=json_values,
)
def test_cloudtrail_records_with_hostile_fields(
    cloudtrail, name, time, event_id, address, arn, extra
):
    record = {
        "eventVersion": "1.08",
        "eventTime": time,
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": name,
        "eventID": event_id,
        "sourceIPAddress": address,
        "userIdentity": {"type": "IAMUser", "arn": arn, "accessKeyId": "AKIAEXAMPLE"},
        "requestParameters": extra,
    }
    events = run_one(*cloudtrail, orjson.dumps(record))
    for event in events:  # accepted: its id (or, without one, a stable id of its own)
        assert event.event_id == event_id or (not event_id and event.event_id)


@pytest.mark.parametrize(
    "record",
    [
        b"[" * 100_000,  # nesting deeper than any parser recursion
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"time":"2026-11-28T03:12:58Z","type":"response","request":{"path":"'
        + b"x" * (6 * 1024 * 1024)
        + b'"}}',  # a 6 MB path
        b"\xff\xfe\x00\x00{not utf-8}",
        b'{"time": 1e999999, "type": "response", "request": {"id": 1234567890123456789012}}',
        '{"time":"2026-11-28T03:12:58Z","type":"request","request":{"id":"\u2028"}}'.encode(),
    ],
    ids=["deep list", "deep object", "huge string", "not utf-8", "huge numbers", "line separator"],
)
def test_extreme_records(record):
    for parser in ("vault", "cloudtrail"):
        pipeline, sink = fresh(parser)
        run_one(pipeline, sink, record)
        for letter in sink.records:
            assert len(letter["raw"]) <= 4096 + 64  # the copy is bounded, not the record


SECTIONS = {
    "": ["name", "description"],
    "source": ["parser", "paths", "reorder_window", "pair_timeout"],
    "enrichers.geo": ["city_db", "asn_db", "cache_size"],
    "enrichers.service": ["inventory"],
    "model": ["profile", "state_dir", "partitions"],
    "thresholds": ["alert", "revoke", "alert_budget_per_day"],
    "outputs": ["dir", "deadletter_raw_bytes"],
    "actions": ["enabled", "dry_run", "storm_limit", "storm_window"],
    "streaming": ["broker", "raw_partitions", "session_timeout", "lateness"],
    "metrics": ["enabled", "listen"],
}
toml_scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=20),
    st.sampled_from(["5m", "90s", "-1s", "vault", "cloudtrail", "kafka://x:1", ""]),
)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return orjson.dumps(value).decode()  # JSON escapes are TOML basic-string escapes
    return repr(value)


@st.composite
def pipeline_documents(draw) -> str:
    lines = []
    for section, keys in SECTIONS.items():
        if section and not draw(st.booleans()):
            continue
        if section:
            lines.append(f"[{section}]")
        for key in draw(st.lists(st.sampled_from(keys) | st.text(min_size=1, max_size=8))):
            value = draw(toml_scalars | st.lists(toml_scalars, max_size=3))
            lines.append(f"{orjson.dumps(key).decode()} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(document=pipeline_documents())
def test_any_pipeline_file_loads_or_is_rejected_with_file_and_key(tmp_path_factory, document):
    from detector.errors import ConfigError

    path = tmp_path_factory.mktemp("config") / "pipeline.toml"
    path.write_text(document, errors="surrogatepass")
    try:
        load_pipeline_file(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path)), exc


@settings(max_examples=100, deadline=None, derandomize=True)
@given(content=st.binary(max_size=500))
def test_any_bytes_as_a_pipeline_file_are_rejected_cleanly(tmp_path_factory, content):
    from detector.errors import ConfigError

    path = tmp_path_factory.mktemp("config") / "pipeline.toml"
    path.write_bytes(content)
    try:
        load_pipeline_file(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


@pytest.mark.parametrize("kind", ["pipeline", "profile", "inventory"])
def test_a_config_file_that_is_not_text_names_the_file(tmp_path, kind):
    from detector.config import load_profile
    from detector.enrichers.service import Inventory
    from detector.errors import ConfigError

    path = tmp_path / f"{kind}.toml"
    path.write_bytes(b'name = "\xff\xfe"\n')
    load = {"pipeline": load_pipeline_file, "profile": load_profile, "inventory": Inventory.load}
    with pytest.raises(ConfigError, match="not UTF-8") as error:
        load[kind](path)
    assert str(error.value).startswith(str(path))
