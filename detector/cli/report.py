"""``detector report``: the daily review as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import click

from detector.errors import DetectorError

__all__ = ["report"]


@click.command()
@click.option(
    "--store",
    "store_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The store to review (store.sqlite).",
)
@click.option(
    "--pipeline",
    "pipeline_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Review the store this pipeline file writes (and draw its thresholds).",
)
@click.option(
    "--since",
    default="24h",
    show_default=True,
    help="Window start: a duration back from the newest event (24h, 7d) or a date/time.",
)
@click.option("--until", default=None, help="Window end (default: the newest event).")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
)
def report(
    store_file: Path | None,
    pipeline_file: Path | None,
    since: str,
    until: str | None,
    out_file: Path,
) -> None:
    """Write the daily review (alerts, revocations, top identities, plots) as HTML."""
    from detector.report import daily_review
    from detector.store import StoreReader

    if (store_file is None) == (pipeline_file is None):
        raise click.UsageError("give one of --store PATH or --pipeline PIPELINE")
    thresholds = None
    try:
        if pipeline_file is not None:
            store_file, thresholds = _from_pipeline(pipeline_file)
        reader = StoreReader(store_file)
        review = daily_review(reader, since=since, until=until, thresholds=thresholds)
    except (DetectorError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(review.html, encoding="utf-8")
    counts = ", ".join(f"{v:,} {k}" for k, v in review.counts.items())
    click.echo(f"{out_file}: {counts}")


def _from_pipeline(path: Path) -> tuple[Path, tuple[float, float]]:
    """The store a pipeline file writes (in its output directory by default) and the
    thresholds it decides with."""
    from detector.config import load_pipeline_file, load_profile
    from detector.store import store_path

    config = load_pipeline_file(path)
    profile = load_profile(config.resolve(config.model.profile))
    alert = config.thresholds.alert
    revoke = config.thresholds.revoke
    return store_path(config, config.resolve(config.outputs.dir)), (
        profile.scoring.alert if alert is None else alert,
        profile.scoring.revoke if revoke is None else revoke,
    )
