"""``detector slack-actions PIPELINE``: serve Slack's interactive buttons."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from detector.cli.options import pipeline_argument
from detector.errors import DetectorError

__all__ = ["slack_actions"]


@click.command("slack-actions")
@pipeline_argument
@click.option("--listen", metavar="HOST:PORT", help="Where to listen (default: slack.listen).")
def slack_actions(pipeline_file: Path, listen: str | None) -> None:
    """Take Revoke / Benign / Snooze clicks at POST /slack/actions (signatures verified).

    The bot token and signing secret come from SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET or
    the files named in [slack]; the Vault token from VAULT_TOKEN or [vault] token_file.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from slack_sdk.signature import SignatureVerifier

    from detector.actions import build_responder
    from detector.actions.credentials import slack_secrets
    from detector.actions.slack_interactions import InteractionHandler, InteractionServer
    from detector.config import load_pipeline_file

    try:
        config = load_pipeline_file(pipeline_file)
        if not (config.actions.enabled and config.slack.enabled):
            raise click.ClickException(
                f"{pipeline_file}: slack-actions needs [actions] and [slack] enabled"
            )
        secrets = slack_secrets(config.slack, config.path, config.resolve)
        if not secrets.signing_secret:
            raise click.ClickException(
                "no signing secret: set SLACK_SIGNING_SECRET or slack.signing_secret_file"
            )
        host, _, port = (listen or config.slack.listen).rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter(f"not HOST:PORT: {listen!r}", param_hint="--listen")
        responder = build_responder(config)
    except DetectorError as exc:
        raise click.ClickException(str(exc)) from None
    assert responder.notifier is not None
    handler = InteractionHandler(
        SignatureVerifier(secrets.signing_secret),
        responder,
        responder.notifier.client,
        config.slack.approvers,
        benign_for=float(config.actions.benign_for),
        snooze_for=float(config.actions.snooze_for),
    )
    try:
        server = InteractionServer(handler, host, int(port))
    except OSError as exc:
        handler.close()
        responder.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    serving = threading.Thread(target=server.serve_forever, name="slack-actions", daemon=True)
    serving.start()
    click.echo(f"serving Slack interactions on http://{host}:{server.port}/slack/actions", err=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        serving.join(10)
        handler.close()
        responder.close()
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
