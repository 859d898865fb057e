"""The CloudTrail parser on real public CloudTrail and on hand-written edge cases.

Real data comes from the shared ``realdata`` folder (invictus-ir's Stratus Red Team run,
zmallen's Datadog-forwarded exports, Panther's rule test events); those tests skip when it is
absent. The inline events cover what the real data lacks.
"""

from __future__ import annotations

import doctest
import gzip
import time
from collections import Counter
from pathlib import Path

import msgspec
import orjson
import pytest

from detector.errors import ParseError
from detector.event import AccessEvent
from detector.parsers import cloudtrail
from detector.parsers.base import Ignored
from detector.parsers.cloudtrail import ANY_RESOURCE, UNKNOWN_RESOURCE, CloudTrailParser

USER_ARN = "arn:aws:iam::123837392027:user/bert-jan"

# The secret-access calls in invictus-ir's 2900 events (counted by hand from the source).
INVICTUS_KEPT = {
    "GetSecretValue": 60,
    "ListSecrets": 1,
    "DescribeSecret": 36,
    "CreateSecret": 20,
    "PutSecretValue": 20,
    "DeleteSecret": 17,
    "GetParameter": 82,
    "GetParameters": 5,
    "DescribeParameters": 122,
    "PutParameter": 67,
    "DeleteParameter": 78,
    "Decrypt": 178,
    "GenerateDataKey": 20,
}


# -- data on disk ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def realdata(shared_dir: Path) -> Path:
    path = shared_dir / "realdata"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the real-data checks need the shared public logs")
    return path


def _folder(realdata: Path, name: str) -> Path:
    path = realdata / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def invictus_files(realdata: Path) -> list[Path]:
    files = sorted((_folder(realdata, "invictus-ir_aws_dataset") / "CloudTrail").glob("*.json"))
    if len(files) != 55:
        pytest.skip(f"expected invictus-ir's 55 CloudTrail files, found {len(files)}")
    return files


@pytest.fixture(scope="module")
def invictus_events(invictus_files: list[Path]) -> list[AccessEvent]:
    parser = CloudTrailParser()
    return [event for path in invictus_files for event in parser.parse(path.read_bytes())]


@pytest.fixture(scope="module")
def zmallen(realdata: Path) -> Path:
    return _folder(realdata, "zmallen_cloudtrail2sightings") / "extracted"


@pytest.fixture(scope="module")
def panther_cloudtrail_tests(realdata: Path) -> list[dict]:
    path = _folder(realdata, "panther-analysis") / "DERIVED_tests_flat.jsonl"
    tests = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return [t for t in tests if "AWS.CloudTrail" in t["log_types"]]


# -- hand-written events --------------------------------------------------------------


def _event(**fields: object) -> dict:
    """A GetSecretValue by an IAM user from a public address; ``fields`` override keys."""
    event = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/ana",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "ana",
        },
        "eventTime": "2024-03-01T09:15:00Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"secretId": "prod/payments/db"},
        "responseElements": None,
        "eventID": "11111111-2222-3333-4444-555555555555",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }
    event.update(fields)
    return event


def _parse(event: object, parser: CloudTrailParser | None = None) -> AccessEvent:
    events = (parser or CloudTrailParser()).parse(orjson.dumps(event))
    assert len(events) == 1
    return events[0]


def _reason(event: object) -> str:
    raw = event if isinstance(event, bytes) else orjson.dumps(event)
    with pytest.raises(ParseError) as caught:
        CloudTrailParser().parse(raw)
    return caught.value.reason


# -- invictus-ir: a real account during a Stratus Red Team run ------------------------


def test_every_invictus_file_parses_without_dead_letters(invictus_files: list[Path]) -> None:
    parser = CloudTrailParser()
    kept = sum(len(parser.parse(path.read_bytes())) for path in invictus_files)
    assert parser.drain_rejected() == []
    assert kept + sum(parser.drain_ignored().values()) == 2900


def test_invictus_keeps_exactly_the_secret_access_calls(
    invictus_events: list[AccessEvent],
) -> None:
    assert Counter(e.operation for e in invictus_events) == INVICTUS_KEPT
    assert {e.source for e in invictus_events} == {"cloudtrail"}
    assert len({e.event_id for e in invictus_events}) == len(invictus_events)


def test_invictus_ignored_calls_are_counted_by_service_and_name(
    invictus_files: list[Path],
) -> None:
    parser = CloudTrailParser()
    for path in invictus_files:
        parser.parse(path.read_bytes())
    ignored = parser.drain_ignored()
    # Secrets Manager calls that reveal no secret are out of scope, and say so.
    assert ignored["cloudtrail secretsmanager GetResourcePolicy"] == 39
    assert ignored["cloudtrail kms Encrypt"] == 42
    assert ignored["cloudtrail ec2 GetPasswordData"] == 29
    assert parser.drain_ignored() == Counter()


def test_invictus_secret_reads_name_the_user_and_its_address(
    invictus_events: list[AccessEvent],
) -> None:
    reads = [e for e in invictus_events if e.operation == "GetSecretValue"]
    assert {(e.identity, e.client_ip, e.action, e.mount, e.outcome) for e in reads} == {
        (USER_ARN, "192.168.10.20", "read", "secretsmanager", "ok")
    }
    assert not any(e.internal for e in reads)
    assert all(e.credential and e.credential.startswith("AKIA") for e in reads)
    assert all(e.resource.startswith("arn:aws:secretsmanager:") for e in reads)
    assert {e.auth_method for e in reads} == {"IAMUser"}


def test_get_parameters_names_every_parameter_as_resources(
    invictus_files: list[Path], invictus_events: list[AccessEvent]
) -> None:
    requested = {
        record["eventID"]: tuple(record["requestParameters"]["names"])
        for path in invictus_files
        for record in orjson.loads(path.read_bytes())["Records"]
        if record["eventName"] == "GetParameters"
    }
    batch = [e for e in invictus_events if e.operation == "GetParameters"]
    assert len(batch) == 5
    for event in batch:
        assert event.resources == requested[event.event_id]
        assert event.all_resources == event.resources
        assert event.resource == event.resources[0]
        assert event.metadata["withDecryption"] == "true"


def test_kms_decrypt_invoked_by_aws_services_is_internal(
    invictus_events: list[AccessEvent],
) -> None:
    decrypts = [e for e in invictus_events if e.operation == "Decrypt"]
    assert len(decrypts) == 178
    assert all(e.internal and e.client_ip is None for e in decrypts)
    assert all(e.action == "decrypt" and e.mount == "kms" for e in decrypts)
    assert all(e.resource.startswith("arn:aws:kms:us-east-1:") for e in decrypts)
    assert Counter(e.metadata["invokedBy"] for e in decrypts) == {
        "AWS Internal": 122,
        "secretsmanager.amazonaws.com": 56,
    }
    # The encryption context says which secret or parameter the key protected.
    contexts = {e.metadata["contextArn"].split(":")[2] for e in decrypts}
    assert contexts == {"secretsmanager", "ssm"}


def test_throttled_call_is_an_error_on_an_unknown_resource(
    invictus_events: list[AccessEvent],
) -> None:
    throttled = [e for e in invictus_events if e.error and e.error.startswith("Throttling")]
    assert len(throttled) == 38 + 39 + 25  # DeleteParameter, DescribeParameters, PutParameter
    assert {e.outcome for e in throttled} == {"error"}
    assert {e.error for e in throttled} == {"ThrottlingException: Rate exceeded"}
    deletes = [e for e in throttled if e.operation == "DeleteParameter"]
    assert {e.resource for e in deletes} == {UNKNOWN_RESOURCE}


def test_user_agent_keeps_the_stratus_tag_at_the_end_of_terraform_agents(
    invictus_events: list[AccessEvent],
) -> None:
    created = [e for e in invictus_events if e.operation == "CreateSecret"]
    assert all("stratus-red-team_" in (e.user_agent or "") for e in created)


def test_one_event_per_line_gives_the_same_events_as_the_records_file(
    invictus_files: list[Path], invictus_events: list[AccessEvent]
) -> None:
    parser = CloudTrailParser()
    events, ignored = [], Counter()
    for path in invictus_files:
        for record in orjson.loads(path.read_bytes())["Records"]:
            try:
                events.extend(parser.parse(orjson.dumps(record)))
            except Ignored as exc:
                ignored[exc.reason] += 1
    assert events == invictus_events
    assert sum(ignored.values()) == 2900 - len(events)
    assert parser.drain_ignored() == Counter()  # single events raise, they are not counted


def test_gzipped_records_file_parses_after_decompression(invictus_files: list[Path]) -> None:
    raw = invictus_files[0].read_bytes()
    compressed = gzip.compress(raw)
    assert CloudTrailParser().parse(gzip.decompress(compressed)) == CloudTrailParser().parse(raw)


# -- zmallen: Datadog-forwarded exports of Stratus detonations ------------------------


def test_zmallen_burst_is_ten_reads_by_one_assumed_role(zmallen: Path) -> None:
    parser = CloudTrailParser()
    path = zmallen / "aws.credential-access.secretsmanager-retrieve-secrets.json"
    events = parser.parse(path.read_bytes())
    assert len(events) == 10
    assert {e.identity for e in events} == {"arn:aws:iam::677301038893:role/account-admin"}
    assert {e.identity_name for e in events} == {
        "arn:aws:sts::677301038893:assumed-role/account-admin/christophe.tafanidereeper"
    }
    assert {e.action for e in events} == {"read"}
    assert len({e.resource for e in events}) == 10
    assert max(e.time for e in events) - min(e.time for e in events) <= 2
    # The forwarder moved sourceIPAddress and userAgent; they are still found.
    assert {e.client_ip for e in events} == {"62.167.105.104"}
    assert {e.user_agent for e in events} == {
        "stratus-red-team_05dbb79c-68f8-436e-ad26-ef7b3eaf9f94"
    }
    assert {e.metadata["mfaAuthenticated"] for e in events} == {"true"}
    assert {e.metadata["sessionName"] for e in events} == {"christophe.tafanidereeper"}
    assert {e.auth_method for e in events} == {"AssumedRole"}
    assert parser.drain_rejected() == [] and parser.drain_ignored() == Counter()


def test_zmallen_non_secret_exports_are_only_counted(zmallen: Path) -> None:
    parser = CloudTrailParser()
    names = (
        "aws.defense-evasion.cloudtrail-delete.json",
        "aws.exfiltration.ec2-share-ebs-snapshot.json",
    )
    for name in names:
        assert parser.parse((zmallen / name).read_bytes()) == []
    assert parser.drain_ignored() == Counter(
        {"cloudtrail cloudtrail DeleteTrail": 1, "cloudtrail ec2 ModifySnapshotAttribute": 1}
    )


def test_malformed_zmallen_file_is_a_dead_letter_and_its_records_are_salvaged(
    zmallen: Path,
) -> None:
    raw = (zmallen / "aws.execution.ec2-user-data.json").read_bytes()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)  # the source file really is broken (a missing comma)
    parser = CloudTrailParser()
    assert parser.parse(raw) == []
    (rejected,) = parser.drain_rejected()
    assert rejected.reason == "not JSON"
    assert "salvaged 3 records" in rejected.detail
    assert rejected.record == raw
    assert parser.drain_ignored() == Counter(
        {
            "cloudtrail ec2 StopInstances": 1,
            "cloudtrail ec2 ModifyInstanceAttribute": 1,
            "cloudtrail ec2 StartInstances": 1,
        }
    )


def test_salvaged_records_file_still_yields_its_secret_reads() -> None:
    good = orjson.dumps(_event())
    broken = b'{"Records": [' + good + b"\n" + orjson.dumps(_event(eventID="e2")) + b", {oops}]}"
    parser = CloudTrailParser()
    assert [e.event_id for e in parser.parse(broken)] == [_event()["eventID"], "e2"]
    reasons = [r.reason for r in parser.drain_rejected()]
    assert reasons == ["not JSON", "not JSON"]  # the file, and the one object that is not JSON


def test_truncated_records_file_keeps_the_complete_records() -> None:
    whole = orjson.dumps({"Records": [_event(eventID="a"), _event(eventID="b")]})
    parser = CloudTrailParser()
    assert [e.event_id for e in parser.parse(whole[:-40])] == ["a"]
    assert [r.reason for r in parser.drain_rejected()] == ["not JSON"]


# -- Panther's labelled rule tests ----------------------------------------------------


def test_panther_cloudtrail_test_events_parse_without_crashing(
    panther_cloudtrail_tests: list[dict],
) -> None:
    assert len(panther_cloudtrail_tests) == 40
    parser = CloudTrailParser()
    kept, ignored, rejected = {}, set(), {}
    for test in panther_cloudtrail_tests:
        try:
            (kept[test["test_name"]],) = parser.parse(orjson.dumps(test["log"]))
        except Ignored:
            ignored.add(test["test_name"])
        except ParseError as exc:
            rejected[test["test_name"]] = exc.reason
    assert len(kept) == 8 and len(ignored) == 27
    # Panther's batch examples are stripped to the fields its rules read: no time, no identity.
    assert set(rejected.values()) == {"cloudtrail record without eventTime"}
    assert "KMS Key Disabled" in ignored and "S3 Made Publicly Accessible" in ignored

    denied = kept["GetSecretValue Denied"]
    assert (denied.outcome, denied.error) == ("denied", "AccessDenied")
    assert denied.identity == (
        "arn:aws:iam::123123123123:role/aws-reserved/sso.amazonaws.com/us-west-2/"
        "AWSReservedSSO_DevAdmin_635426549a280cc6"
    )
    assert denied.identity_name.endswith("/evil.genius")
    assert len(kept["Multiple Secrets Accessed in Same Event"].resources) == 11
    assert kept["Single Secret Accessed in Single Event"].resource == (
        "/credentials/stratus-red-team/credentials-25"
    )
    service = kept["AWS Service Hostname as Source IP"]
    assert service.internal and service.client_ip is None
    assert service.identity == "arn:aws:iam::123456789012:role/MyAppRole"
    assert service.event_id.startswith("cloudtrail-")  # Panther left out the eventID
    kms = kept["KMS Key Non Deletion Event"]
    assert kms.resource == "arn:aws:kms:us-west-2:123456789012:key/1"  # lower-case "arn" key


def test_panther_space_separated_time_is_read_as_utc() -> None:
    event = _parse(_event(eventTime="2020-11-20 06:19:05.000"))
    assert event.time == 1605853145.0
    assert _parse(_event(eventTime="2025-02-14 19:43:09.000000000")).time == 1739562189.0


# -- outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Client.UnauthorizedOperation",
        "NotAuthorizedException",
    ],
)
def test_access_denied_is_outcome_denied(code: str) -> None:
    event = _parse(_event(errorCode=code, errorMessage="User: ana is not authorized"))
    assert event.outcome == "denied"
    assert event.error == f"{code}: User: ana is not authorized"


def test_other_error_codes_are_errors_with_a_truncated_message() -> None:
    event = _parse(_event(errorCode="ResourceNotFoundException", errorMessage="x" * 1000))
    assert event.outcome == "error"
    assert event.error is not None and event.error.startswith("ResourceNotFoundException: xx")
    assert len(event.error) == 200


def test_successful_call_is_ok_without_error() -> None:
    event = _parse(_event())
    assert (event.outcome, event.error) == ("ok", None)


# -- malformed input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"userIdentity": "arn:aws:iam::1:user/ana"}, "wrong type for userIdentity"),
        ({"userIdentity": None}, "cloudtrail record without userIdentity"),
        ({"eventTime": 1709284500}, "wrong type for eventTime"),
        ({"eventTime": None}, "cloudtrail record without eventTime"),
        ({"eventTime": "yesterday at noon"}, "bad timestamp"),
        ({"requestParameters": ["prod/payments/db"]}, "wrong type for requestParameters"),
        ({"errorCode": 403}, "wrong type for errorCode"),
        ({"eventName": 7}, "wrong type for eventName"),
        ({"eventName": None}, "cloudtrail record without eventName"),
    ],
)
def test_wrong_types_raise_parse_error_with_a_reason(change: dict, reason: str) -> None:
    assert _reason(_event(**change)) == reason


def test_identity_falls_back_to_the_account_then_fails() -> None:
    user = {"type": "IAMUser", "arn": ["not", "a", "string"]}
    assert _parse(_event(userIdentity=user)).identity == "IAMUser@111122223333"
    event = _event(userIdentity={"sessionContext": 3})
    del event["recipientAccountId"]
    assert _reason(event) == "cloudtrail userIdentity names no one"


def test_missing_time_is_reported_for_secret_access_only() -> None:
    # Out-of-scope events are not validated: skipping them must stay cheap.
    event = _event(eventSource="s3.amazonaws.com", eventName="GetObject")
    del event["eventTime"]
    with pytest.raises(Ignored):
        CloudTrailParser().parse(orjson.dumps(event))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2", "not JSON"),
        (b"42", "not a JSON object"),
        (b'"GetSecretValue"', "not a JSON object"),
        (b'{"Records": {"eventName": "GetSecretValue"}}', "wrong type for Records"),
        (b'{"hello": "world"}', "not a cloudtrail record"),
    ],
)
def test_malformed_documents_raise_parse_error(raw: bytes, reason: str) -> None:
    assert _reason(raw) == reason


def test_one_malformed_record_does_not_lose_the_others() -> None:
    records = [
        _event(eventID="good-1"),
        _event(eventID="bad-user", userIdentity="ana"),
        "not an object",
        _event(eventID="s3", eventSource="s3.amazonaws.com", eventName="GetObject"),
        _event(eventID="good-2", eventName="DescribeSecret"),
        _event(eventID="bad-time", eventTime=12),
    ]
    parser = CloudTrailParser()
    events = parser.parse(orjson.dumps({"Records": records}))
    assert [e.event_id for e in events] == ["good-1", "good-2"]
    rejected = parser.drain_rejected()
    assert [r.reason for r in rejected] == [
        "wrong type for userIdentity",
        "cloudtrail record is not a JSON object",
        "wrong type for eventTime",
    ]
    assert orjson.loads(rejected[0].record)["eventID"] == "bad-user"  # replayable
    assert parser.drain_ignored() == Counter({"cloudtrail s3 GetObject": 1})
    assert parser.drain_rejected() == [] and parser.drain_ignored() == Counter()


def test_rejected_record_is_cut_to_the_configured_size() -> None:
    parser = CloudTrailParser(max_rejected_bytes=100)
    parser.parse(orjson.dumps({"Records": [_event(userIdentity="x" * 5000)]}))
    (rejected,) = parser.drain_rejected()
    assert len(rejected.record) == 100


def test_a_top_level_array_is_read_like_records() -> None:
    parser = CloudTrailParser()
    assert len(parser.parse(orjson.dumps([_event(), _event(eventID="2")]))) == 2


# -- what is kept, and how it maps ----------------------------------------------------


def test_non_secret_event_is_ignored_with_service_and_name() -> None:
    record = orjson.dumps(_event(eventSource="iam.amazonaws.com", eventName="CreateUser"))
    with pytest.raises(Ignored) as caught:
        CloudTrailParser().parse(record)
    assert caught.value.reason == "cloudtrail iam CreateUser"


@pytest.mark.parametrize(
    ("source", "name", "params", "action", "resource"),
    [
        ("secretsmanager", "GetSecretValue", {"secretId": "a"}, "read", "a"),
        ("secretsmanager", "ListSecrets", {}, "list", ANY_RESOURCE),
        ("secretsmanager", "DescribeSecret", {"secretId": "a"}, "read-metadata", "a"),
        ("secretsmanager", "CreateSecret", {"name": "a"}, "write", "a"),
        ("secretsmanager", "PutSecretValue", {"secretId": "a"}, "write", "a"),
        ("secretsmanager", "UpdateSecret", {"secretId": "a"}, "write", "a"),
        ("secretsmanager", "RestoreSecret", {"secretId": "a"}, "write", "a"),
        ("secretsmanager", "DeleteSecret", {"secretId": "a"}, "delete", "a"),
        ("kms", "Decrypt", {"keyId": "alias/app"}, "decrypt", "alias/app"),
        ("kms", "GenerateDataKey", {"keyId": "k"}, "decrypt", "k"),
        ("kms", "GenerateDataKeyWithoutPlaintext", {"keyId": "k"}, "decrypt", "k"),
        ("kms", "ReEncrypt", {"sourceKeyId": "k1", "destinationKeyId": "k2"}, "decrypt", "k1"),
        ("ssm", "GetParameter", {"name": "/a", "withDecryption": True}, "read", "/a"),
        ("ssm", "GetParametersByPath", {"path": "/app/", "recursive": True}, "read", "/app/"),
        ("ssm", "GetParameterHistory", {"name": "/a"}, "read", "/a"),
        ("ssm", "DescribeParameters", {}, "list", ANY_RESOURCE),
        ("ssm", "PutParameter", {"name": "/a", "value": "HIDDEN"}, "write", "/a"),
        ("ssm", "DeleteParameter", {"name": "/a"}, "delete", "/a"),
        ("ssm", "DeleteParameters", {"names": ["/a", "/b"]}, "delete", "/a"),
    ],
)
def test_secret_access_calls_map_to_actions(
    source: str, name: str, params: dict, action: str, resource: str
) -> None:
    event = _parse(
        _event(eventSource=f"{source}.amazonaws.com", eventName=name, requestParameters=params)
    )
    assert (event.mount, event.operation, event.action, event.resource) == (
        source,
        name,
        action,
        resource,
    )
    assert event.action in cloudtrail.ACTIONS


def test_batch_get_secret_value_keeps_every_secret_id() -> None:
    ids = ["prod/a", "prod/b", "arn:aws:secretsmanager:eu-west-1:1:secret:prod/c-AbCdEf"]
    event = _parse(_event(eventName="BatchGetSecretValue", requestParameters={"secretIdList": ids}))
    assert event.action == "read"
    assert event.resource == "prod/a"
    assert event.resources == tuple(ids)


def test_batch_get_secret_value_by_filter_reads_any_secret_and_keeps_the_filter() -> None:
    filters = [{"key": "tag-key", "values": ["!tagKeyThatWillNeverExist"]}]
    event = _parse(_event(eventName="BatchGetSecretValue", requestParameters={"filters": filters}))
    assert (event.action, event.resource, event.resources) == ("read", ANY_RESOURCE, ())
    assert event.metadata["filters"] == "tag-key=!tagKeyThatWillNeverExist"


def test_kms_decrypt_falls_back_to_the_secret_in_the_encryption_context() -> None:
    secret = "arn:aws:secretsmanager:eu-west-1:1:secret:prod/db-AbCdEf"
    event = _parse(
        _event(
            eventSource="kms.amazonaws.com",
            eventName="Decrypt",
            requestParameters={"encryptionContext": {"SecretARN": secret}},
        )
    )
    assert event.resource == secret


def test_assumed_role_is_identified_by_its_role_not_the_session() -> None:
    def session(name: str) -> dict:
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE:{name}",
            "arn": f"arn:aws:sts::111122223333:assumed-role/payments-api/{name}",
            "accountId": "111122223333",
            "accessKeyId": f"ASIA{name.upper()}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": "arn:aws:iam::111122223333:role/service/payments-api",
                    "userName": "payments-api",
                },
                "attributes": {"mfaAuthenticated": "false"},
            },
        }

    first, second = (_parse(_event(userIdentity=session(n))) for n in ("i-0abc", "i-0def"))
    assert (
        first.identity == second.identity == "arn:aws:iam::111122223333:role/service/payments-api"
    )
    assert first.identity_name == "arn:aws:sts::111122223333:assumed-role/payments-api/i-0abc"
    assert (first.credential, second.credential) == ("ASIAI-0ABC", "ASIAI-0DEF")
    assert first.metadata["sessionName"] == "i-0abc"
    assert first.token_type == first.auth_method == "AssumedRole"


def test_assumed_role_without_session_context_is_identified_by_its_role() -> None:
    user = {"type": "AssumedRole", "arn": "arn:aws-cn:sts::1:assumed-role/app/s-1"}
    assert _parse(_event(userIdentity=user)).identity == "arn:aws-cn:iam::1:role/app"


def test_aws_service_identity_is_the_service_and_internal() -> None:
    user = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    event = _parse(_event(userIdentity=user, sourceIPAddress="lambda.amazonaws.com"))
    assert (event.identity, event.internal, event.client_ip) == (
        "lambda.amazonaws.com",
        True,
        None,
    )
    assert event.credential is None


def test_reading_another_accounts_secret_keeps_both_accounts() -> None:
    event = _parse(_event(recipientAccountId="999988887777", vpcEndpointId="vpce-0abc"))
    assert event.metadata["accountId"] == "111122223333"
    assert event.metadata["recipientAccountId"] == "999988887777"
    assert event.metadata["vpcEndpointId"] == "vpce-0abc"


def test_iam_user_identity_and_metadata() -> None:
    event = _parse(_event())
    assert event.identity == event.identity_name == "arn:aws:iam::111122223333:user/ana"
    assert (event.credential, event.credential_hashed) == ("AKIAEXAMPLE", False)
    assert event.metadata == {"accountId": "111122223333", "awsRegion": "eu-west-1"}
    assert event.policies == ()
    assert event.time == 1709284500.0


@pytest.mark.parametrize(
    ("address", "client_ip", "internal"),
    [
        ("203.0.113.9", "203.0.113.9", False),
        ("2001:db8::7", "2001:db8::7", False),
        ("AWS Internal", None, True),
        ("secretsmanager.amazonaws.com", None, True),
        (None, None, False),
    ],
)
def test_client_ip_is_kept_only_when_it_is_an_address(
    address: str | None, client_ip: str | None, internal: bool
) -> None:
    event = _parse(_event(sourceIPAddress=address))
    assert (event.client_ip, event.internal) == (client_ip, internal)


def test_response_elements_never_reach_the_event() -> None:
    event = _parse(
        _event(
            eventName="CreateSecret",
            requestParameters={"name": "prod/db"},
            responseElements={"arn": "arn:aws:secretsmanager:x", "SecretString": "hunter2"},
        )
    )
    assert b"hunter2" not in msgspec.json.encode(event)


def test_eventbridge_envelope_is_unwrapped() -> None:
    envelope = {
        "version": "0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.secretsmanager",
        "time": "2024-03-01T09:15:03Z",
        "detail": _event(),
    }
    assert _parse(envelope).event_id == _event()["eventID"]


def test_digest_files_are_ignored() -> None:
    digest = {"awsAccountId": "1", "digestStartTime": "2024-03-01T09:00:00Z", "logFiles": []}
    with pytest.raises(Ignored, match="digest"):
        CloudTrailParser().parse(orjson.dumps(digest))


def test_missing_event_id_gets_a_stable_synthetic_id() -> None:
    event = _event()
    del event["eventID"]
    first, again = _parse(event), _parse(event)
    assert first.event_id == again.event_id and first.event_id.startswith("cloudtrail-")
    assert _parse(_event(eventID=None, eventTime="2024-03-01T09:15:01Z")).event_id != first.event_id


def test_nothing_is_held_back_and_there_is_nothing_to_announce() -> None:
    parser = CloudTrailParser()
    parser.parse(orjson.dumps(_event()))
    assert parser.flush() == [] and parser.flush(final=True) == []
    assert parser.drain_notices() == []


def test_docstring_example_runs() -> None:
    failures, tried = doctest.testmod(cloudtrail, raise_on_error=False)[:2]
    assert tried > 0 and failures == 0


def test_parses_tens_of_thousands_of_events_per_second() -> None:
    kept = orjson.dumps(_event())
    skipped = orjson.dumps(_event(eventSource="s3.amazonaws.com", eventName="GetObject"))
    records = orjson.dumps({"Records": [orjson.loads(kept), orjson.loads(skipped)] * 10_000})
    parser = CloudTrailParser()
    started = time.perf_counter()
    events = parser.parse(records)
    elapsed = time.perf_counter() - started
    assert len(events) == 10_000
    # Measured well above 50,000/s; the bound leaves room for slow CI machines.
    assert 20_000 / elapsed > 10_000
