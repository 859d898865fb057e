"""The ``detector`` command line.

Sub-commands live in their own modules and are imported only when run, so
``detector --help`` answers at once.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

__all__ = ["main"]

#: command name -> "module:attribute" of its click command
COMMANDS = {
    "run": "detector.cli.run:run",
    "simulate": "detector.cli.simulate:simulate",
    "eval": "detector.cli.evaluate:evaluate_command",
    "demo": "detector.cli.demo:demo",
    "worker": "detector.cli.worker:worker",
    "ship": "detector.cli.ship:ship",
    "respond": "detector.cli.respond:respond",
    "dev-broker": "detector.cli.dev_broker:dev_broker",
    "actions": "detector.cli.actions:actions",
    "slack-actions": "detector.cli.slack_actions:slack_actions",
    "report": "detector.cli.report:report",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _exists(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not _exists(target):
            return None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


def _exists(target: str) -> bool:
    """Whether a command's module is there (commands of later issues arrive one by one)."""
    return importlib.util.find_spec(target.split(":")[0]) is not None


@click.group(cls=_LazyGroup)
@click.version_option(package_name="secret-access-detector")
def main() -> None:
    """Streaming anomaly detection for secret-access audit logs (Vault, OpenBao, CloudTrail)."""
