"""The daily review: one self-contained HTML page for people who will not open a notebook.

What the detector saw and decided in a window (by default the last 24 hours of the data):
the counts, pipeline-health alerts, revocations, the incidents worst first with their
reasons, the identities with most alerts, and three plots. Plots are PNGs inlined as
base64 and the style sheet is inline: the file can be mailed or archived and opened
anywhere, with no network.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from detector.event import format_time
from detector.incidents import Incident, IncidentGrouper
from detector.store import StoreReader

__all__ = ["DailyReview", "daily_review"]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em;
       color: #1d2327; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; font-size: 1.25em; }
.window { color: #59636e; }
.counts { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1.2em 0; }
.count { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6em 1em; min-width: 8em; }
.count b { display: block; font-size: 1.6em; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; }
th, td { text-align: left; padding: 0.35em 0.6em; border-bottom: 1px solid #e5e8eb;
         vertical-align: top; }
th { background: #f6f8fa; }
.revoke { color: #b42318; font-weight: 600; } .alert { color: #9a6700; font-weight: 600; }
ul.reasons { margin: 0.2em 0 0 1.2em; padding: 0; color: #3d444d; }
figure { margin: 1em 0; } img { max-width: 100%; }
.empty { color: #59636e; font-style: italic; }
"""


@dataclass
class DailyReview:
    """The review's HTML and the numbers it shows (what a test or a mail subject needs)."""

    html: str
    since: pd.Timestamp | None
    until: pd.Timestamp | None
    counts: dict[str, int]


def daily_review(
    reader: StoreReader,
    since: str | float | None = "24h",
    until: str | float | None = None,
    thresholds: tuple[float, float] | None = None,
    title: str = "Secret access: daily review",
    incidents: int = 40,
) -> DailyReview:
    """Build the review of ``reader``'s store between ``since`` and ``until``.

    ``thresholds`` (alert, revoke) are drawn on the risk plot when known.
    """
    alerts = reader.alerts(since=since, until=until)
    events = reader.events(since=since, until=until, min_risk=0.0)
    actions = reader.actions(since=since, until=until)
    identities = reader.identities(since=since, until=until)
    start = pd.Timestamp(reader.seconds(since), unit="s", tz="UTC") if since else None
    if start is None and not events.empty:
        start = events["time"].min()
    end = pd.Timestamp(reader.seconds(until), unit="s", tz="UTC") if until else None
    if end is None:
        last = reader.end()
        end = pd.Timestamp(last, unit="s", tz="UTC") if last is not None else None
    health = alerts[alerts["source"] == "pipeline"]
    decided = alerts[alerts["source"] != "pipeline"]
    grouped = _incidents(decided)
    counts = {
        "events": int(round(events["weight"].sum())) if not events.empty else 0,
        "alerts": int((decided["decision"] == "alert").sum()),
        "revoke decisions": int((decided["decision"] == "revoke").sum()),
        "incidents": len(grouped),
        "identities alerted": int(decided["identity"].nunique()),
        "health alerts": len(health),
    }
    pipeline = reader.query("SELECT value FROM meta WHERE key = 'pipeline'")
    name = pipeline["value"].iloc[0] if not pipeline.empty else ""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="window">{_e(name)} · {_window(start, end)} (event time, UTC) · '
        f"generated {_e(format_time(time.time()))}</p>",
        '<div class="counts">',
        *(f'<div class="count"><b>{v:,}</b>{_e(k)}</div>' for k, v in counts.items()),
        "</div>",
        "<h2>Pipeline health</h2>",
        _health(health),
        "<h2>Revocations</h2>",
        _actions(actions),
        f"<h2>Incidents, worst first ({min(len(grouped), incidents)} of {len(grouped)})</h2>",
        _incident_table(grouped[:incidents]),
        "<h2>Over the window</h2>",
        _figure(_alerts_per_hour(decided, start, end), "Alerts and revoke decisions per hour"),
        _figure(_risk_distribution(events, thresholds), "Risk of the events scored"),
        "<h2>Identities with most alerts</h2>",
        _figure(_top_identities(identities), "Identities by alerts"),
        _identity_table(identities),
        "</body></html>",
    ]
    return DailyReview("\n".join(parts), start, end, counts)


# -- sections ---------------------------------------------------------------------------


def _incidents(alerts: pd.DataFrame) -> list[Incident]:
    grouper = IncidentGrouper()
    for record, when in zip(alerts["record"], alerts["time"], strict=True):
        grouper.add(record, when.timestamp())
    return sorted(grouper.incidents, key=lambda i: (-i.worst["risk"], i.first_time))


def _health(health: pd.DataFrame) -> str:
    if health.empty:
        return (
            '<p class="empty">No pipeline-health alert: sources reporting, dead letters usual.</p>'
        )
    rows = [
        (_e(_when(row.time)), _e(row.action.removeprefix("health:")), _e(row.reasons[0]))
        for row in health.itertuples()
    ]
    return _table(("time", "check", "what"), rows)


def _actions(actions: pd.DataFrame) -> str:
    """One row per credential: an incident's requests each decide to revoke it again."""
    if actions.empty:
        return '<p class="empty">No revoke decision.</p>'
    rows = []
    for credential, group in actions.groupby(actions["credential"].fillna("-"), sort=False):
        first = group.iloc[0]
        detail = first.detail or {}
        statuses = ", ".join(sorted(set(group["status"])))
        rows.append(
            (
                _e(_when(first.time)),
                _e(detail.get("service") or first.identity),
                f"<code>{_e(credential[:12])}</code>",
                f"{len(group):,}",
                f"{group['risk'].max():.2f}",
                _e(statuses),
                "yes" if first.auto_revoke else "no: alert only",
            )
        )
    return _table(
        ("first", "identity", "credential", "decisions", "max risk", "status", "auto-revoke"),
        rows,
    )


def _incident_table(incidents: Sequence[Incident]) -> str:
    if not incidents:
        return '<p class="empty">No alert in this window.</p>'
    rows = []
    for incident in incidents:
        worst = incident.worst
        where = worst.get("client_ip") or "-"
        if worst.get("geo"):
            where += f" ({worst['geo']})"
        reasons = "".join(f"<li>{_e(r)}</li>" for r in incident.reasons[:4])
        span = max((incident.last_time - incident.first_time) / 60, 0)
        rows.append(
            (
                _e(format_time(incident.first_time)[:16].replace("T", " ")),
                f'<span class="{incident.decision}">{incident.decision}</span> {worst["risk"]:.2f}',
                _e(worst.get("identity_name") or worst["identity"])
                + (f"<br><small>{_e(worst['service'])}</small>" if worst.get("service") else ""),
                f"{_e(worst['action'])} <code>{_e(worst['resource'])}</code><br>"
                f"<small>from {_e(where)}</small>"
                f'<ul class="reasons">{reasons}</ul>',
                f"{len(incident.alerts)}" + (f" in {span:.0f} min" if span >= 1 else ""),
            )
        )
    return _table(("first", "decision, risk", "identity", "what and why", "alerts"), rows)


def _identity_table(identities: pd.DataFrame, top: int = 15) -> str:
    shown = identities[identities["alerts"] > 0].head(top)
    if shown.empty:
        return ""
    rows = [
        (
            _e(row.identity_name or row.identity),
            _e(row.service or "-"),
            f"{row.events:,.0f}",
            f"{row.alerts:,}",
            f"{row.revokes:,}",
            f"{row.max_risk:.2f}",
        )
        for row in shown.itertuples()
    ]
    return _table(("identity", "service", "events", "alerts", "revoke", "max risk"), rows)


# -- plots ------------------------------------------------------------------------------


def _alerts_per_hour(
    alerts: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> Figure:
    figure = Figure(figsize=(9, 2.8), layout="constrained")
    axes = figure.subplots()
    if start is not None and end is not None:
        hours = pd.date_range(start.floor("h"), end.floor("h"), freq="h")
        bottom = np.zeros(len(hours))
        for decision, color in (("alert", "#d4a72c"), ("revoke", "#cf222e")):
            times = alerts.loc[alerts["decision"] == decision, "time"].dt.floor("h")
            counts = times.value_counts().reindex(hours, fill_value=0).to_numpy()
            axes.bar(hours, counts, width=1 / 26, bottom=bottom, color=color, label=decision)
            bottom = bottom + counts
        axes.legend(loc="upper left", frameon=False)
    axes.set_ylabel("per hour")
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _risk_distribution(events: pd.DataFrame, thresholds: tuple[float, float] | None) -> Figure:
    figure = Figure(figsize=(9, 2.8), layout="constrained")
    axes = figure.subplots()
    risky = events[events["risk"] > 0]
    if not risky.empty:
        axes.hist(
            risky["risk"], bins=np.linspace(0, 1, 41), weights=risky["weight"], color="#57606a"
        )
    axes.set_yscale("log")
    axes.set_xlabel(f"risk ({len(events) - len(risky):,} events at 0 not shown)")
    axes.set_ylabel("events")
    for threshold, label in zip(thresholds or (), ("alert", "revoke"), strict=False):
        axes.axvline(threshold, color="#cf222e" if label == "revoke" else "#d4a72c", ls="--")
        axes.text(threshold, 0.98, f" {label}", transform=axes.get_xaxis_transform(), va="top")
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _top_identities(identities: pd.DataFrame, top: int = 10) -> Figure:
    shown = identities[identities["alerts"] > 0].head(top).iloc[::-1]
    figure = Figure(figsize=(9, 0.4 * max(len(shown), 2) + 0.8), layout="constrained")
    axes = figure.subplots()
    labels = [(n or i)[:40] for n, i in zip(shown["identity_name"], shown["identity"], strict=True)]
    axes.barh(labels, shown["alerts"] - shown["revokes"], color="#d4a72c", label="alert")
    axes.barh(
        labels,
        shown["revokes"],
        left=shown["alerts"] - shown["revokes"],
        color="#cf222e",
        label="revoke",
    )
    axes.set_xlabel("alerts")
    if len(shown):
        axes.legend(loc="lower right", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


# -- HTML -------------------------------------------------------------------------------


def _figure(figure: Figure, caption: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%d %H:%M")


def _window(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    if start is None or end is None:
        return "no events"
    return f"{_when(start)} to {_when(end)}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
