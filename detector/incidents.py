"""Grouping alerts into incidents: one identity's alerts close together in time are one
story for the analyst (and, in Slack, one thread), not fifty messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Incident", "IncidentGrouper"]


@dataclass
class Incident:
    """Alerts of one identity with no gap longer than the grouping window between them."""

    identity: str
    alerts: list[dict[str, Any]] = field(default_factory=list)
    first_time: float = 0.0
    last_time: float = 0.0

    @property
    def worst(self) -> dict[str, Any]:
        return max(self.alerts, key=lambda a: a["risk"])

    @property
    def decision(self) -> str:
        return "revoke" if any(a["decision"] == "revoke" for a in self.alerts) else "alert"

    @property
    def reasons(self) -> list[str]:
        """The strongest alert's reasons, one clause each (a finding may hold several)."""
        clauses: dict[str, None] = {}
        for reason in self.worst["reasons"]:
            for clause in reason.split("; "):
                clauses.setdefault(clause, None)
        return list(clauses)

    @property
    def resources(self) -> list[str]:
        """The distinct resources the incident's alerts touched, in order."""
        return list(dict.fromkeys(alert["resource"] for alert in self.alerts))


class IncidentGrouper:
    """Assigns each alert to the open incident of its identity, or opens a new one.

    >>> grouper = IncidentGrouper(window=600)
    >>> a = {"identity": "cart", "risk": 0.7, "decision": "alert", "reasons": ["x"]}
    >>> first = grouper.add(a, 0.0); second = grouper.add(a, 300.0); third = grouper.add(a, 2000.0)
    >>> first is second, first is third
    (True, False)
    """

    def __init__(self, window: float = 1800.0) -> None:
        self.window = window
        self.incidents: list[Incident] = []
        self._open: dict[str, Incident] = {}

    def add(self, alert: dict[str, Any], time: float) -> Incident:
        identity = alert["identity"]
        incident = self._open.get(identity)
        if incident is None or time - incident.last_time > self.window:
            incident = self._open[identity] = Incident(identity, first_time=time, last_time=time)
            self.incidents.append(incident)
        incident.alerts.append(alert)
        incident.last_time = max(incident.last_time, time)
        return incident
