"""Redaction: Vault tokens and AWS secret keys never reach an output; HMACs, accessors,
ids and paths stay readable."""

from __future__ import annotations

import orjson
import pytest

from detector.redaction import redact

SECRETS = {
    "service token": "hvs.CAESIJ1n2fakeTokenValue1234567890abcdefGh4KHGh2cy5aWkxu",
    "batch token": "hvb.AAAAAQJ0dGVzdGluZ19iYXRjaF90b2tlbl92YWx1ZQ",
    "recovery token": "hvr.AAAAAQJ0dGVzdGluZ19yZWNvdmVyeV90b2tlbg",
    "legacy service token": "s.Ga1bC2dE3fG4hI5jK6lM7nO8",
    "legacy batch token": "b.AAAAAQKb3j9fakeBatchTokenValue",
    "AWS secret access key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}
KEPT = {
    "HMAC": "hmac-sha256:231278e148264ae0e4686c87069bd6702faa634c97256caa2a57aacc12c0e0a0",
    "accessor": "Qr4B0fa85Bi1nPLq37PJIjIQ",
    "AWS access key id": "AKIAIOSFODNN7EXAMPLE",
    "request id": "1785e6b1-e9de-e852-89da-e936104c2c4e",
    "path": "secret/data/shop/cart/db",
    "short s. word": "s.short",
    "41 characters": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1",
}


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_secret_in_a_json_value_is_redacted(secret):
    text = orjson.dumps({"client_token": secret, "path": "secret/data/x"}).decode()
    redacted = redact(text)
    assert secret not in redacted
    assert orjson.loads(redacted) == {"client_token": "<redacted>", "path": "secret/data/x"}


@pytest.mark.parametrize(
    "template",
    ["X-Vault-Token: {}", "token={}&x=1", "'{}'", "export VAULT_TOKEN={}\n", "[{}, 1]"],
)
def test_vault_token_is_redacted_wherever_it_stands(template):
    token = SECRETS["service token"]
    assert token not in redact(template.format(token))
    assert "<redacted>" in redact(template.format(token))


@pytest.mark.parametrize(
    "template", ["aws_secret_access_key = {}\n", "secret={} ", '"SecretAccessKey":"{}"']
)
def test_aws_secret_key_is_redacted_between_delimiters(template):
    key = SECRETS["AWS secret access key"]
    assert redact(template.format(key)) == template.format("<redacted>")


@pytest.mark.parametrize("value", KEPT.values(), ids=KEPT.keys())
def test_hmacs_accessors_ids_and_paths_are_kept(value):
    text = orjson.dumps({"value": value}).decode()
    assert redact(text) == text


def test_every_secret_in_one_text_is_redacted():
    text = orjson.dumps(SECRETS).decode()
    redacted = orjson.loads(redact(text))
    assert set(redacted.values()) == {"<redacted>"}


def test_real_openbao_audit_entries_pass_through_unchanged(shared_dir):
    """The audit device already hashes tokens: its own entries lose nothing."""
    text = (shared_dir / "samples" / "openbao-audit.jsonl").read_text()
    assert "hmac-sha256:" in text
    assert redact(text) == text


SECRET_VALUE = "correct-horse-battery-staple-42"


@pytest.mark.parametrize(
    "record",
    [
        {"request": {"path": "kv/data/app", "data": {"data": {"api_key": SECRET_VALUE}}}},
        {"response": {"data": {"password": SECRET_VALUE, "username": "v-app-1"}}},
        {"response": {"data": {"keys": [SECRET_VALUE, "other"]}}},
        {"auth": {"client_token": SECRET_VALUE}},
        {"request": {"data": {"secret_id": SECRET_VALUE}}},
        {"responseElements": {"SecretString": SECRET_VALUE}},
    ],
    ids=["written", "read", "in a list", "token", "secret id", "cloudtrail"],
)
def test_secret_values_are_redacted_whole_or_truncated(record):
    text = orjson.dumps({"time": "2026-11-28T03:12:58Z", "type": "response", **record}).decode()
    assert SECRET_VALUE not in redact(text)
    assert orjson.loads(redact(text))["time"] == "2026-11-28T03:12:58Z"
    cut = text.index(SECRET_VALUE) + 8  # the line breaks inside the secret
    assert SECRET_VALUE[:8] not in redact(text[:cut])


def test_what_is_not_secret_stays_readable():
    record = {
        "request": {"id": "1785e6b1", "path": "kv/data/app", "data": {"x": "hmac-sha256:ab12"}},
        "response": {"data": {"metadata": {"created_time": "2026-11-28T03:12:58.2575Z"}}},
        "auth": {"accessor": "Qr4B0fa85Bi1nPLq37PJIjIQ", "policies": ["app"]},
    }
    text = orjson.dumps(record).decode()
    assert redact(text) == text
