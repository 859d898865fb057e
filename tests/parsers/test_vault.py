"""The Vault/OpenBao audit parser, against the real lines of an OpenBao 2.7.2 server."""

from __future__ import annotations

import orjson
import pytest

from detector.errors import ParseError
from detector.event import AccessEvent
from detector.parsers.base import Ignored
from detector.parsers.vault import VaultAuditParser


@pytest.fixture(scope="module")
def sample_lines(shared_dir) -> list[bytes]:
    return (shared_dir / "samples" / "openbao-audit.jsonl").read_bytes().splitlines()


@pytest.fixture(scope="module")
def sample_events(sample_lines) -> dict[str, AccessEvent]:
    parser = VaultAuditParser()
    events = []
    for line in sample_lines:
        events += parser.parse(line)
    events += parser.flush(final=True)
    assert parser.drain_notices() == []  # the sample has plaintext accessors
    return {e.event_id: e for e in events}


def by_prefix(events: dict[str, AccessEvent], prefix: str) -> AccessEvent:
    (match,) = [e for key, e in events.items() if key.startswith(prefix)]
    return match


def entry(**overrides) -> bytes:
    """A minimal, well-formed response entry, with fields replaced or added."""
    base = {
        "time": "2026-11-28T03:12:58.5Z",
        "type": "response",
        "auth": {"accessor": "acc1", "display_name": "approle", "entity_id": "ent-1"},
        "request": {
            "id": "req-1",
            "operation": "read",
            "path": "secret/data/x",
            "remote_address": "10.0.0.1",
            "client_token": "hmac-sha256:aa",
        },
    }
    base.update(overrides)
    return orjson.dumps(base)


def test_every_sample_line_parses_and_pairs_into_one_event_per_call(sample_lines):
    parser = VaultAuditParser()
    events = []
    for line in sample_lines:
        events += parser.parse(line)  # a ParseError here is a dead letter: none allowed
    events += parser.flush(final=True)
    calls = {orjson.loads(line)["request"].get("id") or line for line in sample_lines}
    assert len(events) == 65
    assert len({e.event_id for e in events}) == len(events)
    assert len(calls) - 1 <= len(events)  # one call lacks an id on both entries


def test_scored_event_is_built_from_the_response(sample_events):
    read = by_prefix(sample_events, "6fcd2794")
    assert read.action == "read"
    assert read.resource == "secret/data/shop/cart/db"
    assert read.mount == "secret/"
    assert read.outcome == "ok"
    assert read.client_ip == "10.1.0.5"
    assert read.user_agent == "vault-agent/1.17"
    assert read.credential == "18IUmgAWwebRxFL8Vqk9eTw4"
    assert read.identity == "4eaa4f6e-94b9-3b31-5348-251c32453787"
    assert read.identity_name == "approle"
    assert read.metadata == {"role_name": "cart"}
    assert read.policies == ("cart", "default")


def test_login_ties_the_new_accessor_to_the_entity(sample_events):
    login = by_prefix(sample_events, "0f5b9005")
    assert login.action == "login"
    assert login.identity == "4eaa4f6e-94b9-3b31-5348-251c32453787"
    assert login.credential == login.new_credential == "18IUmgAWwebRxFL8Vqk9eTw4"
    assert login.new_credential_ttl == 3600
    assert login.auth_method == "approle"
    person = by_prefix(sample_events, "bbeb0dc7")
    assert person.identity == "a652398c-0999-edc2-70a1-86fd2fe0fd6f"
    assert person.identity_name == "userpass-mia"
    assert person.new_credential_ttl == 768 * 3600


def test_failed_login_is_denied_and_belongs_to_the_address(sample_events):
    failed = by_prefix(sample_events, "4c2a8ed2")
    assert failed.action == "login"
    assert failed.outcome == "denied"
    assert failed.error == "invalid credentials"
    assert failed.identity == "anonymous@89.0.142.86"
    assert failed.metadata == {"login": "userpass/login/mia"}
    assert failed.credential is None


def test_permission_denied_read_is_denied(sample_events):
    denied = by_prefix(sample_events, "110f8d30")
    assert denied.outcome == "denied"
    assert denied.resource == "secret/data/shop/billing/card-vault-key"
    assert "permission denied" in denied.error


@pytest.mark.parametrize(
    ("request_id", "action", "resource"),
    [
        ("a1f5c727", "list", "secret/metadata/shop/"),
        ("d2eb7a68", "write", "secret/data/shop/cart/redis"),
        ("debc6a5f", "read", "kv-legacy/ops/smtp"),
        ("a03b2716", "token-lookup", "auth/token/lookup-self"),
        ("7254d4fa", "token-renew", "auth/token/renew-self"),
        ("6df2f75a", "token-revoke", "auth/token/revoke-accessor"),
        ("b1ee9ab3", "admin", "sys/policies/acl/cart"),
    ],
)
def test_operations_map_to_actions(sample_events, request_id, action, resource):
    event = by_prefix(sample_events, request_id)
    assert (event.action, event.resource) == (action, resource)


def test_renewal_is_not_a_new_credential(sample_events):
    renew = by_prefix(sample_events, "7254d4fa")
    assert renew.new_credential is None and renew.new_credential_ttl is None


def test_child_token_creation_records_the_child(sample_events):
    create = by_prefix(sample_events, "bc831262")
    assert create.action == "token-create"
    assert create.credential == "18IUmgAWwebRxFL8Vqk9eTw4"  # the creator's token
    assert create.new_credential == "1qtO6OBsgtdUWofRTOpbDTzR"
    assert create.new_credential_ttl == 2764800
    assert create.new_credential_policies == ("cart", "default")
    assert not create.new_credential_orphan


def test_child_token_used_abroad_keeps_its_entity(sample_events):
    abroad = by_prefix(sample_events, "62d88a48")
    assert abroad.client_ip == "177.67.80.10"
    assert abroad.credential == "1qtO6OBsgtdUWofRTOpbDTzR"
    assert abroad.identity == "4eaa4f6e-94b9-3b31-5348-251c32453787"
    assert abroad.identity_name == "token-debug"
    assert abroad.user_agent == "python-requests/2.31"


def test_revoked_token_use_is_attributed_to_its_owner(sample_events):
    after = by_prefix(sample_events, "04d867f9")
    assert after.outcome == "denied"
    assert after.identity == "4eaa4f6e-94b9-3b31-5348-251c32453787"
    assert after.credential == "1qtO6OBsgtdUWofRTOpbDTzR"
    assert after.metadata["credential_state"] == "invalid"


def test_unknown_token_is_anonymous(sample_events):
    unknown = by_prefix(sample_events, "c35d229c")
    assert unknown.identity == "anonymous@10.1.0.5"
    assert unknown.outcome == "denied"
    assert unknown.credential is None
    assert "credential_state" not in unknown.metadata


def test_internal_entries_are_marked_internal(sample_events):
    audit_test = by_prefix(sample_events, "1785e6b1")  # written when the device is enabled
    assert audit_test.internal and audit_test.resource == "sys/audit/test"
    assert audit_test.outcome == "unknown"  # Vault writes no response for it
    root = by_prefix(sample_events, "dev-gen-root")
    assert root.internal
    assert root.new_credential == "Ej64QTGYOfpjdYkiISXQnXuq"
    assert root.new_credential_orphan  # created with no_parent
    assert root.policies == ("root",)


def test_entries_without_request_id_pair_and_get_a_stable_id(sample_lines):
    no_id = [line for line in sample_lines if b'"path":"sys/mounts/secret"' in line]
    assert len(no_id) == 2 and b'"id":"' not in no_id[0].split(b'"request"')[1][:20]
    first, second = VaultAuditParser(), VaultAuditParser()
    events = first.parse(no_id[0]) + first.parse(no_id[1])
    again = second.parse(no_id[0]) + second.parse(no_id[1])
    assert len(events) == 1 and first.flush(final=True) == []
    assert events[0].event_id.startswith("vault-")
    assert events[0].event_id == again[0].event_id


def test_hashed_accessors_are_reported_once():
    parser = VaultAuditParser()
    hashed = {"accessor": "hmac-sha256:ab12", "display_name": "root", "policies": ["root"]}
    for n in range(3):
        parser.parse(entry(auth=hashed, request={"id": f"r{n}", "path": "x", "operation": "read"}))
    notices = parser.drain_notices()
    assert [n.code for n in notices] == ["hashed-accessor"]
    assert "hmac_accessor=false" in notices[0].message
    assert parser.drain_notices() == []


def test_hashed_accessor_events_say_so():
    parser = VaultAuditParser()
    (event,) = parser.parse(entry(auth={"accessor": "hmac-sha256:ab12", "display_name": "u"}))
    assert event.credential_hashed and event.credential == "hmac-sha256:ab12"


def test_unanswered_request_is_released_after_the_pair_timeout():
    parser = VaultAuditParser(pair_timeout=30)
    request = orjson.loads(entry())
    request["type"] = "request"
    assert parser.parse(orjson.dumps(request)) == []
    later = orjson.loads(entry(time="2026-11-28T03:14:00Z"))
    later["request"]["id"] = "req-2"
    later["type"] = "request"
    parser.parse(orjson.dumps(later))
    (released,) = parser.flush()
    assert released.event_id == "req-1" and released.outcome == "unknown"
    assert [e.event_id for e in parser.flush(final=True)] == ["req-2"]


def test_pending_requests_are_bounded():
    parser = VaultAuditParser(max_pending=2)
    released = []
    for n in range(5):
        request = orjson.loads(entry())
        request["type"], request["request"]["id"] = "request", f"r{n}"
        released += parser.parse(orjson.dumps(request))
    assert [e.event_id for e in released] == ["r0", "r1", "r2"]


def test_response_without_request_still_counts():
    (event,) = VaultAuditParser().parse(entry())
    assert event.event_id == "req-1" and event.outcome == "ok"


def test_a_raw_client_token_is_never_kept():
    token = "hvs.CAESIDoNotKeepThisTokenAnywhere1234"
    line = entry(
        request={"id": "r", "path": "secret/x", "operation": "read", "client_token": token}
    )
    (event,) = VaultAuditParser().parse(line)
    assert event.token_hash.startswith("sha256:")
    assert token not in repr(event)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (
            b'{"type": "response", "time": "2026-11-28T03:12:58Z"}',
            "vault entry without request object",
        ),
        (b'{"type": "response", "request": {"id": "x"}}', "vault entry without request.path"),
        (b'{"type": "banana", "request": {"path": "x"}}', "unknown vault entry type"),
        (b'{"type": "response", "time": 5, "request": {"path": "x"}}', "bad timestamp"),
        (entry(auth="not an object"), "vault entry with fields of the wrong type"),
    ],
)
def test_malformed_entries_raise_parse_error_with_a_reason(line, reason):
    with pytest.raises(ParseError) as raised:
        VaultAuditParser().parse(line)
    assert raised.value.reason == reason


def test_kmip_entries_are_ignored_not_dead():
    with pytest.raises(Ignored, match="kmip-request"):
        VaultAuditParser().parse(b'{"type": "kmip-request", "request": {"path": "x"}}')


def test_real_lab_log_parses_without_dead_letters(shared_dir):
    log = shared_dir / "realdata" / "hashicorp_vault-guides" / "vault-audit.log"
    parser = VaultAuditParser()
    events = [e for line in log.read_bytes().splitlines() for e in parser.parse(line)]
    events += parser.flush(final=True)
    assert len(events) == 699
    assert all(e.credential_hashed for e in events if e.credential)
    assert [n.code for n in parser.drain_notices()] == ["hashed-accessor"]


def test_elastic_sample_lines_parse(shared_dir):
    folder = shared_dir / "realdata" / "elastic_integrations_hashicorp_vault"
    parser = VaultAuditParser()
    outcomes = []
    for line in (folder / "test-audit.log").read_bytes().splitlines():
        try:
            outcomes += [e.outcome for e in parser.parse(line)]
        except Ignored as ignored:
            outcomes.append(ignored.reason)
    outcomes += [e.outcome for e in parser.flush(final=True)]
    assert "denied" in outcomes and "vault entry type kmip-request" in outcomes
