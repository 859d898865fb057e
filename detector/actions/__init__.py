"""Response: revocation through the Vault API and the SOC loop in Slack (issue #4)."""

from __future__ import annotations

from detector.actions.config import ActionsSection, SlackSection, VaultSection

__all__ = ["ActionsSection", "SlackSection", "VaultSection", "build_sink"]


def build_sink(config, out_dir):  # pragma: no cover - replaced by the responder (issue #4)
    """The responder a pipeline file asks for, or ``None``."""
    return None
