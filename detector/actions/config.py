"""The ``[actions]``, ``[vault]`` and ``[slack]`` tables of a pipeline file.

Everything that decides whether the detector may act on production is here, so it can be
read and reviewed in one file; secrets are not (the Vault token and the Slack bot token
and signing secret come from the environment or files of their own, see
:mod:`detector.actions.credentials`). Durations are seconds or ``90s``, ``5m``, ``2h``,
``14d``, ``1w``; a bad value is rejected at start with the file and the key.
"""

from __future__ import annotations

import msgspec

__all__ = ["SEVERITIES", "ActionsSection", "SlackRoute", "SlackSection", "VaultSection"]

#: Alert severities, least to most severe (see :func:`detector.actions.slack_messages.severity`).
SEVERITIES = ("medium", "high", "critical")


def invalid(key: str, problem: str) -> ValueError:
    """:func:`detector.config.loading.invalid`, imported when needed: ``detector.config``
    imports this module, so importing it here at the top would be circular."""
    from detector.config.loading import invalid

    return invalid(key, problem)


def _durations(section: msgspec.Struct, names: tuple[str, ...]) -> None:
    from detector.config.loading import parse_duration

    for name in names:
        try:
            setattr(section, name, parse_duration(getattr(section, name)))
        except ValueError as exc:
            raise invalid(name, str(exc)) from None


class ActionsSection(msgspec.Struct, forbid_unknown_fields=True):
    """``[actions]``: whether and how the detector revokes credentials.

    ``dry_run`` is on by default: turning actions on first records what *would* be done,
    and only an explicit ``dry_run = false`` lets the detector touch production.
    """

    enabled: bool = False
    dry_run: bool = True
    ledger: str = ""  # default: <outputs.dir>/actions.db
    never_revoke_policies: list[str] = msgspec.field(default_factory=lambda: ["root"])
    never_revoke_identities: list[str] = []
    storm_window: float | str = "10m"
    storm_limit: int = 5
    storm_limit_per_service: int = 3
    max_event_age: float | str = "15m"
    retry_initial: float | str = "2s"
    retry_max: float | str = "5m"
    benign_for: float | str = "7d"
    snooze_for: float | str = "1h"
    shutdown_grace: float | str = "10s"

    def __post_init__(self) -> None:
        _durations(
            self,
            (
                "storm_window",
                "max_event_age",
                "retry_initial",
                "retry_max",
                "benign_for",
                "snooze_for",
                "shutdown_grace",
            ),
        )
        for name in ("storm_limit", "storm_limit_per_service"):
            if getattr(self, name) < 0:
                raise invalid(name, f"must be 0 or more, not {getattr(self, name)}")
        if self.retry_initial <= 0:
            raise invalid("retry_initial", "must be more than 0")
        if self.retry_max < self.retry_initial:
            raise invalid("retry_max", "must not be shorter than retry_initial")


class VaultSection(msgspec.Struct, forbid_unknown_fields=True):
    """``[vault]``: where the detector revokes. The token is never here: ``VAULT_TOKEN``,
    else ``token_file``. Empty settings fall back to ``VAULT_ADDR``, ``VAULT_NAMESPACE``
    and ``VAULT_CACERT`` (or their ``BAO_`` names)."""

    enabled: bool = False
    address: str = ""
    namespace: str = ""
    ca_cert: str = ""
    token_file: str = ""
    timeout: float | str = "5s"

    def __post_init__(self) -> None:
        _durations(self, ("timeout",))
        if self.timeout <= 0:
            raise invalid("timeout", "must be more than 0")


class SlackRoute(msgspec.Struct, forbid_unknown_fields=True):
    """One ``[[slack.routes]]`` entry: alerts of ``team`` (``*``: any) at ``min_severity``
    or above go to ``channel``. The first matching route wins."""

    channel: str
    team: str = "*"
    min_severity: str = "medium"

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITIES:
            raise invalid(
                "min_severity", f"must be one of {', '.join(SEVERITIES)}, not {self.min_severity!r}"
            )
        if not self.channel.strip():
            raise invalid("channel", "must not be empty")


class SlackSection(msgspec.Struct, forbid_unknown_fields=True):
    """``[slack]``: alerts as Block Kit messages, one thread per identity's incident, and
    the interactive buttons. The bot token and signing secret are never here:
    ``SLACK_BOT_TOKEN`` / ``SLACK_SIGNING_SECRET``, else the ``*_file`` settings."""

    enabled: bool = False
    channel: str = ""
    routes: list[SlackRoute] = []
    min_severity: str = "medium"
    approvers: list[str] = []
    thread_window: float | str = "30m"
    pace: float | str = "1s"
    timeout: float | str = "10s"
    base_url: str = ""
    bot_token_file: str = ""
    signing_secret_file: str = ""
    listen: str = "127.0.0.1:3000"

    def __post_init__(self) -> None:
        _durations(self, ("thread_window", "pace", "timeout"))
        if self.enabled and not self.channel.strip():
            raise invalid("channel", "required when slack is enabled (the default channel)")
        if self.min_severity not in SEVERITIES:
            raise invalid(
                "min_severity", f"must be one of {', '.join(SEVERITIES)}, not {self.min_severity!r}"
            )
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit():
            raise invalid("listen", f"not HOST:PORT: {self.listen!r}")
