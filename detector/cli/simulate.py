"""``detector simulate``: write a simulated organisation's audit log with labelled attacks."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click

__all__ = ["simulate"]

#: The values of --scenarios (detector.simulate.SCENARIO_SETS, named here so that the
#: command line does not import the simulator to show its help).
SCENARIO_SETS = ("standard", "evasion", "all")


def _start(ctx: click.Context, param: click.Parameter, value: str) -> datetime:
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO date or date-time: {value!r}") from None
    return start if start.tzinfo else start.replace(tzinfo=UTC)


@click.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for audit.log, labels.jsonl, scenarios.json and inventory.toml.",
)
@click.option("--seed", default=7, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--days",
    default=14.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Length of the log in days.",
)
@click.option(
    "--start",
    default="2026-11-02",
    show_default=True,
    callback=_start,
    help="Start of the log (ISO date or date-time; UTC unless a zone is given).",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Load multiplier for services and pipelines (20 gives millions of lines).",
)
@click.option(
    "--attacks/--no-attacks",
    default=True,
    show_default=True,
    help="Inject the labelled attack scenarios.",
)
@click.option(
    "--scenarios",
    "scenario_set",
    default="standard",
    show_default=True,
    type=click.Choice(SCENARIO_SETS),
    help="Which attacks: the ten standard ones, the four that evade the detector, or all.",
)
def simulate(
    out_dir: Path,
    seed: int,
    days: float,
    start: datetime,
    scale: float,
    attacks: bool,
    scenario_set: str,
) -> None:
    """Write a realistic organisation's Vault audit log with labelled attacks.

    The log has benign traffic of services, people, CI pipelines and nightly jobs, and
    (unless --no-attacks) attack scenarios injected after the first ~6 days: by default
    the ten standard ones; --scenarios evasion injects instead four attacks written to
    stay under the detector (slow exfiltration, a network in the victim's own city, a
    warm-up on the victim's routine, baselines poisoned over days), --scenarios all both.
    The benign traffic is the same whichever set is chosen.
    """
    from detector.simulate import simulate as run_simulation

    began = time.perf_counter()
    result = run_simulation(
        out_dir,
        seed=seed,
        days=days,
        start=start,
        scale=scale,
        attacks=attacks,
        scenarios=scenario_set,
    )
    elapsed = max(time.perf_counter() - began, 1e-9)
    click.echo(
        f"{result.audit_log}: {result.lines:,} lines ({result.requests:,} requests) "
        f"from {result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC, "
        f"{elapsed:.1f} s ({result.lines / elapsed:,.0f} lines/s)"
    )
    click.echo(
        f"{result.labels}: {result.attack_events:,} attack events in "
        f"{result.instances} scenario instances (see {result.scenarios.name})"
    )
    click.echo(f"{result.inventory}: service inventory")
