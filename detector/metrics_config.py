"""The ``[metrics]`` table of a pipeline file.

```toml
[metrics]
enabled = true
listen = "127.0.0.1:9464"   # where GET /metrics answers (0.0.0.0:9464 for every interface)
```

The local runtime serves metrics while following (``detector run --follow``); the
streaming worker always does when this is on.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["MetricsSection", "parse_listen", "start_metrics"]


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` -> ``("127.0.0.1", 9464)``; ``"[::1]:9464"`` for IPv6.

    >>> parse_listen("0.0.0.0:9100")
    ('0.0.0.0', 9100)
    """
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"not host:port: {listen!r}")
    return host.strip("[]"), int(port)


class MetricsSection(msgspec.Struct, forbid_unknown_fields=True):
    """Whether and where a running detector answers Prometheus' scrapes."""

    enabled: bool = False
    listen: str = "127.0.0.1:9464"

    def __post_init__(self) -> None:
        # Not at module level: detector.config imports this module while it initialises.
        from detector.config.loading import invalid

        try:
            parse_listen(self.listen)
        except ValueError as exc:
            raise invalid("listen", str(exc)) from None


def start_metrics(config: Any) -> tuple[Any, str] | None:
    """The metrics a pipeline file turns on, served, and their address; ``None``: off.

    Raises
    ------
    ConfigError
        ``metrics.listen`` cannot be bound.
    """
    if not config.metrics.enabled:
        return None
    from detector.errors import ConfigError
    from detector.metrics import Metrics

    metrics = Metrics(config.name)
    try:
        host, port = metrics.serve(*parse_listen(config.metrics.listen))
    except OSError as exc:
        raise ConfigError(
            str(config.path),
            "metrics.listen",
            f"cannot listen on {config.metrics.listen} ({exc.strerror})",
        ) from None
    return metrics, f"http://{host}:{port}/metrics"
