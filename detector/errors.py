"""Exceptions the detector raises, in one tree::

DetectorError
├── ConfigError      a pipeline or model file is wrong (names the file and the key)
├── ParseError       a raw record cannot become an event (goes to the dead-letter sink)
└── StateError       saved model state cannot be loaded
"""

from __future__ import annotations

__all__ = ["ConfigError", "DetectorError", "ParseError", "StateError"]


class DetectorError(Exception):
    """Base of every error the detector raises on purpose."""


class ConfigError(DetectorError):
    """A configuration file is invalid: ``file: key: what is wrong``."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")


class ParseError(DetectorError):
    """A raw record is malformed or of an unknown kind; ``reason`` is short and stable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class StateError(DetectorError):
    """Saved state is unreadable or belongs to another pipeline or profile."""
