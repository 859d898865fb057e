"""The response in the streaming runtime, against a real broker, a real OpenBao and a local
Slack: OpenBao's audit file shipped to Kafka, a worker scoring it, ``detector respond``
revoking the stolen token (or asking for approval) and telling the SOC, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from actions.conftest import (  # noqa: F401 - fixtures used by name
    bao,
    detector_env,
    shop,
    slack,
    status_of,
    write_pipeline,
)
from actions.conftest import eventually as soon
from actions.test_end_to_end import parent_about

from detector.actions.ledger import Ledger

from .conftest import Broker, Worker, eventually

APP = "respond"


def streaming_table(broker: Broker, directory: Path) -> str:
    settings = {
        "broker": broker.url,
        "app_id": APP,
        **{f"{name}_topic": f"{APP}.{name}" for name in ("raw", "entries", "events", "alerts")},
        "actions_topic": f"{APP}.actions",
        "deadletter_topic": f"{APP}.deadletter",
        "notifications_topic": f"{APP}.notifications",
        "data_dir": str(directory / "faust"),
    }
    return "[streaming]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())


class Process:
    """A ``detector`` sub-command in its own process, its output kept for failures."""

    def __init__(self, directory: Path, name: str, *arguments: str, **environment: str):
        self.log_path = directory / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "detector", *arguments],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **environment},
        )

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.log_path.read_text(errors="replace")


def ledger_history(ledger: Path) -> dict[str, list[str]]:
    book = Ledger(ledger)
    try:
        return {
            row.credential: [status for _, status, _ in book.history(row.action_id)]
            for row in book.actions()
        }
    finally:
        book.close()


def test_the_responder_revokes_asks_and_posts_once_from_the_topics(
    broker,
    detector_env,  # noqa: F811 - the fixtures imported above
    bao,  # noqa: F811
    slack,  # noqa: F811
    tmp_path,
):
    organisation = detector_env
    directory = tmp_path / "detector"
    directory.mkdir()
    pipeline = write_pipeline(
        directory, bao.address, slack.base_url, extra=streaming_table(broker, tmp_path)
    )
    ledger = directory / "ledger" / "actions.db"
    broker.create_topic(f"{APP}.raw", 4)
    worker = Worker(pipeline, tmp_path, "worker")
    responder = Process(tmp_path, "respond", "respond", str(pipeline))
    offsets = str(tmp_path / "shipped.offsets")
    shipper = Process(
        tmp_path, "ship", "ship", str(pipeline), "--file", str(bao.audit_log), "--offsets", offsets
    )
    logs: dict[str, str] = {}
    try:
        eventually(lambda: len(worker.partitions()) == 4, 90, "the worker to take the partitions")
        cart, billing = organisation.login("cart"), organisation.login("billing")
        organisation.normal_use(cart, 40)
        organisation.normal_use(billing, 40)
        organisation.steal(cart, reads=1)
        organisation.steal(billing, reads=1)
        assert soon(lambda: status_of(ledger, cart.accessor) == "revoked", 60)
        assert soon(lambda: status_of(ledger, billing.accessor) == "escalated", 30)
        assert organisation.refused(cart)  # OpenBao answers 403 to the stolen token
        assert organisation.alive(billing.accessor)  # billing's entry forbids auto-revocation
        assert soon(lambda: parent_about(slack, "cart", "Credential revoked"), 15)
        assert soon(lambda: parent_about(slack, "billing", "Approval needed"), 15)
    finally:
        logs["ship"] = shipper.stop()
        logs["respond"] = responder.stop()
        worker.stop()
        logs["worker"] = worker.log()
    assert "Traceback" not in logs["respond"], logs["respond"]
    history = ledger_history(ledger)
    assert history[cart.accessor] == ["queued", "in-flight", "in-flight", "revoked"]
    posted = len(slack.parents())

    # A second responder group reads both topics from their start: the ledger knows every
    # action id, so nothing is revoked, recorded or posted again.
    replay = Process(tmp_path, "replay", "respond", str(pipeline), DETECTOR_APP_ID=f"{APP}-replay")
    try:
        assert not soon(lambda: ledger_history(ledger) != history, 10)
    finally:
        replayed = replay.stop()
    assert "handled" in replayed and "action requests" in replayed, replayed
    assert ledger_history(ledger) == history
    assert len(slack.parents()) == posted
