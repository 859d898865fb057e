"""Resource: secrets, folders and mounts new to the identity; reads outside its namespaces."""

from __future__ import annotations

import random

from detector.detectors import Resource
from detector.detectors.resource import normalise_path

from .conftest import (
    CRITICAL,
    HIGH,
    LOW,
    MEDIUM,
    PAYMENTS,
    T0,
    feed,
    last_time,
    learner,
    make_event,
    routine,
    score,
)

APP_SECRETS = ("secret/data/app/db", "secret/data/app/api", "secret/data/app/cache")


def steady_service() -> tuple:
    """A service that read the same three secrets around the clock for ten days."""
    history = routine(
        days=10,
        per_hour=4,
        hours=range(24),
        weekdays_only=False,
        resources=APP_SECRETS,
        sensitivity=MEDIUM,
    )
    model = learner(Resource())
    feed(model, history)
    return model, last_time(history) + 60


def read(time: float, resource: str, sensitivity=MEDIUM, identity: str = "svc", **fields):
    return make_event(time, identity, resource=resource, sensitivity=sensitivity, **fields)


def test_known_secret_scores_nothing_in_any_of_its_forms():
    model, t = steady_service()
    assert score(model, read(t, "secret/data/app/db")) is None
    assert score(model, read(t, "secret/metadata/app/db", action="list")) is None
    assert score(model, read(t, "/secret/data/app/db/")) is None


def test_new_mount_weighs_more_than_new_secret_in_known_folder():
    model, t = steady_service()
    new_secret = score(model, read(t, "secret/data/app/new"))
    new_folder = score(model, read(t, "secret/data/other/x"))
    new_mount = score(model, read(t, "kv/data/app/x"))
    assert new_secret is not None and new_folder is not None and new_mount is not None
    assert new_secret.score < new_folder.score < new_mount.score
    assert "(medium, a new secret in a folder it knows)" in new_secret.reason
    assert "(medium, in a folder it never touched)" in new_folder.reason
    assert "(medium, in a mount it never used)" in new_mount.reason


def test_reason_names_the_new_resource_and_how_often_the_identity_meets_new_ones():
    model, t = steady_service()
    finding = score(model, read(t, "kv/data/app/x"))
    assert finding.reason.startswith("first read of kv/data/app/x")
    assert "by svc" in finding.reason
    assert "in a mount it never used" in finding.reason
    assert "who touches something new in" in finding.reason
    assert finding.instant == 0.0


def test_sensitive_secret_weighs_more():
    model, t = steady_service()
    scores = [score(model, read(t, "kv/data/app/x", level)).score for level in (LOW, MEDIUM, HIGH)]
    assert scores == sorted(scores) and scores[0] < scores[-1]
    critical = score(model, read(t, "kv/data/app/x", CRITICAL))
    assert critical.score > scores[-1]
    assert "(critical, in a mount it never used)" in critical.reason


def test_first_read_by_a_steady_service_scores_high():
    model, t = steady_service()
    assert score(model, read(t, "kv/data/admin/root", CRITICAL)).score >= 0.7


def test_identity_that_often_reads_new_paths_scores_lower():
    rng = random.Random(1)
    browsing = [
        read(
            T0 + i * 600,
            f"secret/data/team{rng.randint(0, 20)}/{rng.randint(0, 50)}",
            identity="admin",
        )
        for i in range(1000)
    ]
    admin = learner(Resource())
    feed(admin, browsing)
    model, t = steady_service()
    t = max(t, last_time(browsing) + 60)
    for path in ("secret/data/app/new", "secret/data/other/x", "kv/data/app/x"):
        for_admin = score(admin, read(t, path, identity="admin"))
        for_service = score(model, read(t, path))
        assert for_admin.score < for_service.score / 4, path
    assert "who touches something new in" in for_admin.reason


def test_read_outside_service_namespace_needs_no_history():
    model = learner(Resource())
    outside = read(T0, "secret/data/billing/db", HIGH, "pay", service=PAYMENTS)
    finding = score(model, outside)
    assert finding is not None and finding.instant > 0.0
    assert finding.instant == finding.score, "nothing learned, nothing else to say"
    assert "read of secret/data/billing/db (high) is outside payments-api's namespaces" in (
        finding.reason
    )
    assert "secret/data/payments/*" in finding.reason
    for inside in ("secret/data/payments/db", "database/creds/payments-ro"):
        assert score(model, read(T0, inside, HIGH, "pay", service=PAYMENTS)) is None


def test_read_outside_namespace_counts_every_resource_of_a_batch():
    model = learner(Resource())
    batch = read(
        T0,
        "secret/data/payments/db",
        HIGH,
        "pay",
        service=PAYMENTS,
        resources=("secret/data/payments/db", "secret/data/hr/salaries"),
    )
    finding = score(model, batch)
    assert finding is not None and "secret/data/hr/salaries" in finding.reason


def test_new_mount_in_a_batch_is_found():
    model, t = steady_service()
    batch = read(t, APP_SECRETS[0], resources=(APP_SECRETS[0], "kv/data/x/y", "kv/data/x/z"))
    finding = score(model, batch)
    assert finding is not None
    assert "(medium, in a mount it never used)" in finding.reason
    assert "and 1 more new" in finding.reason


def test_lease_and_token_ids_do_not_make_every_path_new():
    lookups = [
        read(
            T0 + 60 * i,
            f"sys/leases/lookup/database/creds/app/{random.Random(i).randbytes(12).hex()}",
        )
        for i in range(200)
    ]
    model = learner(Resource())
    feed(model, lookups)
    later = read(T0 + 60 * 300, "sys/leases/lookup/database/creds/app/00112233445566778899aabb")
    assert score(model, later) is None
    assert normalise_path(later.event.resource)[0] == "sys/leases/lookup/database/creds/app/*"


def test_login_and_token_housekeeping_are_not_resources():
    model, t = steady_service()
    for action, path in (("login", "auth/approle/login"), ("token-renew", "auth/token/renew-self")):
        assert score(model, read(t, path, action=action)) is None
