"""``detector run PIPELINE``: the local runtime on files, directories or stdin."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from detector.build import build_sinks, load_pipeline
from detector.cli.options import pipeline_argument
from detector.errors import DetectorError
from detector.runtime.local import LocalRun

__all__ = ["run"]


@click.command()
@pipeline_argument
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="PATH|-",
    help="File, directory or - for stdin (repeatable). Default: the pipeline's paths.",
)
@click.option("--follow", is_flag=True, help="Keep reading as the files grow (like tail -F).")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Output directory."
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Model state directory.",
)
@click.option("--fresh", is_flag=True, help="Ignore saved state (still saves at the end).")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def run(
    pipeline_file: Path,
    sources: tuple[str, ...],
    follow: bool,
    out_dir: Path | None,
    state_dir: Path | None,
    fresh: bool,
    quiet: bool,
) -> None:
    """Score audit logs with PIPELINE; write alerts.jsonl, deadletter.jsonl, summary.json."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = Console(stderr=True, quiet=quiet)
    try:
        config, pipeline = load_pipeline(pipeline_file)
        paths = list(sources) or [str(config.resolve(p)) for p in config.source.paths]
        if not paths:
            raise click.UsageError("no input: give --source PATH (or - for stdin)")
        out = out_dir or config.resolve(config.outputs.dir)
        state_file = (state_dir or config.resolve(config.model.state_dir)) / f"{config.name}.state"
        if fresh and state_file.exists():
            state_file.unlink()
        metrics = _serve_metrics(config, console) if follow else None
        sinks = build_sinks(config, out)
        try:
            local = LocalRun(
                pipeline,
                out,
                state_file,
                config.source.reorder_window,
                sinks=sinks,
                metrics=metrics,
            )
        except BaseException:
            for sink in sinks:
                sink.close()
            if metrics is not None:
                metrics.close()
            raise
        if local.resumed:
            console.print(
                f"resumed state from {state_file} (events up to the saved point are skipped)"
            )
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=quiet or follow,
        ) as bar:
            task = bar.add_task(f"scoring with {config.name}", total=None)
            try:
                summary = local.run(
                    paths,
                    follow_sources=follow,
                    poll_interval=config.source.poll_interval,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            finally:
                if metrics is not None:
                    metrics.close()
    except (DetectorError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    console.print(
        f"{summary['scored']:,} events scored from {summary['records']:,} records in "
        f"{summary['seconds']:.1f} s ({summary['records_per_second'] or 0:,.0f} records/s): "
        f"{summary['decisions']['alert']:,} alerts, {summary['decisions']['revoke']:,} revoke "
        f"decisions, {summary['deadletters']:,} dead letters -> {out}"
    )


def _serve_metrics(config, console: Console):
    """Prometheus metrics for a followed run, if the pipeline file turns them on."""
    from detector.metrics_config import start_metrics

    try:
        started = start_metrics(config)
    except DetectorError as exc:
        raise click.ClickException(str(exc)) from None
    if started is None:
        return None
    console.print(f"metrics on {started[1]}")
    return started[0]
