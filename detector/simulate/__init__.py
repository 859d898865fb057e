"""A realistic organisation's Vault / OpenBao audit log, with labelled attacks.

``simulate(out_dir)`` writes four files:

- ``audit.log``: audit entries in the exact shape of an OpenBao 2.7 ``file`` audit device
  (``hmac_accessor=false``, ``user-agent`` audited), a ``request`` and a ``response`` entry
  per call, in time order;
- ``labels.jsonl``: one line per attacker's event (``event_id`` is the ``request.id``);
- ``scenarios.json``: the injected attack instances, described for an analyst;
- ``inventory.toml``: the organisation's service inventory for the service enricher.

The organisation (:mod:`~detector.simulate.organisation`) has services in its own data
centre and in public clouds, people in Berlin, New York, Bengaluru and São Paulo, CI
pipelines and nightly jobs, each with its own schedule, networks and secrets. The attacks
(:mod:`~detector.simulate.scenarios`) start after the first ~6 days; four more, written
by an attacker who knows the detector (:mod:`~detector.simulate.evasion`), are injected
only when asked for. A run is deterministic: the same seed and arguments give the same
bytes.
"""

from __future__ import annotations

from detector.simulate.evasion import EVASION_SCENARIOS
from detector.simulate.scenarios import SCENARIOS
from detector.simulate.simulation import DEFAULT_START, SCENARIO_SETS, SimulationResult, simulate

__all__ = [
    "DEFAULT_START",
    "EVASION_NAMES",
    "SCENARIO_NAMES",
    "SCENARIO_SETS",
    "SimulationResult",
    "simulate",
]

#: The names of the standard attack scenarios, in the order they are scheduled.
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)
#: The names of the evasion scenarios (``scenarios="evasion"``), not injected by default.
EVASION_NAMES = tuple(s.name for s in EVASION_SCENARIOS)
