"""Reading TOML into typed structs, with errors that name the file, the key and the fault."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import msgspec

from detector.errors import ConfigError

__all__ = ["decode_file", "invalid", "parse_duration", "resolve"]

T = TypeVar("T")

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_AT = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)
_FIELD = re.compile(r"^`([^`]+)`: (.*)$", re.DOTALL)


def parse_duration(value: float | int | str) -> float:
    """Seconds from a number of seconds or a string like ``"90s"``, ``"5m"``, ``"14d"``.

    >>> parse_duration("14d"), parse_duration(30), parse_duration("1.5h")
    (1209600.0, 30.0, 5400.0)
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return float(value)
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"not a duration: {value!r} (use seconds or 90s, 5m, 2h, 14d, 1w)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def invalid(key: str, problem: str) -> ValueError:
    """The error a section's ``__post_init__`` raises for one of its keys: the loader
    names the key under the section's path (``source.reorder_window``), not the section."""
    return ValueError(f"`{key}`: {problem}")


def decode_file(path: Path, type_: type[T]) -> T:
    """Decode a TOML file into ``type_``; any fault becomes a :class:`ConfigError`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the file: {exc.strerror}") from None
    try:
        return msgspec.toml.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        raise _config_error(path, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text (byte {exc.start})") from None


def _config_error(path: Path, message: str) -> ConfigError:
    """``Expected `int`, got `str` - at `$.scoring.alert``` -> file, key, problem."""
    match = _AT.match(message)
    problem, where = match.groups() if match else (message, "")  # no path: the top level
    key = where.lstrip(".")
    field = _FIELD.match(problem)
    if field:
        key = f"{key}.{field.group(1)}" if key else field.group(1)
        problem = field.group(2)
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", problem)
    if unknown:
        key = f"{key}.{unknown.group(1)}" if key else unknown.group(1)
        problem = "unknown key"
    missing = re.fullmatch(r"Object missing required field `(.+)`", problem)
    if missing:
        key = f"{key}.{missing.group(1)}" if key else missing.group(1)
        problem = "required key missing"
    return ConfigError(str(path), key, problem)


def resolve(base: Path, value: str) -> Path:
    """A path from a config file, relative to that file's directory."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base.parent / path)
