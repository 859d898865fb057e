"""Secret sensitivity from path globs: rule order, batches, defaults, bad levels."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from detector.enrichers import DEFAULT_RULES, SensitivityEnricher, SensitivityRule
from detector.enrichers.sensitivity import LEVELS
from detector.errors import ConfigError
from detector.event import EnrichedEvent, Sensitivity


def test_first_matching_rule_wins() -> None:
    exception_first = SensitivityEnricher([("*/prod/public/*", "low"), ("*prod*", "high")])
    broad_first = SensitivityEnricher([("*prod*", "high"), ("*/prod/public/*", "low")])
    path = "secret/data/prod/public/logo"

    assert exception_first.level_of(path) == Sensitivity("low", 0.25)
    assert broad_first.level_of(path) == Sensitivity("high", 0.8)
    assert exception_first.rule_for(path) == SensitivityRule("*/prod/public/*", "low")


def test_path_no_rule_matches_gets_the_default_level() -> None:
    enricher = SensitivityEnricher([("*prod*", "high")])
    lenient = SensitivityEnricher([("*prod*", "high")], default="low")

    assert enricher.level_of("secret/data/dev/cart") == Sensitivity("medium", 0.5)
    assert lenient.level_of("secret/data/dev/cart") == Sensitivity("low", 0.25)
    assert enricher.rule_for("secret/data/dev/cart") is None


def test_no_rules_at_all_gives_the_default() -> None:
    assert SensitivityEnricher([], default="high").level_of("anything") == Sensitivity("high", 0.8)


def test_matching_ignores_case() -> None:
    enricher = SensitivityEnricher([("*/billing/*", "critical")])

    assert enricher.level_of("arn:aws:secretsmanager:x:1:secret:Prod/Billing/Key").level == (
        "critical"
    )


def test_enrich_sets_the_level_of_the_resource(
    make_event: Callable[..., EnrichedEvent],
) -> None:
    enricher = SensitivityEnricher([("transit/decrypt/*", "high")])
    event = make_event(action="write", resource="transit/decrypt/payments")

    enricher.enrich(event)

    assert event.sensitivity == Sensitivity("high", 0.8)


def test_batch_call_is_as_sensitive_as_its_most_sensitive_resource(
    make_event: Callable[..., EnrichedEvent],
) -> None:
    enricher = SensitivityEnricher([("cubbyhole/*", "low"), ("*billing*", "critical")])
    batch = ("cubbyhole/a", "secret/data/shop/billing/stripe", "secret/data/shop/cart/db")

    for resources in (batch, batch[::-1]):
        event = make_event(resource=resources[0], resources=resources)
        enricher.enrich(event)
        assert event.sensitivity == Sensitivity("critical", 1.0)


def test_enrich_never_overwrites_sensitivity_already_set(
    make_event: Callable[..., EnrichedEvent],
) -> None:
    enricher = SensitivityEnricher([("*", "critical")])
    event = make_event()
    preset = Sensitivity("low", 0.25)
    event.sensitivity = preset

    enricher.enrich(event)

    assert event.sensitivity is preset


@pytest.mark.parametrize(
    ("rules", "default", "key"),
    [
        ([("*prod*", "high"), ("*", "secret")], "medium", "rules[1].level"),
        ([("*prod*", "HIGH")], "medium", "rules[0].level"),
        ([("*prod*", "high")], "extreme", "default"),
    ],
)
def test_unknown_level_is_rejected_at_construction(
    rules: list[tuple[str, str]], default: str, key: str
) -> None:
    with pytest.raises(ConfigError, match="not one of low, medium, high, critical") as caught:
        SensitivityEnricher(rules, default=default, file="pipelines/prod.toml")

    assert (caught.value.file, caught.value.key) == ("pipelines/prod.toml", key)


def test_levels_and_weights_are_fixed() -> None:
    assert dict(LEVELS) == {"low": 0.25, "medium": 0.5, "high": 0.8, "critical": 1.0}


def test_many_rules_compile_into_one_matcher_and_keep_their_order() -> None:
    rules = [(f"secret/data/team{i}/*", "low") for i in range(500)] + [("secret/*", "high")]
    enricher = SensitivityEnricher(rules)

    assert enricher.rule_for("secret/data/team499/x") == SensitivityRule(
        "secret/data/team499/*", "low"
    )
    assert enricher.level_of("secret/data/other/x").level == "high"


@pytest.mark.parametrize(
    ("path", "level"),
    [
        ("sys/generate-root/attempt", "critical"),
        ("sys/audit/file", "critical"),
        ("sys/seal", "critical"),
        ("sys/policy/admin", "high"),
        ("sys/policies/acl/admin", "high"),
        ("sys/auth/userpass", "high"),
        ("sys/health", "low"),
        ("sys/seal-status", "low"),
        ("sys/leases/renew", "low"),
        ("cubbyhole/response", "low"),
        ("auth/token/lookup-self", "low"),
        ("auth/approle/login", "low"),
        ("auth/approle/role/cart/secret-id", "high"),
        ("transit/decrypt/payments", "high"),
        ("transit/encrypt/cart", "medium"),
        ("transit/export/encryption-key/cart", "critical"),
        ("pki_int/issue/web", "medium"),
        ("pki/root/sign-intermediate", "critical"),
        ("secret/data/shop/billing/stripe", "high"),
        ("kv/data/payments-api", "high"),
        ("secret/data/prod/cart/db", "high"),
        ("database/creds/cart-prod", "high"),
        ("secret/data/shop/product-catalog/api", "medium"),
        ("secret/data/shop/cart/db", "medium"),
        ("database/creds/cart", "medium"),
        ("aws/creds/deploy", "high"),
        ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:dev/cart-AbCdEf", "medium"),
        ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/cart-AbCdEf", "high"),
        ("arn:aws:ssm:eu-west-1:111122223333:parameter/dev/cart/db", "medium"),
    ],
)
def test_default_rules_rank_vault_and_aws_paths(path: str, level: str) -> None:
    assert SensitivityEnricher(DEFAULT_RULES).level_of(path).level == level
