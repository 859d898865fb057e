"""*Benign* reaches the pipeline: a suppressed pattern's decisions step down, with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detector.actions.ledger import Ledger
from detector.actions.suppressions import Suppressions
from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.detectors.base import Finding
from detector.event import AccessEvent, EnrichedEvent
from detector.runtime.local import LocalRun
from detector.scoring import Assessment

T0 = 1_800_000_000.0


def scored(decision: str, detectors=("location",), identity="ent-alice", at=T0 + 60):
    event = AccessEvent("e1", at, "vault", identity, "read", "secret/data/x")
    findings = [(0.5, Finding(d, 0.9, f"{d} reason")) for d in detectors]
    return EnrichedEvent(event), Assessment(risk=0.95, decision=decision, findings=findings)


@pytest.fixture
def suppressions(tmp_path: Path) -> Suppressions:
    ledger = Ledger(tmp_path / "actions.db")
    ledger.add_suppression(
        "benign", "ent-alice", ["location", "time"], T0, T0 + 3600, T0, "slack:UAPPROVER1"
    )
    ledger.close()
    return Suppressions(tmp_path / "actions.db")


@pytest.mark.parametrize(("before", "after"), [("alert", None), ("revoke", "alert")])
def test_a_suppressed_pattern_steps_down_one_decision(suppressions, before, after):
    enriched, assessment = scored(before)
    suppressions.apply(enriched, assessment)
    assert assessment.decision == after
    assert assessment.risk == 0.95  # the score stands; only the decision changes
    assert assessment.reasons[-1].startswith(f"{before} downgraded: this pattern (location, time)")
    assert "marked benign for this identity by UAPPROVER1" in assessment.reasons[-1]


@pytest.mark.parametrize(
    "case",
    [
        {"detectors": ("location", "resource")},  # new evidence beyond the pattern
        {"identity": "ent-bob"},
        {"at": T0 - 1},  # before the benign alert
        {"at": T0 + 3600},  # expired
    ],
)
def test_anything_beyond_the_suppression_keeps_its_decision(suppressions, case):
    enriched, assessment = scored("revoke", **case)
    suppressions.apply(enriched, assessment)
    assert assessment.decision == "revoke"
    assert not any("downgraded" in r for r in assessment.reasons)


def test_a_benign_click_changes_the_next_run_of_the_pipeline(simulated, tmp_path, repo_dir):
    """Mark an identity's first alert benign; the replay no longer alerts on that pattern."""
    pipeline_file = tmp_path / "pipeline.toml"
    pipeline_file.write_text(
        f'name = "sim"\n[enrichers.service]\ninventory = "{simulated.inventory}"\n'
        f'[model]\nprofile = "{repo_dir / "models" / "default.toml"}"\n'
        '[actions]\nenabled = true\nledger = "actions.db"\n'
    )
    config = load_pipeline_file(pipeline_file)

    def run(out: Path) -> list[dict]:
        pipeline = build_pipeline(config)
        assert isinstance(pipeline.suppressions, Suppressions)
        LocalRun(pipeline, out, None, 300.0).run([str(simulated.audit_log)])
        return [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]

    before = run(tmp_path / "before")
    alerts = [a for a in before if a["decision"] == "alert" and a["identity"] != "anonymous"]
    first = alerts[0]
    ledger = Ledger(tmp_path / "actions.db")
    from datetime import datetime

    start = datetime.fromisoformat(first["time"].replace("Z", "+00:00")).timestamp()
    ledger.add_suppression(
        "benign", first["identity"], first["detectors"], start, 4e9, 0.0, "slack:UAPPROVER1"
    )
    ledger.close()

    after = run(tmp_path / "after")
    same = {a["event_id"] for a in after if a["identity"] == first["identity"]}
    assert first["event_id"] not in same
    others = [a for a in before if a["identity"] != first["identity"]]
    assert [a["event_id"] for a in after if a["identity"] != first["identity"]] == [
        a["event_id"] for a in others
    ]
