"""``detector worker PIPELINE``: the streaming runtime, one worker of a consumer group."""

from __future__ import annotations

from pathlib import Path

import click

from detector.cli.options import pipeline_argument
from detector.config import load_pipeline_file
from detector.errors import DetectorError

__all__ = ["worker"]


@click.command()
@pipeline_argument
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where Faust keeps its local data (default: the pipeline's streaming.data_dir).",
)
@click.option(
    "--stats",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write this worker's partitions and counts to this JSON file every second.",
)
@click.option(
    "--log-level",
    type=click.Choice(["crit", "error", "warn", "info", "debug"]),
    default="warn",
    show_default=True,
)
def worker(pipeline_file: Path, data_dir: Path | None, stats: Path | None, log_level: str) -> None:
    """Run PIPELINE on Kafka: raw audit lines in, alerts, actions and dead letters out.

    Broker, topics and timeouts come from the pipeline's [streaming] table, overridden by
    DETECTOR_<KEY> environment variables (DETECTOR_BROKER=kafka://host:9092 ...). Start
    several workers with the same app_id to share the partitions.
    """
    from detector.streaming.agents import StreamingWorker

    try:
        config = load_pipeline_file(pipeline_file)
        metrics = _serve_metrics(config)
        streaming = StreamingWorker(config, data_dir, stats=stats, metrics=metrics)
    except DetectorError as exc:
        raise click.ClickException(str(exc)) from None
    streaming.run(log_level)


def _serve_metrics(config):
    """Prometheus metrics for this worker, if the pipeline file turns them on."""
    from detector.metrics_config import start_metrics

    started = start_metrics(config)
    if started is None:
        return None
    click.echo(f"metrics on {started[1]}", err=True)
    return started[0]
