"""The ``[store]`` table of a pipeline file.

```toml
[store]
enabled = true
path = ""              # empty: store.sqlite in the output directory (--out)
score_floor = 0.0      # events at or above this risk are all kept ...
sample_rate = 1.0      # ... and this share of the others (by event id: replays agree)
snapshot_every = "1d"  # identity baselines are snapshotted this often (event time)
retention = "30d"      # events, accesses and baselines older than this are deleted; 0: never
```
"""

from __future__ import annotations

import msgspec

__all__ = ["StoreSection"]


class StoreSection(msgspec.Struct, forbid_unknown_fields=True):
    """Where and how much of what the detector saw is kept for analysts (durations in s)."""

    enabled: bool = False
    path: str = ""
    score_floor: float = 0.0
    sample_rate: float = 1.0
    snapshot_every: float | str = "1d"
    retention: float | str = "30d"

    def __post_init__(self) -> None:
        # Not at module level: detector.config imports this module while it initialises.
        from detector.config.loading import invalid, parse_duration

        if not 0.0 <= self.score_floor <= 1.0:
            raise invalid("score_floor", f"must be between 0 and 1, not {self.score_floor}")
        if not 0.0 <= self.sample_rate <= 1.0:
            raise invalid("sample_rate", f"must be between 0 and 1, not {self.sample_rate}")
        for name in ("snapshot_every", "retention"):
            try:
                setattr(self, name, parse_duration(getattr(self, name)))
            except ValueError as exc:
                raise invalid(name, str(exc)) from None
        if self.snapshot_every == 0:
            raise invalid("snapshot_every", "must be longer than 0 s")
