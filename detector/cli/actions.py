"""``detector actions``: what the responder did, from the ledger."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from detector.actions.ledger import STATUSES, Ledger
from detector.config.loading import parse_duration
from detector.errors import DetectorError

__all__ = ["actions"]

DEFAULT_PIPELINE = Path("pipelines/vault-local.toml")


def _ledger_file(ledger: Path | None, pipeline: Path | None) -> Path:
    if ledger is not None:
        return ledger
    from detector.actions import ledger_path
    from detector.config import load_pipeline_file

    pipeline = pipeline or DEFAULT_PIPELINE
    if not pipeline.is_file():
        raise click.UsageError("give --ledger PATH or --pipeline FILE (whose [actions] it is)")
    return ledger_path(load_pipeline_file(pipeline))


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.command()
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DETECTOR_LEDGER",
    help="The ledger file (default: the pipeline's, see --pipeline; env DETECTOR_LEDGER).",
)
@click.option(
    "--pipeline",
    "pipeline_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Read the ledger's place from this pipeline file (default {DEFAULT_PIPELINE}).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(sorted(STATUSES)),
    help="Only these statuses (repeatable).",
)
@click.option("--identity", help="Identity, display name or service (glob: 'cart*').")
@click.option("--since", help="Only actions changed in this period: 90m, 24h, 7d.")
@click.option("--history", is_flag=True, help="Each action's history, request to result.")
@click.option("--limit", default=500, show_default=True, help="At most this many actions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def actions(
    ledger: Path | None,
    pipeline_file: Path | None,
    statuses: tuple[str, ...],
    identity: str | None,
    since: str | None,
    history: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List the responder's ledger: revocations, approvals, offers, with who decided."""
    try:
        path = _ledger_file(ledger, pipeline_file)
    except DetectorError as exc:
        raise click.ClickException(str(exc)) from None
    if not path.exists():
        raise click.ClickException(f"no ledger at {path} (has the responder run?)")
    try:
        after = time.time() - parse_duration(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    book = Ledger(path)
    try:
        rows = book.actions(statuses, identity, after, limit)
        histories = {row.action_id: book.history(row.action_id) for row in rows} if history else {}
    finally:
        book.close()
    if as_json:
        for row in rows:
            record = row.as_dict()
            if history:
                record["history"] = [
                    {"at": at, "status": status, "detail": detail}
                    for at, status, detail in histories[row.action_id]
                ]
            click.echo(json.dumps(record, sort_keys=True))
        return
    console = Console(width=max(120, os.get_terminal_size(1).columns if os.isatty(1) else 160))
    table = Table(title=f"{len(rows)} actions in {path}", show_lines=history)
    for column in ("updated (UTC)", "status", "identity", "credential", "risk", "by", "detail"):
        table.add_column(column, overflow="fold")
    for row in rows:
        who = row.identity_name or row.identity
        if row.service:
            who += f" ({row.service})"
        detail = row.guard if row.status in ("escalated", "protected") else row.result
        if history:
            detail = "\n".join(
                f"{_when(at)} {status}: {text}" for at, status, text in histories[row.action_id]
            )
        table.add_row(
            _when(row.updated),
            row.status,
            who,
            row.credential[:8] + "…",
            f"{row.risk:.2f}" if row.risk is not None else "",
            row.decided_by or "",
            detail or "",
        )
    console.print(table)
