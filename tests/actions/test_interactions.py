"""Slack's buttons: only signed, fresh requests from approvers are carried out."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from actions.conftest import (
    APPROVER,
    BOT_TOKEN,
    SIGNING_SECRET,
    button,
    click_body,
    signed,
)
from actions.test_revocation import request
from actions.test_slack import deliver_all
from detector.actions.config import SlackRoute
from detector.actions.guards import Guards
from detector.actions.ledger import Ledger
from detector.actions.responder import Responder
from detector.actions.slack_interactions import InteractionHandler, InteractionServer
from detector.actions.slack_messages import BENIGN, REVOKE, SNOOZE
from detector.actions.slack_notifier import ChannelRouter, SlackNotifier


@pytest.fixture
def served(tmp_path, slack) -> Iterator[tuple[InteractionServer, Responder, dict]]:
    """An escalated revocation posted to Slack (dry run: no Vault), and the server."""
    ledger = Ledger(tmp_path / "actions.db")
    client = WebClient(token=BOT_TOKEN, base_url=slack.base_url)
    notifier = SlackNotifier(client, ledger, ChannelRouter("#soc", [SlackRoute("#soc")]), pace=0.0)
    responder = Responder(ledger, Guards(), None, notifier, background=False)
    row = responder.handle_request(request("accessor-billing-1", "billing", auto_revoke=False))
    assert row.status == "escalated"
    deliver_all(notifier)
    (message,) = slack.parents()
    handler = InteractionHandler(SignatureVerifier(SIGNING_SECRET), responder, client, [APPROVER])
    server = InteractionServer(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield server, responder, message
    finally:
        server.shutdown()
        thread.join(5)
        handler.close()
        responder.close()


def post(server: InteractionServer, body: bytes, headers: dict) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{server.port}/slack/actions", data=body, headers=headers, timeout=5
    )


def test_a_bad_signature_is_rejected(served, slack):
    server, responder, message = served
    body = click_body(REVOKE, button(message, REVOKE)["value"], message)
    forged = signed(body, secret="not-the-signing-secret")
    assert post(server, body, forged).status_code == 401
    tampered = signed(body)
    assert post(server, body.replace(b"UAPPROVER1", b"UMALLORY01"), tampered).status_code == 401
    assert post(server, body, {}).status_code == 401
    server.handler.wait_idle()
    assert responder.ledger.by_credential("accessor-billing-1").status == "escalated"
    assert slack.calls_to("chat.update") == []


def test_a_stale_timestamp_is_rejected(served):
    server, responder, message = served
    body = click_body(REVOKE, button(message, REVOKE)["value"], message)
    six_minutes_ago = signed(body, at=time.time() - 360)
    assert post(server, body, six_minutes_ago).status_code == 401
    four_minutes_ago = signed(body, at=time.time() - 240)
    assert post(server, body, four_minutes_ago).status_code == 200
    assert server.handler.wait_idle()
    # Accepted, and carried out (a dry run here: no Vault).
    assert responder.ledger.by_credential("accessor-billing-1").status == "dry-run"


def test_a_click_by_someone_not_on_the_approvers_list_is_refused(served, slack):
    server, responder, message = served
    body = click_body(REVOKE, button(message, REVOKE)["value"], message, user="UINTERN01")
    assert post(server, body, signed(body)).status_code == 200
    assert server.handler.wait_idle()
    row = responder.ledger.by_credential("accessor-billing-1")
    assert row.status == "escalated"
    assert "click by UINTERN01 refused" in responder.ledger.history(row.action_id)[-1][2]
    (ephemeral,) = slack.calls_to("chat.postEphemeral")
    assert ephemeral.arguments["user"] == "UINTERN01"


def test_benign_records_an_expiring_suppression_and_updates_the_message(served, slack):
    server, responder, message = served
    value = button(message, BENIGN)["value"]
    body = click_body(BENIGN, value, message)
    assert post(server, body, signed(body)).status_code == 200
    assert server.handler.wait_idle()
    (suppression,) = responder.ledger.suppressions("benign")
    assert suppression.identity == "entity-billing"
    assert suppression.detectors == frozenset({"location"})
    assert suppression.created_by == f"slack:{APPROVER}"
    assert 6.9 * 86400 < suppression.expires - time.time() <= 7 * 86400
    assert responder.ledger.by_credential("accessor-billing-1").status == "benign"
    updated = slack.messages[message["ts"]]
    assert button(updated, REVOKE) is None
    assert "*Marked benign* by <@UAPPROVER1>" in json.dumps(updated["blocks"])


def test_snooze_mutes_the_identity_but_not_revocations(served, slack):
    server, responder, message = served
    body = click_body(SNOOZE, button(message, SNOOZE)["value"], message)
    assert post(server, body, signed(body)).status_code == 200
    assert server.handler.wait_idle()
    (snooze,) = responder.ledger.suppressions("snooze")
    assert 3500 < snooze.expires - time.time() <= 3600
    responder.handle_alert(
        {"alert_id": "a-2", "identity": "entity-billing", "time": "2030-01-01T00:00:00Z"}
        | {"risk": 0.7, "decision": "alert", "team": "payments"}
    )
    assert [m["method"] for m in responder.ledger.outbox("pending")] == []


def test_a_replayed_click_is_rejected(served):
    """Someone who captured a signed click cannot send it again, even within 5 minutes."""
    server, responder, message = served
    body = click_body(REVOKE, button(message, REVOKE)["value"], message)
    headers = signed(body)
    assert post(server, body, headers).status_code == 200
    replay = post(server, body, headers)
    assert replay.status_code == 401 and replay.content == b"replayed request"
    assert server.handler.wait_idle()
    history = [
        status
        for _, status, _ in responder.ledger.history(
            responder.ledger.by_credential("accessor-billing-1").action_id
        )
    ]
    assert history.count("dry-run") == 1  # carried out once
