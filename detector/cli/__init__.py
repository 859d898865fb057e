"""The ``detector`` command line.

Sub-commands live in their own modules and are imported only when run, so
``detector --help`` answers at once.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["main"]

#: command name -> "module:attribute" of its click command
COMMANDS = {
    "run": "detector.cli.run:run",
    "simulate": "detector.cli.simulate:simulate",
    "eval": "detector.cli.evaluate:evaluate_command",
    "demo": "detector.cli.demo:demo",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="secret-access-detector")
def main() -> None:
    """Streaming anomaly detection for secret-access audit logs (Vault, OpenBao, CloudTrail)."""
