"""The detector's own secrets: its Vault token, the Slack bot token and signing secret.

They never come from a pipeline file (which is reviewed, copied and committed): each comes
from the environment, else from a file named in the pipeline file (a Vault Agent sink, a
Kubernetes secret volume). A file readable by group or others is used but reported: a
token anyone on the host can read is a token anyone on the host can use. Nothing here
logs a secret's value.

Environment: ``VAULT_TOKEN``, ``VAULT_ADDR``, ``VAULT_NAMESPACE``, ``VAULT_CACERT`` (or
their OpenBao names ``BAO_*``); ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from detector.actions.config import SlackSection, VaultSection
from detector.errors import ConfigError

__all__ = [
    "SlackSecrets",
    "VaultSettings",
    "read_secret_file",
    "slack_secrets",
    "vault_client",
    "vault_settings",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VaultSettings:
    """Where and as whom the detector talks to Vault (``token`` is kept out of ``repr``)."""

    address: str
    token: str = field(repr=False)
    namespace: str | None = None
    ca_cert: str | None = None
    timeout: float = 5.0


@dataclass(frozen=True)
class SlackSecrets:
    """The Slack app's bot token (for the Web API) and signing secret (for clicks)."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False, default="")


def read_secret_file(path: Path) -> str:
    """A secret from a file (stripped); warns when group or others may read the file."""
    try:
        mode = path.stat().st_mode
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read the secret file: {exc.strerror}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning(
            "%s is readable by %s: restrict it to its owner (chmod 600)",
            path,
            "group and others" if mode & stat.S_IROTH else "its group",
        )
    if not value:
        raise ConfigError(str(path), "", "the secret file is empty")
    return value


def _env(environ: Mapping[str, str], name: str) -> str:
    """``VAULT_X``, else OpenBao's ``BAO_X``."""
    return environ.get(f"VAULT_{name}") or environ.get(f"BAO_{name}") or ""


def vault_settings(
    section: VaultSection, file: str, resolve, environ: Mapping[str, str] | None = None
) -> VaultSettings:
    """The settings of ``[vault]`` completed from the environment.

    ``resolve`` turns a path written in the pipeline file into a path (relative to it).
    """
    environ = os.environ if environ is None else environ
    address = section.address or _env(environ, "ADDR")
    if not address:
        raise ConfigError(file, "vault.address", "no Vault address: set it here or in VAULT_ADDR")
    token = _env(environ, "TOKEN")
    if not token and section.token_file:
        token = read_secret_file(resolve(section.token_file))
    if not token:
        raise ConfigError(
            file, "vault.token_file", "no Vault token: set VAULT_TOKEN or name a token file"
        )
    ca_cert = section.ca_cert and str(resolve(section.ca_cert)) or _env(environ, "CACERT")
    return VaultSettings(
        address=address,
        token=token,
        namespace=section.namespace or _env(environ, "NAMESPACE") or None,
        ca_cert=ca_cert or None,
        timeout=float(section.timeout),
    )


def vault_client(settings: VaultSettings):
    """An ``hvac.Client`` for these settings (TLS verified with the CA bundle if given)."""
    import hvac

    return hvac.Client(
        url=settings.address,
        token=settings.token,
        namespace=settings.namespace,
        verify=settings.ca_cert if settings.ca_cert else True,
        timeout=settings.timeout,
    )


def slack_secrets(
    section: SlackSection, file: str, resolve, environ: Mapping[str, str] | None = None
) -> SlackSecrets:
    """The bot token (required) and signing secret (required by ``slack-actions`` only)."""
    environ = os.environ if environ is None else environ
    bot_token = environ.get("SLACK_BOT_TOKEN", "")
    if not bot_token and section.bot_token_file:
        bot_token = read_secret_file(resolve(section.bot_token_file))
    if not bot_token:
        raise ConfigError(
            file, "slack.bot_token_file", "no Slack bot token: set SLACK_BOT_TOKEN or name a file"
        )
    signing_secret = environ.get("SLACK_SIGNING_SECRET", "")
    if not signing_secret and section.signing_secret_file:
        signing_secret = read_secret_file(resolve(section.signing_secret_file))
    return SlackSecrets(bot_token=bot_token, signing_secret=signing_secret)
