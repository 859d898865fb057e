"""``detector demo``: simulate an organisation, score its audit log, show what an analyst
would read, and how the detector did against the injected attacks."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.panel import Panel
from rich.progress import BarColumn, DownloadColumn, Progress
from rich.text import Text

from detector.build import build_pipeline
from detector.cli.evaluate import evaluation_table, wide_console
from detector.config import load_pipeline_file
from detector.evaluation import Scoreboard, read_labels
from detector.event import format_time
from detector.incidents import Incident, IncidentGrouper
from detector.pipeline import ScoredEvent
from detector.runtime.local import LocalRun
from detector.simulate import simulate

__all__ = ["demo"]

_PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "vault-local.toml"


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/demo"),
    show_default=True,
)
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated organisation.")
@click.option("--days", default=14.0, show_default=True, help="Days of audit log to simulate.")
@click.option("--show", default=12, show_default=True, help="Incidents to print (worst first).")
def demo(out_dir: Path, seed: int, days: float, show: int) -> None:
    """Simulate a Vault audit log with attacks, score it, and print the alerts."""
    console = wide_console()
    started = time.perf_counter()
    result = simulate(out_dir, seed=seed, days=days)
    log, labels_file = out_dir / "audit.log", out_dir / "labels.jsonl"
    console.print(
        f"[bold]Simulated[/] {days:g} days of an organisation's Vault audit log "
        f"(seed {seed}): {log} ({log.stat().st_size / 1e6:,.1f} MB) with labelled attacks in "
        f"{labels_file.name} [dim]({time.perf_counter() - started:.1f} s)[/]"
    )
    del result
    config = load_pipeline_file(_PIPELINE)
    config.enrichers.service.inventory = str((out_dir / "inventory.toml").resolve())
    pipeline = build_pipeline(config)
    for name in ("alerts.jsonl", "deadletter.jsonl", "summary.json"):
        (out_dir / name).unlink(missing_ok=True)

    labels = read_labels(labels_file)
    scoreboard = Scoreboard(labels)
    grouper = IncidentGrouper()

    def watch(scored: ScoredEvent) -> None:
        scoreboard.observe(scored)
        if scored.decision is not None:
            alert = scored.alert_record()
            alert["label"] = labels.get(scored.event.event_id, ("benign", ""))[0]
            grouper.add(alert, scored.event.time)

    run = LocalRun(pipeline, out_dir, None, config.source.reorder_window, on_scored=watch)
    with Progress("scoring", BarColumn(), DownloadColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=None)
        summary = run.run(
            [str(log)], progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    console.print(
        f"[bold]Scored[/] {summary['scored']:,} events ({summary['records']:,} audit lines) in "
        f"{summary['seconds']:.1f} s — {summary['records_per_second']:,.0f} lines/s: "
        f"{summary['alerts']:,} alerts ({summary['decisions']['revoke']:,} revoke decisions) "
        f"in {len(grouper.incidents)} incidents\n"
    )
    incidents = sorted(grouper.incidents, key=lambda i: -i.worst["risk"])
    for incident in incidents[:show]:
        console.print(_incident_panel(incident))
    if len(incidents) > show:
        console.print(
            f"[dim]… and {len(incidents) - show} more incidents in {out_dir / 'alerts.jsonl'}[/]\n"
        )
    console.print(evaluation_table(scoreboard.finish()))


def _incident_panel(incident: Incident) -> Panel:
    worst = incident.worst
    where = worst["client_ip"] or "no address"
    if worst.get("geo"):
        where += f" ({worst['geo']})"
    service = (
        f"{worst['service']}, team {worst['team']}"
        if worst.get("service")
        else "no service in inventory"
    )
    body = Text()
    body.append(f"{worst['action']} {worst['resource']}", style="bold")
    body.append(f" from {where}\n")
    body.append(f"identity {worst['identity_name']} ({service}); credential ")
    body.append(f"{(worst['credential'] or '-')[:8]}…\n" if worst["credential"] else "-\n")
    for reason in incident.reasons[:5]:
        body.append(f"  • {reason}\n")
    span = incident.last_time - incident.first_time
    if len(incident.alerts) > 1:
        resources = incident.resources
        shown = ", ".join(resources[:3]) + (
            f" and {len(resources) - 3} more" if len(resources) > 3 else ""
        )
        body.append(
            f"  {len(incident.alerts)} alerts over {max(span / 60, 1):.0f} min on "
            f"{len(resources)} resources: {shown}",
            style="dim",
        )
    color = "red" if incident.decision == "revoke" else "yellow"
    label = worst.get("label", "")
    title = (
        f"[bold {color}]{incident.decision.upper()}[/] risk {worst['risk']:.2f} · "
        f"{format_time(incident.first_time)} · {worst['identity_name']}"
    )
    subtitle = f"simulation label: {label}" if label else None
    return Panel(
        body,
        title=title,
        title_align="left",
        subtitle=subtitle,
        subtitle_align="right",
        border_style=color,
    )
