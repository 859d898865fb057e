"""Block Kit messages for the SOC: what the analyst reads at 3 a.m., and the buttons.

An incident's parent message answers, in this order: how bad (a severity header), who
(identity, service, team), what (operation, secret), from where (address, place, network),
when (UTC, and the identity's usual hours), why (risk and the top reasons, as the
detectors wrote them), and what was done (revoked and its blast radius, or why not).
Alerts that were not revoked automatically carry *Revoke* (danger style, with a confirm
dialog), *Benign* and *Snooze* buttons; the ``value`` of each names what it acts on.

Functions here build dicts and strings only; :mod:`detector.actions.slack_notifier` sends
them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "BENIGN",
    "action_summary",
    "REVOKE",
    "SNOOZE",
    "alert_message",
    "clicked_message",
    "outcome_message",
    "severity",
]

#: ``action_id`` of each button (what the interactions server dispatches on).
REVOKE, BENIGN, SNOOZE = "detector.revoke", "detector.benign", "detector.snooze"

_ICONS = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
}
_MAX_REASONS = 6
_MAX_TEXT = 2900  # Block Kit allows 3000 characters in a section's text


def severity(alert: dict[str, Any]) -> str:
    """``critical`` for a revoke decision, ``high`` from risk 0.8, else ``medium``."""
    if alert.get("decision") == "revoke":
        return "critical"
    return "high" if (alert.get("risk") or 0.0) >= 0.8 else "medium"


#: what a parent message's header says of its credential's action, by ledger status
_STATUS_HEADLINES = {
    "revoked": "Credential revoked",
    "queued": "Revoking credential (Vault unreachable, retrying)",
    "in-flight": "Revoking credential (Vault unreachable, retrying)",
    "dry-run": "Would revoke (dry run)",
    "escalated": "Revoke? Approval needed",
    "failed": "Revocation FAILED",
    "protected": "Revoke decision, never-revoke list",
    "gone": "Revoke decision, credential already gone",
    "benign": "Alert marked benign",
}


def _headline(alert: dict[str, Any], action: dict[str, Any] | None) -> str:
    status = action["status"] if action else None
    risk = f"risk {alert.get('risk', 0.0):.2f}"
    who = alert.get("service") or alert.get("identity_name") or alert.get("identity")
    what = _STATUS_HEADLINES.get(status) or (
        "Revoke decision" if alert.get("decision") == "revoke" else "Alert"
    )
    icon = _ICONS[severity(alert)]
    return f"{icon} {what} · {who} · {risk}"[:150]


def _when(alert: dict[str, Any], usual_hours: str | None) -> str:
    time = alert.get("time") or ""
    try:
        moment = datetime.fromisoformat(time.replace("Z", "+00:00")).astimezone(UTC)
        shown = moment.strftime("%Y-%m-%d %H:%M:%S UTC (%a)")
    except ValueError:
        shown = time
    return f"*When*\n{shown}\n{usual_hours or 'usual hours not known'}"


def _who(alert: dict[str, Any]) -> str:
    name = alert.get("identity_name") or alert.get("identity")
    lines = [f"*Who*\n{name}"]
    if alert.get("identity") and alert.get("identity") != name:
        lines.append(f"entity `{alert['identity']}`")
    service = alert.get("service")
    if service:
        team = alert.get("team")
        lines.append(f"service {service}" + (f" · team {team}" if team else ""))
    else:
        lines.append("no service in the inventory")
    if alert.get("credential"):
        lines.append(f"credential `{alert['credential'][:8]}…`")
    return "\n".join(lines)


def _what(alert: dict[str, Any]) -> str:
    sensitivity = alert.get("sensitivity")
    detail = f" ({sensitivity})" if sensitivity else ""
    return (
        f"*What*\n{alert.get('action', '?')} `{alert.get('resource', '?')}`{detail}\n"
        f"outcome {alert.get('outcome', '?')}"
    )


def _where(alert: dict[str, Any]) -> str:
    lines = [f"*From where*\n{alert.get('client_ip') or 'no address'}"]
    if alert.get("geo"):
        lines.append(str(alert["geo"]))
    if alert.get("user_agent"):
        lines.append(f"client `{alert['user_agent'][:60]}`")
    return "\n".join(lines)


def _why(alert: dict[str, Any]) -> str:
    # A finding's reason may hold several clauses ("; "): one bullet each, strongest first.
    reasons = list(dict.fromkeys(c for r in alert.get("reasons") or [] for c in str(r).split("; ")))
    shown = [f"• {r}" for r in reasons[:_MAX_REASONS]]
    if len(reasons) > _MAX_REASONS:
        shown.append(f"• … and {len(reasons) - _MAX_REASONS} more")
    text = f"*Why* — risk {alert.get('risk', 0.0):.2f}, decision {alert.get('decision')}\n"
    return (text + "\n".join(shown))[:_MAX_TEXT]


def action_summary(action: dict[str, Any] | None, alert: dict[str, Any]) -> str | None:
    """What was done with the alert's credential, in one mrkdwn sentence (or ``None``)."""
    if action is None:
        if alert.get("decision") == "revoke" and not alert.get("credential"):
            return "*Not revoked:* the event names no credential the detector can revoke."
        return None
    status, credential = action["status"], f"`{action['credential'][:8]}…`"
    radius = action.get("blast_radius") or {}
    cut = _radius(radius)
    by = action.get("decided_by") or "auto"
    who = "automatically" if by == "auto" else f"by <@{by.removeprefix('slack:')}>"
    if status == "revoked":
        return f"*Revoked* {credential} {who}.{cut}"
    if status == "dry-run":
        return f"*Dry run:* would have revoked {credential}.{cut}"
    if status in ("queued", "in-flight"):
        return (
            f"*Revocation of {credential} queued* ({action.get('result') or 'Vault unavailable'});"
            f" retried until Vault answers.{cut}"
        )
    if status == "escalated":
        return f"*Not revoked automatically:* {action.get('guard')}. An approver decides.{cut}"
    if status == "protected":
        return f"*Never revoked:* {action.get('guard')}."
    if status == "failed":
        return f"*Revocation of {credential} FAILED:* {action.get('result')}"
    if status == "gone":
        return f"*Nothing to revoke:* Vault no longer knows {credential} (expired or revoked)."
    if status == "benign":
        return f"*Marked benign* {who}."
    return None


def _radius(radius: dict[str, Any]) -> str:
    if not radius:
        return ""
    parts = [radius.get("display_name") or "token"]
    if radius.get("policies"):
        parts.append("policies " + ", ".join(radius["policies"]))
    if radius.get("ttl") is not None:
        ttl = int(radius["ttl"])
        parts.append(f"TTL {ttl // 3600} h {ttl % 3600 // 60} min" if ttl else "no TTL")
    if radius.get("entity_id"):
        parts.append(f"entity {radius['entity_id'][:8]}…")
    if radius.get("orphan") is False:
        parts.append("its child tokens with it")
    return "\nBlast radius: " + " · ".join(parts)


def _buttons(
    alert: dict[str, Any], action: dict[str, Any] | None, snooze_for: str
) -> dict[str, Any]:
    pattern = {
        "identity": alert.get("identity"),
        "detectors": sorted(alert.get("detectors") or {}),
        "alert_id": alert.get("alert_id"),
        "time": alert.get("epoch"),
        "action_id": action["action_id"] if action else None,
    }
    elements: list[dict[str, Any]] = []
    if action is not None and action["status"] in ("offered", "escalated"):
        elements.append(
            {
                "type": "button",
                "action_id": REVOKE,
                "style": "danger",
                "text": {"type": "plain_text", "text": "Revoke"},
                "value": action["action_id"],
                "confirm": {
                    "title": {"type": "plain_text", "text": "Revoke this credential?"},
                    "text": {
                        "type": "mrkdwn",
                        "text": f"Vault revokes `{action['credential'][:8]}…` of "
                        f"{_escaped(alert.get('identity_name') or alert.get('identity'))} and "
                        "its child "
                        "tokens. The service must log in again.",
                    },
                    "confirm": {"type": "plain_text", "text": "Revoke"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                    "style": "danger",
                },
            }
        )
    elements.append(
        {
            "type": "button",
            "action_id": BENIGN,
            "text": {"type": "plain_text", "text": "Benign"},
            "value": json.dumps(pattern, separators=(",", ":")),
        }
    )
    elements.append(
        {
            "type": "button",
            "action_id": SNOOZE,
            "text": {"type": "plain_text", "text": f"Snooze {snooze_for}"},
            "value": json.dumps(pattern, separators=(",", ":")),
        }
    )
    return {"type": "actions", "block_id": "detector.buttons", "elements": elements}


def alert_message(
    summary: dict[str, Any], action: dict[str, Any] | None, snooze_for: str = "1 h"
) -> tuple[str, list[dict[str, Any]]]:
    """The parent message of an incident: its worst alert, counts, outcome and buttons.

    ``summary`` is the thread's summary (``alert``, ``count``, ``resources``,
    ``usual_hours``); ``action`` the ledger row of the alert's credential, as a dict.
    Returns the notification text (what phones show) and the blocks.
    """
    original, alert = summary["alert"], _escaped(summary["alert"])
    headline = _headline(original, action)  # plain text: shown as it is
    shown_action = _escaped(action)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline, "emoji": True}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _who(alert)},
                {"type": "mrkdwn", "text": _what(alert)},
                {"type": "mrkdwn", "text": _where(alert)},
                {"type": "mrkdwn", "text": _when(alert, summary.get("usual_hours"))},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _why(alert)}},
    ]
    done = action_summary(shown_action, alert)
    if done:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": done[:_MAX_TEXT]}})
    if action is None or action["status"] not in ("revoked", "queued", "in-flight", "protected"):
        if action is None or action["status"] != "benign":
            blocks.append(_buttons(original, action, snooze_for))
    count = summary.get("count", 1)
    context = [f"alert `{alert.get('alert_id')}`", f"event `{alert.get('event_id')}`"]
    if action is not None:
        context.append(f"action `{action['action_id']}`")
    if count > 1:
        resources = ", ".join(f"`{r}`" for r in _escaped(summary.get("resources", [])[:5]))
        context.insert(
            0, f"{count} alerts of this identity since {summary.get('first')}: {resources}"
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)[:2900]}]}
    )
    return _plain(headline, alert), blocks


def outcome_message(
    alert: dict[str, Any], action: dict[str, Any], snooze_for: str = "1 h"
) -> tuple[str, list[dict[str, Any]]]:
    """A thread reply: what happened to a credential (revoked after a retry, escalated,
    failed), with the buttons when a person must decide."""
    shown = action_summary(_escaped(action), _escaped(alert))
    text = shown or f"action {action['action_id']}: {action['status']}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if action["status"] in ("offered", "escalated"):
        blocks.append(_buttons(alert, action, snooze_for))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"action `{action['action_id']}`"}],
        }
    )
    return text.replace("*", ""), blocks


def clicked_message(blocks: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    """The clicked message without its buttons, with the outcome in their place."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    kept.append({"type": "section", "text": {"type": "mrkdwn", "text": outcome[:_MAX_TEXT]}})
    return kept


def _plain(headline: str, alert: dict[str, Any]) -> str:
    for icon in _ICONS.values():
        headline = headline.replace(icon + " ", "")
    return _escaped(
        f"{headline}: {alert.get('action')} {alert.get('resource')} from {alert.get('client_ip')}"
    )


def _escaped(value: Any) -> Any:
    """Slack's control characters escaped in text that came from an audit log (a path, a
    user agent, a display name): a log line cannot ping a channel (``<!channel>``) or hide
    a link (``<https://…|text>``) in the SOC's messages."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(item) for item in value]
    return value
