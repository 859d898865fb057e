"""Response: revocation through the Vault API and the SOC loop in Slack (issue #4).

The pipeline decides (``alert``, ``revoke``); this package acts, safely before cleverly:

- :mod:`~detector.actions.config` — the ``[actions]``, ``[vault]`` and ``[slack]`` tables;
- :mod:`~detector.actions.guards` — never-revoke, ``auto_revoke``, stale events, storm guard;
- :mod:`~detector.actions.ledger` — every action before and after (SQLite, WAL), the
  durable queue, the Slack outbox and the suppressions;
- :mod:`~detector.actions.vault` — lookup and revocation by accessor or lease (``hvac``);
- :mod:`~detector.actions.credentials` — the detector's own secrets, from env or files;
- :mod:`~detector.actions.slack_messages`, :mod:`~detector.actions.slack_notifier`,
  :mod:`~detector.actions.slack_interactions` — Block Kit, threads and pacing, buttons;
- :mod:`~detector.actions.suppressions` — *Benign* clicks as seen by the pipeline;
- :mod:`~detector.actions.responder` — the sink that ties them together (and the action
  request schema the streaming runtime produces).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from detector.actions.config import ActionsSection, SlackSection, VaultSection
from detector.errors import ConfigError

if TYPE_CHECKING:
    from detector.actions.responder import Responder
    from detector.actions.suppressions import Suppressions
    from detector.config import PipelineFile

__all__ = [
    "ActionsSection",
    "SlackSection",
    "VaultSection",
    "build_responder",
    "build_sink",
    "build_suppressions",
    "ledger_path",
]


def ledger_path(config: PipelineFile) -> Path:
    """``actions.ledger``, else ``<outputs.dir>/actions.db`` (relative to the pipeline file).

    The ledger is the record of what was done to production: it stays where the pipeline
    file says, whatever ``--out`` a run is given.
    """
    if config.actions.ledger:
        return config.resolve(config.actions.ledger)
    return config.resolve(config.outputs.dir) / "actions.db"


def _duration_text(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{seconds / 86400:.0f} d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"


def build_responder(
    config: PipelineFile, background: bool = True, clock: Callable[[], float] = time.time
) -> Responder:
    """The responder the pipeline file describes, with its Vault and Slack clients.

    Raises
    ------
    ConfigError
        A section is inconsistent (revoking without ``[vault]``) or a secret is missing.
    """
    from detector.actions.credentials import slack_secrets, vault_client, vault_settings
    from detector.actions.guards import Guards
    from detector.actions.ledger import Ledger
    from detector.actions.responder import Responder
    from detector.actions.slack_notifier import ChannelRouter, SlackNotifier
    from detector.actions.vault import VaultRevoker

    actions, file = config.actions, config.path
    revoker = None
    if config.vault.enabled:
        settings = vault_settings(config.vault, file, config.resolve)
        revoker = VaultRevoker(vault_client(settings))
    elif not actions.dry_run:
        raise ConfigError(
            file, "actions.dry_run", "revoking (dry_run = false) needs [vault] enabled = true"
        )
    ledger = Ledger(ledger_path(config))
    notifier = None
    if config.slack.enabled:
        from slack_sdk import WebClient

        slack = config.slack
        secrets = slack_secrets(slack, file, config.resolve)
        arguments = {"token": secrets.bot_token, "timeout": int(max(1, slack.timeout))}
        if slack.base_url:
            arguments["base_url"] = slack.base_url
        notifier = SlackNotifier(
            WebClient(**arguments),
            ledger,
            ChannelRouter(slack.channel, slack.routes, slack.min_severity),
            thread_window=float(slack.thread_window),
            pace=float(slack.pace),
            retry_initial=float(actions.retry_initial),
            retry_max=float(actions.retry_max),
            snooze_for=_duration_text(float(actions.snooze_for)),
            clock=clock,
        )
    guards = Guards(
        actions.never_revoke_policies,
        actions.never_revoke_identities,
        float(actions.storm_window),
        actions.storm_limit,
        actions.storm_limit_per_service,
        float(actions.max_event_age),
    )
    return Responder(
        ledger,
        guards,
        revoker,
        notifier,
        dry_run=actions.dry_run,
        retry_initial=float(actions.retry_initial),
        retry_max=float(actions.retry_max),
        shutdown_grace=float(actions.shutdown_grace),
        background=background,
        clock=clock,
    )


def build_sink(config: PipelineFile, out_dir: Path) -> Responder | None:
    """The responder a pipeline file asks for, or ``None`` when ``[actions]`` is off.

    ``out_dir`` is not used: the ledger's place is in the pipeline file (see
    :func:`ledger_path`).
    """
    if not config.actions.enabled:
        for section in ("vault", "slack"):
            if getattr(config, section).enabled:
                raise ConfigError(
                    config.path, f"{section}.enabled", "needs [actions] enabled = true"
                )
        return None
    return build_responder(config)


def build_suppressions(config: PipelineFile) -> Suppressions | None:
    """The pipeline's view of the *Benign* suppressions, or ``None`` without actions."""
    if not config.actions.enabled:
        return None
    from detector.actions.suppressions import Suppressions

    return Suppressions(ledger_path(config))
