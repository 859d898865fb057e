"""``detector ship``: audit lines to the raw topic, from a file or a Vault socket device."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from detector.cli.options import pipeline_argument
from detector.config import load_pipeline_file
from detector.errors import DetectorError
from detector.shipping.packing import PACK_BYTES

__all__ = ["ship"]


@click.command()
@pipeline_argument
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Audit log file to follow.",
)
@click.option(
    "--listen",
    metavar="tcp://HOST:PORT",
    help="Act as the receiving end of a Vault socket audit device.",
)
@click.option(
    "--offsets",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the shipped position is kept (default: beside the file).",
)
@click.option(
    "--buffer", default=10_000, show_default=True, help="Lines held in memory before reading waits."
)
@click.option(
    "--pack-bytes",
    default=PACK_BYTES,
    show_default=True,
    help="Lines queued together travel several to a message, up to this size (0: one line "
    "per message, for consumers other than detector worker).",
)
@click.option("--once", is_flag=True, help="Ship the file to its end and stop (no following).")
def ship(
    pipeline_file: Path,
    path: Path | None,
    listen: str | None,
    offsets: Path | None,
    buffer: int,
    pack_bytes: int,
    once: bool,
) -> None:
    """Produce audit lines to the pipeline's raw topic, losing none.

    With --file: follow the file like tail -F (rotation included), resuming from the last
    position the broker acknowledged. With --listen: accept Vault's socket audit device.
    While the broker is away lines wait (up to --buffer in memory, then reading waits).
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if (path is None) == (listen is None):
        raise click.UsageError("give exactly one of --file PATH or --listen tcp://HOST:PORT")
    from detector.streaming.settings import client_security, with_environment

    try:
        config = load_pipeline_file(pipeline_file)
        settings = with_environment(config.streaming, config.path)
        security = client_security(settings)
    except DetectorError as exc:
        raise click.ClickException(str(exc)) from None
    asyncio.run(_ship(settings, security, path, listen, offsets, buffer, pack_bytes, once))


async def _ship(settings, security, path, listen, offsets, buffer, pack_bytes, once) -> None:
    from detector.shipping.producer import LineProducer
    from detector.shipping.socket_device import SocketDevice
    from detector.shipping.tail import FileShipper
    from detector.streaming.settings import bootstrap_servers

    bootstrap = bootstrap_servers(settings.broker)
    producer = LineProducer(
        bootstrap, settings.raw_topic, buffer=buffer, pack_bytes=pack_bytes, **security
    )
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if path is not None:
            shipper = FileShipper(
                path, producer, offsets or path.with_name(path.name + ".offsets"), follow=not once
            )
            task = asyncio.create_task(shipper.run())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            shipper.stop()
            await task
            stopper.cancel()
        else:
            host, port = listen.removeprefix("tcp://").rsplit(":", 1)
            device = SocketDevice(host, int(port), producer)
            await device.start()
            click.echo(f"listening on tcp://{host}:{device.port}", err=True)
            await stop.wait()
            await device.stop()
            await producer.drain()
    finally:
        await producer.stop()
    click.echo(f"shipped {producer.sent:,} lines ({producer.retries} retried sends)", err=True)
