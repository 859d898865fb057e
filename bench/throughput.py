"""Throughput and memory of the local pipeline on a large simulated Vault audit log.

Prints, for the same lines: the time to merely ``orjson.loads`` them, the time to run the
whole local pipeline (parse, pair, enrich, score, write alerts), the same with the store
keeping every scored event (``[store] enabled = true``), each as the best of
``--repeat`` runs (the machine is noisy: the best run is the least disturbed), and the
bytes of model state per identity. It asserts nothing.

    python bench/throughput.py [--scale 3] [--days 14] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson

from detector.build import build_pipeline, build_sinks
from detector.config import load_pipeline_file
from detector.memory import deep_size
from detector.runtime.local import LocalRun
from detector.simulate import simulate
from detector.store import StoreSection

PIPELINE = Path(__file__).resolve().parents[1] / "pipelines" / "vault-local.toml"


def best_of(repeat: int, run) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="detector-bench-") as tmp:
        out = Path(tmp)
        simulate(out / "sim", seed=args.seed, days=args.days, scale=args.scale)
        log = out / "sim" / "audit.log"
        lines = log.read_bytes().splitlines()
        size_mb = log.stat().st_size / 1e6
        print(
            f"log: {len(lines):,} audit lines, {size_mb:,.0f} MB "
            f"(scale {args.scale}, {args.days} days)"
        )

        def parse_only() -> None:
            for line in lines:
                orjson.loads(line)

        loads = best_of(args.repeat, parse_only)
        print(f"orjson.loads only : {len(lines) / loads:>10,.0f} lines/s ({loads:.2f} s)")

        config = load_pipeline_file(PIPELINE)
        config.enrichers.service.inventory = str(out / "sim" / "inventory.toml")
        pipelines = []

        def whole() -> None:
            pipeline = build_pipeline(config)
            LocalRun(pipeline, out / f"run{len(pipelines)}", None, 300.0).run([str(log)])
            pipelines.append(pipeline)

        full = best_of(args.repeat, whole)
        print(
            f"whole pipeline    : {len(lines) / full:>10,.0f} lines/s ({full:.2f} s; "
            f"{loads / full:.0%} of the loads-only rate)"
        )

        runs = iter(range(args.repeat))

        def with_store() -> None:
            out_dir = out / f"stored{next(runs)}"
            LocalRun(
                build_pipeline(config), out_dir, None, 300.0, sinks=build_sinks(config, out_dir)
            ).run([str(log)])

        config.store = StoreSection(enabled=True)  # every scored event kept
        kept = best_of(args.repeat, with_store)
        config.store = StoreSection()
        print(
            f"... with the store: {len(lines) / kept:>10,.0f} lines/s ({kept:.2f} s, "
            f"{kept / full - 1:+.0%}; every event kept)"
        )
        pipeline = pipelines[-1]
        states = list(pipeline.model.store)
        count = max(len(states), 1)
        per_identity = deep_size(states) / count
        # GeoInfo and ServiceInfo objects are shared with the enrichers' bounded caches.
        own = deep_size(states, shared=pipeline.enrichers) / count
        print(
            f"state             : {len(states):,} identities, {per_identity:,.0f} bytes each "
            f"({own:,.0f} not counting what the enricher caches hold; "
            f"{deep_size([pipeline.model.detectors]) / 1e6:.1f} MB of population models)"
        )
        print(
            f"scored            : {pipeline.scored:,} events, "
            f"{pipeline.counts.get('alert', 0) + pipeline.counts.get('revoke', 0):,} alerts"
        )


if __name__ == "__main__":
    main()
