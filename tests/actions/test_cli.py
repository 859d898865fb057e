"""``detector actions`` and ``detector slack-actions`` as an operator runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from click.testing import CliRunner

from actions.conftest import BOT_TOKEN, SIGNING_SECRET, eventually, signed
from actions.openbao import free_port
from actions.test_revocation import request
from detector.actions.guards import Guards
from detector.actions.ledger import Ledger
from detector.actions.responder import Responder
from detector.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_actions_lists_and_filters_the_ledger(tmp_path):
    path = tmp_path / "actions.db"
    responder = Responder(Ledger(path), Guards(never_revoke_policies=["root"]), background=False)
    responder.handle_request(request("acc-cart-1"))  # dry run: no Vault
    responder.handle_request(request("acc-billing-1", "billing", auto_revoke=False))
    responder.handle_request(request("acc-root-1", "ops", policies=["root"]))
    responder.close()
    runner = CliRunner()

    listed = runner.invoke(main, ["actions", "--ledger", str(path)])
    assert listed.exit_code == 0, listed.output
    assert "3 actions" in listed.output
    for expected in ("dry-run", "escalated", "protected", "acc-cart", "auto"):
        assert expected in listed.output

    only = runner.invoke(
        main, ["actions", "--ledger", str(path), "--status", "escalated", "--json"]
    )
    (record,) = [json.loads(line) for line in only.output.splitlines()]
    assert record["credential"] == "acc-billing-1"
    assert record["guard"] == "billing's inventory entry does not allow auto-revocation"

    by_service = runner.invoke(
        main, ["actions", "--ledger", str(path), "--identity", "car*", "--json", "--history"]
    )
    (record,) = [json.loads(line) for line in by_service.output.splitlines()]
    assert [h["status"] for h in record["history"]] == ["dry-run"]
    recent = runner.invoke(main, ["actions", "--ledger", str(path), "--since", "1h", "--json"])
    assert len(recent.output.splitlines()) == 3

    missing = runner.invoke(main, ["actions", "--ledger", str(tmp_path / "none.db")])
    assert missing.exit_code != 0 and "no ledger at" in missing.output


def test_slack_actions_serves_and_rejects_unsigned_clicks(tmp_path):
    port = free_port()
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text(
        f'name = "t"\n[model]\nprofile = "{REPO / "models" / "default.toml"}"\n'
        '[actions]\nenabled = true\nledger = "actions.db"\n'
        f'[slack]\nenabled = true\nchannel = "#soc"\napprovers = ["U1"]\n'
        f'base_url = "http://127.0.0.1:{free_port()}/api/"\n'
    )
    env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    detector = Path(sys.executable).parent / "detector"  # the console script
    server = subprocess.Popen(
        [str(detector), "slack-actions", str(pipeline), "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return requests.get(f"{url}/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        assert eventually(healthy, 20)
        body = b"payload=%7B%7D"
        unsigned = requests.post(f"{url}/slack/actions", data=body, timeout=5)
        assert unsigned.status_code == 401
        ok = requests.post(f"{url}/slack/actions", data=body, headers=signed(body), timeout=5)
        assert ok.status_code == 200  # signed: acknowledged (an empty payload does nothing)
        time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output.decode()
    assert f"serving Slack interactions on {url}/slack/actions" in output.decode()
