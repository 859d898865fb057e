"""Credential lifecycle: root tokens, orphans, first and long-lived tokens, revoked tokens."""

from __future__ import annotations

from detector.detectors import Lifecycle

from .conftest import DAY, HOUR, T0, feed, last_time, learner, make_event, routine, score


def mint(
    time: float,
    identity: str = "svc",
    ttl: int | None = 3600,
    orphan: bool = False,
    policies: tuple[str, ...] = ("default",),
    **fields,
):
    """A token-create call that minted a new token."""
    return make_event(
        time,
        identity,
        action="token-create",
        resource="auth/token/create-orphan" if orphan else "auth/token/create",
        new_credential=f"acc-new-{time}",
        new_credential_ttl=ttl,
        new_credential_orphan=orphan,
        new_credential_policies=policies,
        **fields,
    )


def minting_service(n: int = 50, **fields) -> tuple:
    """An identity that minted ``n`` one-hour tokens, one an hour."""
    model = learner(Lifecycle())
    feed(model, [mint(T0 + i * HOUR, **fields) for i in range(n)])
    return model, T0 + n * HOUR


def test_ordinary_calls_score_nothing():
    model, t = minting_service()
    assert score(model, make_event(t)) is None
    assert score(model, mint(t)) is None


def test_root_token_use():
    model = learner(Lifecycle())
    finding = score(model, make_event(T0, "ops", policies=("default", "root")))
    assert finding is not None and finding.instant >= 0.9
    assert "root token used by ops for read secret/data/app/db" in finding.reason


def test_token_with_the_root_policy_is_instant():
    model, t = minting_service()
    finding = score(model, mint(t, policies=("root",)))
    assert finding is not None and finding.instant >= 0.9
    assert "created a token with the root policy" in finding.reason


def test_orphan_token_creation():
    model, t = minting_service()
    finding = score(model, mint(t, orphan=True))
    assert finding is not None and finding.instant >= 0.5
    assert "svc created an orphan token" in finding.reason


def test_orphan_token_from_an_identity_that_always_makes_them_scores_nothing():
    model, t = minting_service(orphan=True)
    assert score(model, mint(t, orphan=True)) is None


def test_first_token_minted_after_long_history():
    history = routine(days=10, per_hour=2)
    model = learner(Lifecycle())
    feed(model, history)
    finding = score(model, mint(last_time(history) + 60))
    assert finding is not None and finding.score >= 0.5
    assert finding.instant == 0.0, "compared with history: damped while learning"
    assert f"first token ever minted by svc after {len(history):,} requests" in finding.reason


def test_first_token_of_a_new_identity_is_not_a_surprise():
    model = learner(Lifecycle())
    assert score(model, mint(T0, "newcomer")) is None


def test_ttl_far_above_previous_tokens():
    model, t = minting_service()
    finding = score(model, mint(t, ttl=int(30 * DAY)))
    assert finding is not None and finding.score >= 0.5
    assert finding.instant == 0.0
    assert "token TTL 720h" in finding.reason
    assert "lived at most 1h" in finding.reason
    assert score(model, mint(t, ttl=2 * 3600)) is None, "twice as long is within habit"


def test_long_ttl_from_an_identity_without_token_history():
    model = learner(Lifecycle())
    finding = score(model, mint(T0, "newcomer", ttl=int(30 * DAY)))
    assert finding is not None and finding.instant > 0.0
    assert "long-lived token created by newcomer: TTL 720h" in finding.reason
    assert score(model, mint(T0, "newcomer", ttl=3600)) is None


def test_revoked_token_use():
    model = learner(Lifecycle())
    finding = score(model, make_event(T0, "svc", metadata={"credential_state": "invalid"}))
    assert finding is not None and finding.instant >= 0.5
    assert "Vault no longer accepts" in finding.reason
    assert "someone else still holds it" in finding.reason


def test_audit_device_change_and_root_generation():
    model = learner(Lifecycle())
    audit = score(
        model, make_event(T0, action="admin", resource="sys/audit/file", operation="delete")
    )
    assert audit is not None and audit.instant >= 0.8
    assert "audit device changed (delete sys/audit/file)" in audit.reason
    generate = score(model, make_event(T0, action="admin", resource="sys/generate-root/attempt"))
    assert generate is not None and generate.instant > 0.5
    assert score(model, make_event(T0, action="read", resource="sys/audit")) is None


def test_several_signs_combine_and_the_strongest_reason_comes_first():
    model, t = minting_service()
    finding = score(model, mint(t, policies=("root",), orphan=True, ttl=int(90 * DAY)))
    root_only = score(model, mint(t, policies=("root",)))
    assert finding.score > root_only.score
    assert finding.reason.index("root policy") < finding.reason.index("orphan")
