"""``detector eval LOG LABELS``: a labelled replay, per scenario and in false alerts."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from detector.errors import DetectorError
from detector.evaluation import Evaluation, evaluate

__all__ = ["evaluate_command", "evaluation_table", "wide_console"]

_DEFAULT_PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "vault-local.toml"


def wide_console() -> Console:
    """A console at least 100 columns wide: tables stay readable in logs and pipes."""
    return Console(width=max(Console().width, 100))


def evaluation_table(report: Evaluation) -> Table:
    """The per-scenario table an analyst reads, with the false-alert line under it."""
    table = Table(
        title="Detection by scenario (to detect: attack events until the first alert; "
        "time: from the attack's first event)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("scenario", no_wrap=True)
    for column in ("caught", "revoked", "events", "to detect", "time", "max risk"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, row in report.scenarios().items():
        seconds = row["seconds_to_detect"]
        table.add_row(
            name,
            f"{row['caught']}/{row['instances']}",
            f"{row['revoked']}/{row['instances']}",
            f"{row['events']:,}",
            "-" if row["events_to_detect"] is None else f"{row['events_to_detect']:g}",
            "-" if seconds is None else f"{seconds:,.0f} s",
            f"{row['max_risk']:.2f}",
            style=None if row["caught"] == row["instances"] else "bold red",
        )
    table.caption = (
        f"benign events: {report.benign_events:,} over {report.days:.1f} days; false alerts: "
        f"{report.false_alerts:,} ({report.false_alerts_per_10k:.2f} per 10,000 benign events, "
        f"{report.false_alerts_per_day:.2f} per day; {report.false_revokes} would revoke); "
        f"collateral alerts on victims' own requests during their attack: "
        f"{report.collateral_alerts:,}"
    )
    table.caption_justify = "left"
    return table


@click.command("eval")
@click.argument("log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--pipeline",
    "pipeline_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=_DEFAULT_PIPELINE,
    show_default=True,
    help="The pipeline to evaluate.",
)
@click.option(
    "--inventory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Service inventory to use instead of the pipeline's "
    "(default: inventory.toml beside LOG, as detector simulate writes it).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as JSON (- for stdout).",
)
def evaluate_command(
    log: Path, labels: Path, pipeline_file: Path, inventory: Path | None, json_path: Path | None
) -> None:
    """Replay a labelled LOG and report, per scenario, what was caught and how fast."""
    beside = log.parent / "inventory.toml"
    if inventory is None and beside.is_file():
        inventory = beside
    try:
        report = evaluate(log, labels, pipeline_file, inventory)
    except DetectorError as exc:
        raise click.ClickException(str(exc)) from None
    payload = orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2)
    if json_path is not None and str(json_path) == "-":
        click.echo(payload.decode())
        return
    wide_console().print(evaluation_table(report))
    if json_path is not None:
        json_path.write_bytes(payload)
