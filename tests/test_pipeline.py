"""The pipeline: parse faults become dead letters, out-of-scope records counts, internal
calls are not scored, a restored pipeline skips what it scored, a failing detector costs
one event, and alerts carry the output contract."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import orjson
import pytest

from detector.build import build_pipeline
from detector.config import build_model, load_pipeline_file, load_profile
from detector.errors import StateError
from detector.event import format_time
from detector.parsers.timestamps import parse_timestamp
from detector.pipeline import CollectingSink, Pipeline, ScoredEvent, alert_id

REPO = Path(__file__).resolve().parents[1]
VAULT = REPO / "pipelines" / "vault-local.toml"
CLOUDTRAIL = REPO / "pipelines" / "cloudtrail-local.toml"
T0 = parse_timestamp("2026-11-02T09:00:00Z")
TOKEN = "hvs.CAESIJ1n2fakeTokenValue1234567890abcdef"


def vault_line(
    request_id: str,
    at: float,
    *,
    kind: str = "response",
    path: str = "secret/data/shop/cart/db",
    ip: str | None = "10.1.0.5",
    entity: str = "ent-cart",
    accessor: str = "acc-cart-0000000000000000",
    role: str = "cart",
) -> bytes:
    """One audit entry in the shape of an OpenBao ``file`` audit device."""
    request = {
        "id": request_id,
        "operation": "read",
        "path": path,
        "mount_point": path.split("/")[0] + "/",
        "client_token": "hmac-sha256:" + hashlib.sha256(accessor.encode()).hexdigest(),
        "client_token_accessor": accessor,
        "namespace": {"id": "root"},
    }
    if ip is not None:
        request["remote_address"] = ip
    auth = {
        "accessor": accessor,
        "display_name": "approle",
        "entity_id": entity,
        "metadata": {"role_name": role},
        "policies": ["cart", "default"],
        "token_type": "service",
    }
    return orjson.dumps({"time": format_time(at), "type": kind, "auth": auth, "request": request})


def cloudtrail_record(event_id: str, source: str, name: str, **fields) -> dict:
    return {
        "eventVersion": "1.08",
        "eventID": event_id,
        "eventTime": "2026-11-02T09:00:00Z",
        "eventSource": source,
        "eventName": name,
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/ana",
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        },
        "sourceIPAddress": "192.0.2.7",
        "requestParameters": {"secretId": "prod/db"},
        **fields,
    }


def vault_pipeline(**thresholds: float) -> Pipeline:
    config = load_pipeline_file(VAULT)
    for key, value in thresholds.items():
        setattr(config.thresholds, key, value)
    return build_pipeline(config)


def score_all(pipeline: Pipeline, lines: list[bytes]) -> list[ScoredEvent | None]:
    """Every event of every line through ``score`` (``None`` where it was not scored)."""
    return [pipeline.score(event) for line in lines for event in pipeline.parse(line)]


# -- parse: dead letters and counts ------------------------------------------------------


def test_malformed_line_goes_to_the_dead_letters_with_reason_origin_and_redacted_raw():
    pipeline = vault_pipeline()
    broken = b'{"time": "2026-11-02T09:00:00Z", "request": {"client_token": "' + TOKEN.encode()
    scored = pipeline.process(broken, origin="audit.log:7")
    assert scored == []
    (letter,) = pipeline.deadletters.records
    assert letter["reason"] == "not JSON"
    assert letter["origin"] == "audit.log:7"
    assert TOKEN not in letter["raw"] and "<redacted>" in letter["raw"]
    assert letter["raw"].startswith('{"time": "2026-11-02T09:00:00Z"')
    assert letter["raw_bytes"] == len(broken)
    assert letter["truncated"] is False
    counts = pipeline.all_counts()
    assert counts["deadletters"] == counts["deadletter: not JSON"] == 1


def test_the_run_goes_on_after_a_dead_letter():
    pipeline = vault_pipeline()
    results = [
        pipeline.process(vault_line("r1", T0), "log:1"),
        pipeline.process(b"this is not json", "log:2"),
        pipeline.process(b'{"type": "heartbeat", "time": 3}', "log:3"),
        pipeline.process(vault_line("r2", T0 + 10), "log:4"),
    ]
    assert [len(r) for r in results] == [1, 0, 0, 1]
    assert [d["origin"] for d in pipeline.deadletters.records] == ["log:2", "log:3"]
    assert pipeline.all_counts()["records"] == 4
    assert pipeline.scored == 2


def test_long_dead_letter_is_cut_and_says_so():
    sink = CollectingSink()
    pipeline = vault_pipeline()
    pipeline.deadletters, pipeline.raw_bytes = sink, 16
    record = b"x" * 100
    pipeline.parse(record, "log:1")
    (letter,) = sink.records
    assert letter["raw"] == "x" * 16
    assert letter["raw_bytes"] == 100
    assert letter["truncated"] is True


def test_out_of_scope_cloudtrail_event_is_counted_as_ignored_not_dead():
    _, pipeline = _cloudtrail()
    record = orjson.dumps(
        cloudtrail_record("e1", "ec2.amazonaws.com", "DescribeInstances", requestParameters={})
    )
    assert pipeline.parse(record, "trail:1") == []
    counts = pipeline.all_counts()
    ignored = {k: v for k, v in counts.items() if k.startswith("ignored: ")}
    assert list(ignored.values()) == [1]
    assert "DescribeInstances" in next(iter(ignored))
    assert "deadletters" not in counts
    assert pipeline.deadletters.records == []


def test_records_file_keeps_good_events_counts_the_ignored_and_dead_letters_the_broken():
    _, pipeline = _cloudtrail()
    broken = cloudtrail_record("e3", "secretsmanager.amazonaws.com", "GetSecretValue")
    del broken["eventTime"]
    document = {
        "Records": [
            cloudtrail_record("e1", "secretsmanager.amazonaws.com", "GetSecretValue"),
            cloudtrail_record("e2", "ec2.amazonaws.com", "DescribeInstances"),
            broken,
        ]
    }
    events = pipeline.parse(orjson.dumps(document, option=orjson.OPT_INDENT_2), "trail.json:1")
    assert [e.event_id for e in events] == ["e1"]
    counts = pipeline.all_counts()
    assert sum(v for k, v in counts.items() if k.startswith("ignored: ")) == 1
    (letter,) = pipeline.deadletters.records
    assert letter["origin"] == "trail.json:1"
    assert "eventTime" in letter["reason"]
    assert '"e3"' in letter["raw"]


def test_internal_vault_entries_are_counted_not_scored():
    pipeline = vault_pipeline()
    scored = score_all(pipeline, [vault_line("sys-1", T0, ip=None, path="sys/internal/x")])
    assert scored == [None]
    assert pipeline.internal == 1
    assert pipeline.scored == 0
    assert pipeline.all_counts()["internal"] == 1
    assert len(pipeline.model.store) == 0  # nothing learned from it


def test_hashed_accessors_are_reported_once():
    heard = []
    pipeline = vault_pipeline()
    pipeline.on_notice = heard.append
    for i in range(3):
        pipeline.parse(vault_line(f"r{i}", T0 + i, accessor="hmac-sha256:" + "ab" * 32))
    assert [n.code for n in heard] == ["hashed-accessor"]
    assert pipeline.all_counts()["notice: hashed-accessor"] == 1


# -- score: order, resume, faults ---------------------------------------------------------


def test_late_events_are_scored_and_counted():
    pipeline = vault_pipeline()
    scored = score_all(
        pipeline,
        [vault_line("r1", T0 + 100), vault_line("r2", T0 + 50), vault_line("r3", T0 + 200)],
    )
    assert all(s is not None for s in scored)
    assert pipeline.all_counts()["late"] == 1
    assert pipeline.scored == 3
    assert pipeline.watermark == T0 + 200


def test_restored_pipeline_skips_what_it_scored_but_scores_newer_events():
    lines = [vault_line(f"r{i}", T0 + 60 * i) for i in range(5)]
    first = vault_pipeline()
    score_all(first, lines)
    state = first.snapshot()

    second = vault_pipeline()
    second.restore(state, "vault-local.state")
    assert second.resume_after == T0 + 240
    assert score_all(second, lines) == [None] * 5
    assert second.all_counts()["already scored"] == 5
    newer = score_all(
        second,
        [
            vault_line("r-same-time", T0 + 240),  # the saved point, but never scored
            vault_line("r5", T0 + 300),
        ],
    )
    assert all(s is not None for s in newer)
    assert second.scored == 2


def test_restored_pipeline_remembers_what_it_learned():
    lines = [vault_line(f"r{i}", T0 + 60 * i) for i in range(5)]
    first = vault_pipeline()
    score_all(first, lines)
    second = vault_pipeline()
    second.restore(first.snapshot(), "state")
    known = second.model.store.get("ent-cart")
    assert known is not None
    assert known.events == first.model.store.get("ent-cart").events == 5
    (scored,) = score_all(second, [vault_line("r5", T0 + 300)])
    assert second.model.store.get("ent-cart").events == 6
    assert scored is not None


def test_state_of_another_pipeline_is_refused():
    vault = vault_pipeline()
    score_all(vault, [vault_line("r1", T0)])
    _, cloudtrail = _cloudtrail()
    with pytest.raises(StateError, match="state of pipeline 'vault-local', not 'cloudtrail-local'"):
        cloudtrail.restore(vault.snapshot(), "saved.state")


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"not a pickle", "unreadable state"),
        (pickle.dumps({"version": 999, "pipeline": "vault-local"}), "another version"),
        (pickle.dumps(["a", "list"]), "another version"),
    ],
)
def test_unreadable_or_foreign_state_is_refused_with_the_file_name(data, problem):
    with pytest.raises(StateError, match=problem) as caught:
        vault_pipeline().restore(data, "models/state/vault-local.state")
    assert "models/state/vault-local.state" in str(caught.value)


def _profile_changes() -> list[tuple[str, str, object]]:
    """(detector, parameter, new value): one changed parameter per detector, and one off."""
    profile = load_profile(REPO / "models" / "default.toml")
    model = build_model(profile)
    changes = []
    for detector in model.detectors:
        name = type(detector).name
        parameter, value = next(iter(vars(detector).items()))
        changes.append((name, parameter, value * 2 if value else 1))
    changes.append(("multivariate", "enabled", False))
    return changes


@pytest.mark.parametrize("detector, parameter, value", _profile_changes())
def test_state_of_changed_detectors_is_refused(detector, parameter, value):
    saved = vault_pipeline()
    score_all(saved, [vault_line("r1", T0)])
    today = _with_profile_change(detector, parameter, value)
    with pytest.raises(StateError, match="detectors changed") as caught:
        today.restore(saved.snapshot(), "vault-local.state")
    assert "--fresh" in str(caught.value)


def test_thresholds_and_weights_come_from_todays_profile():
    saved = vault_pipeline()
    score_all(saved, [vault_line(f"r{i}", T0 + i) for i in range(3)])
    today = _with_profile_change("volume", "weight", 0.25)
    today.model.scorer.alert = 0.3
    today.restore(saved.snapshot(), "state")
    assert today.model.scorer.alert == 0.3
    assert today.model.scorer.weights["volume"] == 0.25
    assert saved.model.scorer.weights["volume"] != 0.25
    assert today.model.store.get("ent-cart").events == 3  # learned state from the file


def test_alert_budget_keeps_what_it_saw_but_takes_todays_rate():
    saved = vault_pipeline(alert_budget_per_day=5.0)
    score_all(saved, [vault_line(f"r{i}", T0 + i) for i in range(3)])
    today = vault_pipeline(alert_budget_per_day=10.0)
    today.restore(saved.snapshot(), "state")
    budget = today.model.scorer.budget
    assert budget.per_day == 10.0
    assert budget.histogram.sum() == pytest.approx(saved.model.scorer.budget.histogram.sum())
    assert budget.histogram.sum() > 0


class _Exploding:
    """A detector with a bug that shows on one event only."""

    name = "exploding"

    def __init__(self, bad_event: str) -> None:
        self.bad_event = bad_event

    def score_one(self, event, state):
        if event.event.event_id == self.bad_event:
            raise RuntimeError("index out of range in hour table")
        return None

    def learn_one(self, event, state) -> None:
        pass

    def observe_one(self, event, state) -> None:
        pass


def test_a_detector_that_raises_costs_that_one_event_only():
    pipeline = vault_pipeline()
    for detectors in pipeline.model.detector_sets:  # whichever partition the identity is in
        detectors.append(_Exploding("r-bad"))
    scored = score_all(pipeline, [vault_line("r-bad", T0), vault_line("r-next", T0 + 1)])
    assert scored[0] is None
    assert scored[1] is not None and scored[1].event.event_id == "r-next"
    (letter,) = pipeline.deadletters.records
    assert letter["reason"] == "scoring failed"
    assert "RuntimeError: index out of range in hour table" in letter["detail"]
    assert "r-bad" in letter["raw"]
    assert pipeline.scored == 1
    assert pipeline.all_counts()["deadletter: scoring failed"] == 1


# -- the alert record --------------------------------------------------------------------


def test_alert_record_has_every_field_of_the_output_contract():
    pipeline = vault_pipeline(alert=0.0)  # every scored event is an alert
    (scored,) = score_all(pipeline, [vault_line("req-42", T0 + 0.25, ip="10.1.0.9")])
    assert scored.decision in ("alert", "revoke")
    record = scored.alert_record()
    assert record["event_id"] == "req-42"
    assert record["alert_id"] == alert_id("req-42")
    assert parse_timestamp(record["time"]) == pytest.approx(T0 + 0.25, abs=1e-3)
    assert record["identity"] == "ent-cart"
    assert record["credential"] == "acc-cart-0000000000000000"
    assert record["client_ip"] == "10.1.0.9"
    assert record["resource"] == "secret/data/shop/cart/db"
    assert record["risk"] == scored.assessment.risk and 0.0 <= record["risk"] <= 1.0
    assert record["decision"] == scored.decision
    assert isinstance(record["reasons"], list)
    assert all(isinstance(reason, str) for reason in record["reasons"])
    assert record["service"] == "cart" and record["team"] == "shop"  # the example inventory
    assert orjson.loads(orjson.dumps(record)) == record  # JSON as it is


def test_alert_id_is_deterministic_and_distinct_per_event():
    first = vault_pipeline(alert=0.0)
    again = vault_pipeline(alert=0.0)
    line = vault_line("req-42", T0)
    (a,) = score_all(first, [line])
    (b,) = score_all(again, [line])
    assert a.alert_record()["alert_id"] == b.alert_record()["alert_id"] == alert_id("req-42")
    assert alert_id("req-42") != alert_id("req-43")
    assert alert_id("req-42").startswith("alert-")


# -- helpers -----------------------------------------------------------------------------


def _cloudtrail():
    config = load_pipeline_file(CLOUDTRAIL)
    return config, build_pipeline(config)


def _with_profile_change(detector: str, parameter: str, value: object) -> Pipeline:
    """The vault-local pipeline, its profile changed in one detector's table."""
    config = load_pipeline_file(VAULT)
    pipeline = build_pipeline(config)
    profile = load_profile(config.resolve(config.model.profile))
    profile.detectors.setdefault(detector, {})[parameter] = value
    pipeline.model = build_model(profile)
    return pipeline
