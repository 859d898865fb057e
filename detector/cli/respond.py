"""``detector respond PIPELINE``: the streaming runtime's response (revocation, Slack)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from detector.cli.options import pipeline_argument
from detector.errors import DetectorError

__all__ = ["respond"]


@click.command()
@pipeline_argument
def respond(pipeline_file: Path) -> None:
    """Act on the workers' decisions: revoke through Vault, tell the SOC in Slack.

    Reads the actions and notifications topics of PIPELINE's [streaming] table as one
    consumer group; run one per pipeline (its ledger is the record of what was done). The
    Vault token comes from VAULT_TOKEN or [vault] token_file, Slack's from SLACK_BOT_TOKEN
    or [slack] bot_token_file.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from detector.actions import build_responder
    from detector.config import load_pipeline_file
    from detector.streaming.respond import ResponseConsumer
    from detector.streaming.settings import client_security, with_environment

    try:
        config = load_pipeline_file(pipeline_file)
        if not config.actions.enabled:
            raise click.ClickException(f"{pipeline_file}: respond needs [actions] enabled = true")
        settings = with_environment(config.streaming, config.path)
        security = client_security(settings)
        responder = build_responder(config)
    except DetectorError as exc:
        raise click.ClickException(str(exc)) from None
    consumer = ResponseConsumer(settings, responder, security)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        click.echo(
            f"responding to {settings.actions_topic} and {settings.notifications_topic}"
            f"{' (dry run)' if config.actions.dry_run else ''}",
            err=True,
        )
        await consumer.run(stop)

    try:
        asyncio.run(serve())
    finally:
        responder.close()
    counts = ", ".join(f"{value} {key}" for key, value in sorted(consumer.counts.items()))
    click.echo(f"handled {counts or 'nothing'}; {responder.summary()}", err=True)
