"""End to end, against a real OpenBao: the detector follows the audit log, revokes a stolen
service token through the API, tells the SOC in Slack, and lets an approver revoke where
the service does not allow it automatically."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from slack_sdk.signature import SignatureVerifier

from actions.conftest import (
    APPROVER,
    SIGNING_SECRET,
    button,
    click_body,
    eventually,
    signed,
    status_of,
    write_pipeline,
)
from actions.slack_server import SlackServer
from detector.actions import build_responder
from detector.actions.ledger import Ledger
from detector.actions.slack_interactions import InteractionHandler, InteractionServer
from detector.actions.slack_messages import REVOKE
from detector.build import build_sinks, load_pipeline
from detector.config import load_pipeline_file
from detector.runtime.local import LocalRun


@contextmanager
def following(pipeline_file: Path, audit_log: Path) -> Iterator[LocalRun]:
    """``detector run PIPELINE --source AUDIT_LOG --follow``, in a thread."""
    config, pipeline = load_pipeline(pipeline_file)
    out = config.resolve(config.outputs.dir)
    local = LocalRun(
        pipeline, out, None, config.source.reorder_window, sinks=build_sinks(config, out)
    )
    thread = threading.Thread(
        target=local.run,
        args=([str(audit_log)],),
        kwargs={"follow_sources": True, "poll_interval": 0.05},
    )
    thread.start()
    try:
        yield local
    finally:
        local.stop()
        thread.join(30)
        assert not thread.is_alive()


def text_of(message: dict) -> str:
    """Everything a person reads in a message's blocks, as one string."""
    parts = []
    for block in message.get("blocks") or []:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"]["text"])
        for field in block.get("fields") or []:
            parts.append(field["text"])
        for element in block.get("elements") or []:
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(parts)


def parent_about(slack: SlackServer, service: str, words: str) -> dict | None:
    for message in slack.parents():
        header = message["blocks"][0]["text"]["text"]
        if f"· {service} ·" in header and words in header:
            return message
    return None


def test_stolen_service_token_is_revoked_and_the_soc_told(detector_env, bao, slack, tmp_path):
    shop = detector_env
    pipeline_file = write_pipeline(tmp_path / "detector", bao.address, slack.base_url)
    ledger = tmp_path / "detector" / "ledger" / "actions.db"
    with following(pipeline_file, bao.audit_log):
        cart = shop.login("cart")
        shop.normal_use(cart, 40)
        assert not shop.refused(cart)
        shop.steal(cart, reads=1)
        assert eventually(lambda: status_of(ledger, cart.accessor) == "revoked", 20)
        assert shop.refused(cart)  # OpenBao answers 403 to the stolen token
        assert not shop.alive(cart.accessor)
        assert eventually(lambda: parent_about(slack, "cart", "Credential revoked"), 10)

    book = Ledger(ledger)
    try:
        row = book.by_credential(cart.accessor)
        history = [status for _, status, _ in book.history(row.action_id)]
    finally:
        book.close()
    assert row.status == "revoked" and row.decided_by == "auto"
    assert (row.service, row.team, row.decision) == ("cart", "shop", "revoke")
    assert row.risk >= 0.9
    assert any("Amsterdam, NL" in reason for reason in row.reasons)
    assert row.blast_radius["policies"] == ["cart", "default"]
    assert row.blast_radius["display_name"] == "approle"
    assert row.blast_radius["metadata"] == {"role_name": "cart"}
    # Before and after the call: requested, attempt, about to revoke (blast radius), done.
    assert history == ["queued", "in-flight", "in-flight", "revoked"]
    # The ledger never holds a token, only its accessor.
    stored = b"".join(p.read_bytes() for p in ledger.parent.iterdir())
    assert cart.token.encode() not in stored and cart.accessor.encode() in stored

    message = parent_about(slack, "cart", "Credential revoked")
    assert message["channel"] == "CSOCALERTS"
    text = text_of(message)
    assert message["blocks"][0]["type"] == "header"
    assert ":red_circle:" in message["blocks"][0]["text"]["text"]  # severity: critical
    for expected in (
        "*Who*\napprole",
        "service cart · team shop",
        "*What*\nread `secret/data/shop/frontend/s0`",
        "*From where*\n188.166.26.216\nAmsterdam, NL",
        "client `curl/8.5.0`",
        " UTC (",
        "*Why* — risk 0.9",
        "Amsterdam, NL",
        f"*Revoked* `{cart.accessor[:8]}…` automatically",
        "Blast radius: approle · policies cart, default",
        row.action_id,
    ):
        assert expected in text, expected
    assert button(message, REVOKE) is None  # nothing left to click


def test_approval_where_auto_revocation_is_not_allowed(detector_env, bao, slack, tmp_path):
    shop = detector_env
    pipeline_file = write_pipeline(tmp_path / "detector", bao.address, slack.base_url)
    ledger = tmp_path / "detector" / "ledger" / "actions.db"
    with following(pipeline_file, bao.audit_log):
        billing = shop.login("billing")
        shop.normal_use(billing, 40)
        shop.steal(billing, reads=1)
        assert eventually(lambda: status_of(ledger, billing.accessor) == "escalated", 20)
        assert eventually(lambda: parent_about(slack, "billing", "Approval needed"), 10)

    assert shop.alive(billing.accessor)  # not revoked: billing's entry forbids it
    message = parent_about(slack, "billing", "Approval needed")
    assert message["channel"] == "CPAYMENTSSECURITY"  # routed by team
    assert "billing's inventory entry does not allow auto-revocation" in text_of(message)
    revoke = button(message, REVOKE)
    assert revoke["style"] == "danger" and revoke["confirm"]["confirm"]["text"] == "Revoke"

    # The click, served as `detector slack-actions` serves it (another process's view).
    responder = build_responder(load_pipeline_file(pipeline_file))
    handler = InteractionHandler(
        SignatureVerifier(SIGNING_SECRET), responder, responder.notifier.client, [APPROVER]
    )
    server = InteractionServer(handler, "127.0.0.1", 0)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        body = click_body(REVOKE, revoke["value"], message)
        started = time.monotonic()
        answer = requests.post(
            f"http://127.0.0.1:{server.port}/slack/actions",
            data=body,
            headers=signed(body),
            timeout=5,
        )
        assert answer.status_code == 200 and time.monotonic() - started < 3.0
        assert eventually(lambda: status_of(ledger, billing.accessor) == "revoked", 15)
        assert shop.refused(billing)
        assert handler.wait_idle()
    finally:
        server.shutdown()
        serving.join(5)
        handler.close()
        responder.close()

    book = Ledger(ledger)
    try:
        row = book.by_credential(billing.accessor)
    finally:
        book.close()
    assert row.decided_by == f"slack:{APPROVER}"
    assert row.guard == "billing's inventory entry does not allow auto-revocation"
    updated = slack.messages[message["ts"]]
    assert button(updated, REVOKE) is None
    assert f"*Revoked* `{billing.accessor[:8]}…` by <@{APPROVER}>" in text_of(updated)
