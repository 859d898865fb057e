"""Alerts in Slack: one thread per burst, paced, rate limits honoured, nothing lost."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from actions.conftest import BOT_TOKEN
from actions.openbao import free_port
from actions.slack_server import SlackServer
from detector.actions.config import SlackRoute
from detector.actions.ledger import Ledger
from detector.actions.slack_notifier import ChannelRouter, SlackNotifier
from detector.event import format_time

T0 = 1_800_000_000.0


def alert(n: int, identity: str = "ent-cart", risk: float = 0.7, decision: str = "alert") -> dict:
    """An alert record as ``alerts.jsonl`` has it, ``n`` seconds after T0."""
    return {
        "alert_id": f"alert-{identity}-{n}",
        "event_id": f"event-{identity}-{n}",
        "time": format_time(T0 + n),
        "source": "vault",
        "identity": identity,
        "identity_name": "approle",
        "credential": None,
        "client_ip": "188.166.26.216",
        "user_agent": "curl/8.5.0",
        "action": "read",
        "resource": f"secret/data/shop/frontend/s{n % 3}",
        "outcome": "ok",
        "risk": risk,
        "decision": decision,
        "reasons": [f"first use of network 188.166.26.0/24 (Amsterdam, NL) #{n}"],
        "detectors": {"location": risk},
        "geo": "Amsterdam, NL",
        "country": "NL",
        "service": "cart",
        "team": "shop",
        "auto_revoke": True,
        "sensitivity": "medium",
    }


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    book = Ledger(tmp_path / "actions.db")
    yield book
    book.close()


def notifier_for(url: str, ledger: Ledger, pace: float = 0.01) -> SlackNotifier:
    return SlackNotifier(
        WebClient(token=BOT_TOKEN, base_url=url, timeout=5),
        ledger,
        ChannelRouter("#soc-alerts", [SlackRoute("#payments-security", team="payments")]),
        pace=pace,
        retry_initial=0.05,
        retry_max=0.2,
    )


def deliver_all(notifier: SlackNotifier, timeout: float = 15.0) -> None:
    """Call ``deliver`` as the dispatcher does until nothing waits."""
    deadline = time.monotonic() + timeout
    while (due := notifier.deliver()) is not None:
        assert time.monotonic() < deadline, "messages still waiting"
        time.sleep(max(0.0, min(due - time.time(), 1.0)))


def test_a_burst_from_one_identity_is_one_thread_updated(slack, ledger):
    notifier = notifier_for(slack.base_url, ledger)
    for n in range(30):
        notifier.notify_alert(alert(n, risk=0.6 + n / 100), None, "usually 08:00–17:00 UTC")
    notifier.notify_alert(alert(40, risk=0.95, decision="revoke"), None)
    notifier.notify_alert(alert(0, identity="ent-other"), None)
    deliver_all(notifier)

    posts = slack.calls_to("chat.postMessage")
    parents = [c for c in posts if not c.arguments.get("thread_ts")]
    replies = [c for c in posts if c.arguments.get("thread_ts")]
    assert len(parents) == 2  # one per identity
    assert len(replies) == 1  # only the step up to a revoke decision
    assert len(slack.calls_to("chat.update")) < 10  # updates coalesced, not thirty
    cart = next(m for m in slack.parents() if "ent-cart" in str(m["blocks"]))
    header = cart["blocks"][0]["text"]["text"]
    footer = cart["blocks"][-1]["elements"][0]["text"]
    assert "risk 0.95" in header and ":red_circle:" in header
    assert footer.startswith("31 alerts of this identity since 2027-01-15T08:00:00.000Z")
    assert slack.replies(cart["ts"])[0]["blocks"][0]["text"]["text"].startswith(":red_circle:")


def test_each_channel_is_paced(slack, ledger):
    notifier = notifier_for(slack.base_url, ledger, pace=0.3)
    for n in range(3):
        notifier.notify_alert(alert(n, identity=f"ent-{n}"), None)
    deliver_all(notifier)
    arrivals = [c.at for c in slack.calls_to("chat.postMessage")]
    assert len(arrivals) == 3
    assert all(b - a >= 0.29 for a, b in zip(arrivals, arrivals[1:], strict=False))


def test_rate_limit_429_waits_for_retry_after(slack, ledger):
    slack.fail(1, status=429, retry_after=2)
    notifier = notifier_for(slack.base_url, ledger)
    notifier.notify_alert(alert(0), None)
    notifier.notify_alert(alert(0, identity="ent-billing") | {"team": "payments"}, None)
    deliver_all(notifier)
    calls = [c for c in slack.calls if c.method == "chat.postMessage"]
    assert [c.status for c in calls] == [429, 200, 200]
    assert calls[1].at - calls[0].at >= 1.95  # Retry-After: 2, for every channel
    assert calls[2].at - calls[0].at >= 1.95
    assert {m["channel"] for m in slack.parents()} == {"CSOCALERTS", "CPAYMENTSSECURITY"}


def test_server_errors_are_retried_with_backoff(slack, ledger):
    slack.fail(2, status=503)
    notifier = notifier_for(slack.base_url, ledger)
    notifier.notify_alert(alert(0), None)
    deliver_all(notifier)
    assert [c.status for c in slack.calls] == [503, 503, 200]
    assert len(slack.parents()) == 1
    assert ledger.outbox("pending") == [] and len(ledger.outbox("sent")) == 1


def test_nothing_is_lost_while_slack_is_down(tmp_path):
    path = tmp_path / "actions.db"
    down = Ledger(path)
    notifier = notifier_for(f"http://127.0.0.1:{free_port()}/api/", down)  # nobody listens
    for n in range(3):
        notifier.notify_alert(alert(n), None)
    assert notifier.deliver() is not None  # to be retried
    assert [m["error"] for m in down.outbox("pending")][0].startswith("network error")
    down.close()

    back = Ledger(path)  # the next run, Slack back up
    try:
        with SlackServer() as slack:
            deliver_all(notifier_for(slack.base_url, back))
            assert len(slack.parents()) == 1
            parent = slack.parents()[0]
            assert parent["blocks"][-1]["elements"][0]["text"].startswith("3 alerts")
        assert back.outbox("pending") == []
    finally:
        back.close()


def test_routes_by_team_and_severity():
    router = ChannelRouter(
        "#soc",
        [
            SlackRoute("#pay-critical", team="payments", min_severity="critical"),
            SlackRoute("#pay", team="payments"),
        ],
        min_severity="high",
    )
    payments = alert(0) | {"team": "payments"}
    assert router.channel(payments | {"risk": 0.7}) is None  # medium: below the minimum
    assert router.channel(payments | {"risk": 0.85}) == "#pay"
    assert router.channel(payments | {"risk": 0.95, "decision": "revoke"}) == "#pay-critical"
    assert router.channel(alert(0) | {"risk": 0.85}) == "#soc"


def test_text_from_the_log_cannot_ping_a_channel_or_hide_a_link(slack, ledger):
    """Paths, user agents and names come from the audit log, which an attacker may write."""
    hostile = alert(1)
    hostile["resource"] = "secret/data/<!channel>/<https://evil.example|click here>"
    hostile["user_agent"] = "curl <!here> & co"
    hostile["reasons"] = ["read of secret/data/<!channel> is new to cart"]
    notifier = notifier_for(slack.base_url, ledger)
    notifier.notify_alert(hostile, None, None)
    deliver_all(notifier)
    (message,) = slack.parents()
    posted = json.dumps(message)
    for control in ("<!channel>", "<!here>", "<https://evil.example|click here>"):
        assert control not in posted
    assert "secret/data/&lt;!channel&gt;/&lt;https://evil.example|click here&gt;" in posted
    assert "curl &lt;!here&gt; &amp; co" in posted


def test_a_thread_keeps_its_order_through_429s_and_5xxs(slack, ledger):
    """Slack answers errors for a while: every reply of a thread still arrives, once, in
    the order the outcomes happened."""
    from detector.actions.ledger import ActionRow

    notifier = notifier_for(slack.base_url, ledger)
    first = alert(0, risk=0.95, decision="revoke") | {"credential": "acc-cart-1"}
    notifier.notify_alert(first, None)
    deliver_all(notifier)
    slack.fail(3, status=503)
    slack.fail(2, status=429, retry_after=0.2)
    slack.fail(3, status=500)
    statuses = ["queued", "escalated", "approved", "revoked"]
    for status in statuses:
        row = ActionRow(
            action_id="act-1",
            kind="revoke-token",
            credential="acc-cart-1",
            event_id=first["event_id"],
            identity="ent-cart",
            status=status,
            identity_name="approle",
            service="cart",
            team="shop",
            risk=0.95,
            decision="revoke",
            decided_by="auto",
        )
        notifier.notify_outcome(first, row)
    deliver_all(notifier, timeout=60)
    (parent,) = slack.parents()
    replies = slack.replies(parent["ts"])
    assert len(replies) == len(statuses)  # nothing lost, nothing twice
    texts = [reply["text"] for reply in replies]
    said = ["queued", "not revoked automatically", "approved", "revoked `"]
    assert [marker in text.lower() for marker, text in zip(said, texts, strict=True)] == [
        True
    ] * len(said), texts
    assert any(call.status >= 500 for call in slack.calls)
    assert any(call.status == 429 for call in slack.calls)
