"""Fuzz the Vault and CloudTrail parsers through ``Pipeline.parse`` (atheris / libFuzzer).

The pipeline promises that a bad record never stops a run: it becomes a dead letter with a
short, stable reason, or is counted as ignored. So the property is: ``Pipeline.parse`` and
``Pipeline.flush`` raise nothing on any bytes, and every dead letter has a non-empty
string ``reason``. Each input is split into lines for the Vault pipeline (so requests,
responses and token memory meet across records) and given whole to the CloudTrail pipeline
(one event or a ``Records`` file); the Vault parser is flushed after each input so held
requests are decoded too. A failure is an uncaught exception: libFuzzer prints the
traceback and writes the input to ``crash-*`` (in the printed work directory unless
``-artifact_prefix`` says otherwise).

    pip install 'secret-access-detector[fuzz]'
    python bench/fuzz_parsers.py [-runs=200000] [libFuzzer flags] [CORPUS_DIR ...]

Without a corpus directory it seeds a temporary one with real-shaped lines (a simulated
Vault log's entries, hand-written CloudTrail events) and a dictionary of JSON keys.
"""

from __future__ import annotations

import atexit
import sys
import tempfile
from pathlib import Path

import atheris
import orjson

with atheris.instrument_imports(include=["detector.parsers", "detector.pipeline"]):
    from detector.parsers.cloudtrail import CloudTrailParser
    from detector.parsers.timestamps import parse_timestamp  # noqa: F401 (instrumented)
    from detector.parsers.vault import VaultAuditParser
    from detector.pipeline import CollectingSink, Pipeline

from detector.build import build_pipeline  # noqa: E402 (after the instrumented imports)
from detector.config import load_pipeline_file  # noqa: E402

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
MAX_LINES = 16  # Vault records per input: enough for pairs and token reuse
TOKENS = (
    '"time"',
    '"type"',
    '"request"',
    '"response"',
    '"auth"',
    '"id"',
    '"path"',
    '"operation"',
    '"remote_address"',
    '"client_token"',
    '"client_token_accessor"',
    '"accessor"',
    '"entity_id"',
    '"display_name"',
    '"metadata"',
    '"policies"',
    '"policy_results"',
    '"allowed"',
    '"error"',
    '"headers"',
    '"user-agent"',
    '"namespace"',
    '"data"',
    '"token_ttl"',
    '"mount_type"',
    '"hmac-sha256:"',
    '"auth/approle/login"',
    '"auth/token/create-orphan"',
    '"kmip-"',
    '"Records"',
    '"eventTime"',
    '"eventSource"',
    '"eventName"',
    '"eventID"',
    '"userIdentity"',
    '"AssumedRole"',
    '"sessionContext"',
    '"sessionIssuer"',
    '"arn"',
    '"sourceIPAddress"',
    '"requestParameters"',
    '"secretId"',
    '"errorCode"',
    '"detail-type"',
    '"detail"',
    '"digestStartTime"',
    '"invokedBy"',
    '"resources"',
    '"encryptionContext"',
    '"secretsmanager.amazonaws.com"',
    '"GetSecretValue"',
    '"kms.amazonaws.com"',
    '"Decrypt"',
    '"ssm.amazonaws.com"',
    '"GetParameters"',
    '"2026-11-02T00:00:05.703458546Z"',
    "null",
    "true",
    "false",
)


class Checked:
    """The two pipelines under test and the number of inputs they have taken."""

    def __init__(self) -> None:
        self.vault = self._pipeline("vault-local.toml")
        self.cloudtrail = self._pipeline("cloudtrail-local.toml")
        assert isinstance(self.vault.parser, VaultAuditParser)
        assert isinstance(self.cloudtrail.parser, CloudTrailParser)
        self.executions = 0
        self.runs = 0  # -runs=N: libFuzzer then exits without running Python's atexit
        self.told = False

    @staticmethod
    def _pipeline(name: str) -> Pipeline:
        return build_pipeline(load_pipeline_file(PIPELINES / name), CollectingSink())

    def tell(self) -> None:
        if not self.told:
            self.told = True
            print(f"fuzz_parsers: {self.executions:,} inputs executed", flush=True)

    def one_input(self, data: bytes) -> None:
        """The property: no exception, and every dead letter says why."""
        self.executions += 1
        if self.executions == self.runs:
            self.tell()  # the last one: report before libFuzzer exits
        for line in data.split(b"\n", MAX_LINES)[:MAX_LINES]:
            self.vault.parse(line, ("fuzz", self.executions))
        self.vault.flush(final=True)
        self.cloudtrail.parse(data, ("fuzz", self.executions))
        for pipeline in (self.vault, self.cloudtrail):
            sink = pipeline.deadletters
            assert isinstance(sink, CollectingSink)
            for record in sink.records:
                reason = record.get("reason")
                if not isinstance(reason, str) or not reason.strip():
                    raise AssertionError(f"dead letter without a reason: {record!r}")
            sink.records.clear()


def seeds() -> list[bytes]:
    """Real-shaped records: simulated Vault entries of every kind, CloudTrail events."""
    from detector.simulate import simulate

    found: dict[tuple, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="detector-fuzz-sim-") as tmp:
        simulate(Path(tmp), seed=3, days=1.0)
        for line in (Path(tmp) / "audit.log").read_bytes().splitlines():
            entry = orjson.loads(line)
            path = entry["request"]["path"].split("/")
            found.setdefault((entry["type"], path[0], path[-1][:4], "error" in entry), line)
    vault = list(found.values())[:40]
    pairs = [vault[i] + b"\n" + vault[i + 1] for i in range(0, len(vault) - 1, 2)]
    trail = cloudtrail_seeds()
    return vault + pairs + trail + [orjson.dumps({"Records": [orjson.loads(t) for t in trail]})]


def cloudtrail_seeds() -> list[bytes]:
    """A GetSecretValue by a user, a KMS Decrypt by an assumed role, an SSM call, one
    out of scope, in an EventBridge envelope."""
    user = {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/ana",
        "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLE",
        "userName": "ana",
    }
    role = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/app/i-0abc",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/app"},
            "attributes": {"mfaAuthenticated": "false"},
        },
    }
    base = {
        "eventVersion": "1.08",
        "eventTime": "2024-03-01T09:15:00Z",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "eventID": "11111111-2222-3333-4444-555555555555",
        "recipientAccountId": "111122223333",
    }
    events = [
        {
            **base,
            "userIdentity": user,
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "requestParameters": {"secretId": "prod/payments/db"},
        },
        {
            **base,
            "userIdentity": role,
            "eventSource": "kms.amazonaws.com",
            "eventName": "Decrypt",
            "requestParameters": {"encryptionContext": {"SecretARN": "arn:aws:secretsmanager:x"}},
            "resources": [{"ARN": "arn:aws:kms:eu-west-1:111122223333:key/k1"}],
        },
        {
            **base,
            "userIdentity": role,
            "eventSource": "ssm.amazonaws.com",
            "eventName": "GetParameters",
            "requestParameters": {"names": ["/prod/db", "/prod/api"], "withDecryption": True},
            "errorCode": "AccessDenied",
            "errorMessage": "not authorized",
        },
        {**base, "userIdentity": user, "eventSource": "s3.amazonaws.com", "eventName": "GetObject"},
    ]
    envelope = {"detail-type": "AWS API Call via CloudTrail", "detail": events[0]}
    return [orjson.dumps(e) for e in [*events, envelope]]


def with_defaults(argv: list[str], workdir: Path) -> list[str]:
    """Add a seeded corpus directory and the dictionary unless the caller gave their own."""
    argv = list(argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        corpus = workdir / "corpus"
        corpus.mkdir()
        for number, seed in enumerate(seeds()):
            (corpus / f"seed-{number:03d}").write_bytes(seed)
        argv.append(str(corpus))
    if not any(a.startswith("-dict=") for a in argv[1:]):
        words = workdir / "json.dict"
        words.write_text("".join(f"{orjson.dumps(t).decode()}\n" for t in TOKENS))
        argv.append(f"-dict={words}")
    if not any(a.startswith("-artifact_prefix=") for a in argv[1:]):
        argv.append(f"-artifact_prefix={workdir}/")  # crash-* files there, not in the cwd
    print(f"fuzz_parsers: corpus, dictionary and crash files in {workdir}", flush=True)
    return argv


def main() -> None:
    checked = Checked()
    runs = [a.removeprefix("-runs=") for a in sys.argv[1:] if a.startswith("-runs=")]
    checked.runs = int(runs[-1]) if runs and runs[-1].isdigit() else 0
    atexit.register(checked.tell)  # a crash or Ctrl-C ends through Python's exit
    workdir = Path(tempfile.mkdtemp(prefix="detector-fuzz-"))
    atheris.Setup(with_defaults(sys.argv, workdir), checked.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
