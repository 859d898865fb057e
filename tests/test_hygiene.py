"""The detector's own hygiene: tokens and secret values in what it reads never reach what
it writes — outputs, dead letters, the store, the ledger, the saved state, Slack, its logs —
even from an audit device that logs them in the clear (``log_raw``) and with debug logging."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest
from actions.slack_server import SlackServer

from detector.build import build_pipeline, build_sinks
from detector.config import load_pipeline_file
from detector.runtime.local import LocalRun

REPO = Path(__file__).resolve().parents[1]
TOKEN = "hvs.CAESIHygieneTestTokenValue0123456789abcdefGh4KHGh2cy5"
SECRETS = (
    "correct-horse-battery-staple-42",  # a secret read
    "Tr0ub4dor&3-written-value",  # a secret written
    "dead-letter-secret-value-77",  # a secret in a line the parser refuses
)
SIGNING_SECRET = "hygiene-signing-secret-0123456789"
BOT_TOKEN = "xoxb-hygiene-bot-token-value"


def raw_logged(lines: list[bytes]) -> list[bytes]:
    """The log as an audit device with ``log_raw`` on writes it: one service call carries
    its token and secret values in the clear, and is made from abroad (so it alerts)."""
    entries = [orjson.loads(line) for line in lines]
    reads = [
        e
        for e in entries
        if e["type"] == "response"
        and e["request"].get("operation") == "read"
        and e["request"]["path"].startswith("secret/data/")
        and e["request"].get("remote_address", "").startswith("10.")
    ]
    target = reads[len(reads) // 2]["request"]["id"]
    out = []
    for entry in entries:
        if entry["request"]["id"] == target:
            entry["request"]["client_token"] = TOKEN
            entry["request"]["remote_address"] = "188.166.26.216"
            entry["request"]["data"] = {"data": {"api_key": SECRETS[1]}}
            if entry["type"] == "response":
                entry["response"] = {"data": {"data": {"password": SECRETS[0]}}}
        out.append(orjson.dumps(entry))
    poisoned = orjson.loads(out[-1])
    poisoned["request"]["client_token"] = TOKEN
    poisoned["response"] = {"data": {"password": SECRETS[2]}}
    bad_time = dict(poisoned, time="yesterday-ish")
    whole = orjson.dumps(poisoned)
    out += [
        orjson.dumps(bad_time),  # refused: bad timestamp
        whole[: whole.index(SECRETS[2].encode()) + 10],  # refused: truncated inside the secret
    ]
    return out


@pytest.fixture
def slack():
    with SlackServer() as server:
        yield server


def test_no_token_or_secret_value_reaches_anything_the_detector_writes(
    simulated, slack, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    lines = simulated.audit_log.read_bytes().splitlines()
    log = tmp_path / "audit.log"
    log.write_bytes(b"\n".join(raw_logged(lines)) + b"\n")
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text(
        (REPO / "pipelines" / "vault-local.toml")
        .read_text()
        .replace('inventory = "inventory.example.toml"', f'inventory = "{simulated.inventory}"')
        .replace('profile = "../models/default.toml"', f'profile = "{REPO}/models/default.toml"')
        .replace('dir = "../out/vault-local"', f'dir = "{tmp_path / "out"}"')
        .replace("[actions]\nenabled = false", "[actions]\nenabled = true\ndry_run = true")
        + f'\n[store]\nenabled = true\n\n[slack]\nenabled = true\nchannel = "#soc"\n'
        f'pace = "0s"\nbase_url = "{slack.base_url}"\n'
    )
    caplog.set_level(logging.DEBUG)
    config = load_pipeline_file(pipeline)
    out = tmp_path / "out"
    run = LocalRun(
        build_pipeline(config),
        out,
        tmp_path / "state" / "vault.state",
        config.source.reorder_window,
        sinks=build_sinks(config, out),
    )
    summary = run.run([str(log)])

    # The run did see them: an alert on the raw call, two refused lines.
    alerts = [orjson.loads(line) for line in (out / "alerts.jsonl").read_bytes().splitlines()]
    assert any(alert["client_ip"] == "188.166.26.216" for alert in alerts)
    assert summary["deadletters"] >= 2
    assert slack.calls, "something was posted to Slack"

    written = {
        path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file() and path != log
    }
    assert {p.name for p in written} >= {
        "alerts.jsonl",
        "deadletter.jsonl",
        "summary.json",
        "store.sqlite",
        "actions.db",
        "vault.state",
    }
    posted = orjson.dumps([call.arguments for call in slack.calls])
    logged = caplog.text.encode()
    for value in (TOKEN, *SECRETS, BOT_TOKEN, SIGNING_SECRET):
        needle = value.encode()
        for path, content in written.items():
            assert needle not in content, f"{value} in {path.name}"
        assert needle not in posted, f"{value} posted to Slack"
        assert needle not in logged, f"{value} in the logs"
    # A prefix of a secret cut by a truncated line is not left behind either.
    assert SECRETS[2][:10].encode() not in (out / "deadletter.jsonl").read_bytes()
