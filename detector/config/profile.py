"""Model profiles (``models/*.toml``): which detectors run, their parameters and weights,
the thresholds and the learning period."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import msgspec

from detector.config.loading import decode_file, invalid, parse_duration
from detector.detectors import DETECTORS
from detector.errors import ConfigError
from detector.model import RiskModel
from detector.scoring import Learning, Scorer
from detector.state import IdentityStore

__all__ = ["ModelProfile", "build_model", "load_profile"]


class _Section(msgspec.Struct, forbid_unknown_fields=True):
    def _duration(self, name: str) -> None:
        try:
            setattr(self, name, parse_duration(getattr(self, name)))
        except ValueError as exc:
            raise invalid(name, str(exc)) from None

    def _probability(self, name: str) -> None:
        if not 0.0 <= getattr(self, name) <= 1.0:
            raise invalid(name, f"must be between 0 and 1, not {getattr(self, name)}")


class ScoringSection(_Section):
    alert: float = 0.6
    revoke: float = 0.9
    alert_budget_per_day: float = 0.0
    reason_floor: float = 0.05
    escalation_window: float | str = "15m"
    escalation_floor: float = 0.35
    escalation_weight: float = 0.5

    def __post_init__(self) -> None:
        self._duration("escalation_window")
        for name in ("alert", "revoke", "reason_floor", "escalation_floor", "escalation_weight"):
            self._probability(name)
        if self.alert > self.revoke:
            raise invalid("alert", f"{self.alert} must not exceed revoke ({self.revoke})")
        if self.alert_budget_per_day < 0:
            raise invalid("alert_budget_per_day", "cannot be negative")


class LearningSection(_Section):
    min_events: int = 30
    min_age: float | str = "1d"
    damping: float = 0.3

    def __post_init__(self) -> None:
        self._duration("min_age")
        self._probability("damping")
        if self.min_events < 0:
            raise invalid("min_events", "cannot be negative")


class StateSection(_Section):
    idle_ttl: float | str = "30d"
    max_identities: int = 1_000_000

    def __post_init__(self) -> None:
        self._duration("idle_ttl")
        if self.max_identities < 1:
            raise invalid("max_identities", "must be at least 1")


class ModelProfile(msgspec.Struct, forbid_unknown_fields=True):
    """A model profile as written in its TOML file (validated, durations in seconds)."""

    name: str
    description: str = ""
    scoring: ScoringSection = msgspec.field(default_factory=ScoringSection)
    learning: LearningSection = msgspec.field(default_factory=LearningSection)
    state: StateSection = msgspec.field(default_factory=StateSection)
    detectors: dict[str, dict[str, Any]] = {}
    path: str = ""


def load_profile(path: Path) -> ModelProfile:
    """Read and validate a model profile; raises :class:`ConfigError` naming the key."""
    profile = decode_file(path, ModelProfile)
    profile.path = str(path)
    for name, table in profile.detectors.items():
        _check_detector(path, name, table)
    return profile


def _check_detector(path: Path, name: str, table: dict[str, Any]) -> None:
    if name not in DETECTORS:
        raise ConfigError(
            str(path), f"detectors.{name}", f"unknown detector; known: {', '.join(DETECTORS)}"
        )
    params = inspect.signature(DETECTORS[name]).parameters
    for key, value in table.items():
        where = f"detectors.{name}.{key}"
        if key == "enabled":
            if not isinstance(value, bool):
                raise ConfigError(str(path), where, "must be true or false")
        elif key == "weight":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(str(path), where, "must be a number between 0 and 1")
        elif key not in params:
            allowed = ", ".join(["enabled", "weight", *params])
            raise ConfigError(str(path), where, f"unknown key; allowed: {allowed}")
        else:
            table[key] = _coerce(path, where, value, params[key].default)


def _coerce(path: Path, where: str, value: Any, default: Any) -> Any:
    """Check a detector parameter against the type of its default (durations allowed)."""
    if isinstance(default, float):
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise ConfigError(str(path), where, str(exc)) from None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value < 0:
                raise ConfigError(str(path), where, f"cannot be negative: {value}")
            return float(value)
        raise ConfigError(str(path), where, f"expected a number, got {type(value).__name__}")
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ConfigError(str(path), where, f"cannot be negative: {value}")
            return value
        raise ConfigError(str(path), where, f"expected an integer, got {type(value).__name__}")
    return value


def build_model(
    profile: ModelProfile, overrides: dict[str, float] | None = None, partitions: int = 1
) -> RiskModel:
    """The detectors, scorer and identity store a profile describes.

    ``overrides`` may set ``alert``, ``revoke`` and ``alert_budget_per_day`` (a pipeline
    file's thresholds).
    """
    scoring = {
        "alert": profile.scoring.alert,
        "revoke": profile.scoring.revoke,
        "alert_budget_per_day": profile.scoring.alert_budget_per_day,
        **{k: v for k, v in (overrides or {}).items() if v is not None},
    }
    detectors, weights = [], {}
    for name, cls in DETECTORS.items():
        table = dict(profile.detectors.get(name, {}))
        if not table.pop("enabled", True):
            continue
        weights[name] = float(table.pop("weight", 1.0))
        detectors.append(cls(**table))
    scorer = Scorer(
        weights=weights,
        alert=scoring["alert"],
        revoke=scoring["revoke"],
        learning=Learning(
            min_events=profile.learning.min_events,
            min_age=profile.learning.min_age,
            damping=profile.learning.damping,
        ),
        reason_floor=profile.scoring.reason_floor,
        alert_budget=scoring["alert_budget_per_day"] or None,
        escalation=(
            profile.scoring.escalation_window,
            profile.scoring.escalation_floor,
            profile.scoring.escalation_weight,
        )
        if profile.scoring.escalation_weight > 0
        else None,
    )
    store = IdentityStore(profile.state.idle_ttl, profile.state.max_identities)
    return RiskModel(detectors, scorer, store, partitions)
