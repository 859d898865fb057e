"""The responder's contract with the streaming runtime: JSON requests in, one row each."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from actions.test_revocation import request
from detector.actions.guards import Guards
from detector.actions.ledger import STATUSES, Ledger
from detector.actions.responder import SCHEMA, Responder, action_request
from detector.detectors.base import Finding
from detector.event import AccessEvent, EnrichedEvent, ServiceInfo
from detector.pipeline import ScoredEvent
from detector.scoring import Assessment

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def responder(tmp_path):
    responder = Responder(Ledger(tmp_path / "actions.db"), Guards(), background=False)
    yield responder
    responder.close()


def test_a_json_request_is_acted_on_once(responder):
    wire = msgspec.json.encode(request("acc-1"))
    row = responder.handle_request(wire)
    assert row.status == "dry-run" and row.decided_by == "auto"
    assert responder.handle_request(wire) is None  # redelivered: nothing new
    assert len(responder.ledger.history(row.action_id)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"schema": "detector.action/0"},
        {"credential": "hmac-sha256:abc"},
        {"kind": "revoke-everything"},
        {"decision": "maybe"},
    ],
)
def test_a_malformed_request_is_refused(responder, change):
    raw = msgspec.to_builtins(request("acc-1")) | change
    with pytest.raises(ValueError, match="not an action request"):
        responder.handle_request(raw)


def test_an_offer_becomes_a_revocation_when_a_revoke_decision_follows(responder):
    offer = responder.handle_request(request("acc-1", event="e1", decision="alert"))
    assert offer.status == "offered"
    row = responder.handle_request(request("acc-1", event="e2"))
    assert row.action_id == offer.action_id  # one row per credential
    assert (row.status, row.event_id, row.decision) == ("dry-run", "e2", "revoke")
    assert responder.handle_request(request("acc-1", event="e3")).status == "dry-run"
    assert [s for _, s, _ in responder.ledger.history(row.action_id)] == ["offered", "dry-run"]


def test_action_request_from_a_scored_event():
    event = AccessEvent(
        "ev-1", 1_800_000_000.0, "vault", "ent-cart", "read", "secret/data/x",
        credential="acc-9", policies=("cart",), identity_name="approle",
    )  # fmt: skip
    enriched = EnrichedEvent(event, service=ServiceInfo("cart", team="shop", auto_revoke=True))
    found = [(0.9, Finding("location", 1.0, "from Amsterdam"))]
    scored = ScoredEvent(enriched, Assessment(0.95, "revoke", found))
    wire = msgspec.to_builtins(action_request(scored))
    assert wire["schema"] == SCHEMA and wire["action_id"].startswith("act-")
    assert (wire["credential"], wire["service"], wire["auto_revoke"]) == ("acc-9", "cart", True)
    assert wire["alert"]["alert_id"] == wire["alert_id"]
    hashed = msgspec.structs.replace(event, credential_hashed=True)
    assert action_request(ScoredEvent(EnrichedEvent(hashed), scored.assessment)) is None


def test_the_readme_documents_the_ledger_and_the_request_schema():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Response: revocation and Slack")[1].split("\n## ")[0]
    for status, meaning in STATUSES.items():
        assert f"| `{status}` | {meaning} |" in section
    assert f'"schema": "{SCHEMA}"' in section


def test_two_processes_cannot_claim_the_same_attempt(tmp_path):
    """The runtime and the slack-actions server share the ledger: one attempt wins."""
    from detector.actions.ledger import ActionRow

    first, second = Ledger(tmp_path / "actions.db"), Ledger(tmp_path / "actions.db")
    try:
        row = ActionRow("act-1", "revoke-token", "acc-1", "e1", "ent", "queued", next_attempt=0.0)
        assert first.insert(row, "requested")
        assert not second.insert(row, "requested again")  # one row per credential
        assert first.claim("act-1", 10.0, hold=60.0) is not None
        assert second.claim("act-1", 11.0, hold=60.0) is None  # in flight elsewhere
        assert second.claim("act-1", 71.0, hold=60.0) is not None  # its claimant died
        assert [s for _, s, _ in first.history("act-1")] == ["queued", "in-flight", "in-flight"]
    finally:
        first.close()
        second.close()


def test_the_streaming_topics_alert_records_are_understood(responder):
    """The actions topic may carry alert records; the alerts topic always does."""
    import orjson

    record = {
        "alert_id": "alert-1", "event_id": "ev-1", "time": "2020-01-15T08:00:00.000Z",
        "identity": "ent-cart", "identity_name": "approle", "credential": "acc-7",
        "risk": 0.93, "decision": "revoke", "reasons": ["r"], "detectors": {"location": 0.9},
        "service": "cart", "team": "shop", "auto_revoke": True,
    }  # fmt: skip
    responder.handle_alert(record)  # a revoke decision: left to the actions topic
    assert responder.ledger.by_credential("acc-7") is None
    row = responder.handle_request(orjson.dumps(record))
    assert row.credential == "acc-7" and row.decision == "revoke"
    assert row.guard is not None and "old" in row.guard  # 2020 is not now: a person decides

    offer = record | {"event_id": "ev-2", "credential": "acc-8", "decision": "alert"}
    responder.handle_alert(offer)
    assert responder.ledger.by_credential("acc-8").status == "offered"
    hashed = record | {"credential": "hmac-sha256:0f"}
    assert responder.handle_request(hashed) is None
