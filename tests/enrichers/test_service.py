"""The service inventory: loading, validation errors, identity and network matching."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from detector.enrichers import Inventory, ServiceEnricher
from detector.errors import ConfigError
from detector.event import EnrichedEvent, ServiceInfo


@pytest.fixture(scope="module")
def inventory(example_inventory: Path) -> Inventory:
    return Inventory.load(example_inventory)


@pytest.fixture
def enricher(inventory: Inventory) -> ServiceEnricher:
    return ServiceEnricher(inventory)


def _service(enricher: ServiceEnricher, event: EnrichedEvent) -> str | None:
    enricher.enrich(event)
    return event.service.name if event.service else None


# -- the example file ---------------------------------------------------------------


def test_example_inventory_loads_every_service(inventory: Inventory) -> None:
    assert [s.name for s in inventory] == ["cart", "billing", "ci", "ops-people"]
    cart, billing = inventory.get("cart"), inventory.get("billing")
    assert cart is not None and billing is not None
    assert (cart.team, cart.environment, cart.criticality, cart.auto_revoke) == (
        "shop",
        "prod",
        "high",
        True,
    )
    assert (billing.criticality, billing.auto_revoke) == ("critical", False)
    assert "secret/data/shop/cart/*" in cart.namespaces


# -- identity matching --------------------------------------------------------------


def test_identity_matches_by_approle_role_name(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(identity="ent-7", metadata={"role_name": "cart"})

    assert _service(enricher, event) == "cart"


def test_identity_matches_by_kubernetes_or_jwt_role(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(identity="ent-8", metadata={"role": "billing-worker"})

    assert _service(enricher, event) == "billing"


def test_identity_matches_by_display_name_glob(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(identity="ent-9", identity_name="jwt-gitlab-project-42")

    assert _service(enricher, event) == "ci"


def test_identity_matches_by_any_policy(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(identity="ent-10", policies=("default", "billing-app"))

    assert _service(enricher, event) == "billing"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:iam::111122223333:role/cart-api", "cart"),
        # CloudTrail logs the session; the inventory names the role.
        ("arn:aws:sts::111122223333:assumed-role/cart-api/i-0abc", "cart"),
        ("arn:aws:sts::111122223333:assumed-role/ci-deploy/job-991", "ci"),
        ("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_OpsAdmin_1a2b/bob", "ops-people"),
        ("arn:aws:iam::999999999999:role/cart-api", None),  # another account
    ],
)
def test_identity_matches_by_arn_glob(
    enricher: ServiceEnricher,
    make_event: Callable[..., EnrichedEvent],
    arn: str,
    expected: str | None,
) -> None:
    event = make_event(source="cloudtrail", identity=arn)

    assert _service(enricher, event) == expected


def test_identity_matches_by_entity_id_and_username(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    by_entity = make_event(identity="5c1e1f0a-4d0e-4c8b-9a53-0f3e2b7d9c11")
    by_username = make_event(identity="ent-11", metadata={"username": "breakglass"})

    assert _service(enricher, by_entity) == "ops-people"
    assert _service(enricher, by_username) == "ops-people"


def test_identity_matching_no_service_gets_none(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(identity="ent-12", identity_name="token-abc", policies=("default",))

    assert _service(enricher, event) is None


def test_first_matching_service_in_file_order_wins(
    make_event: Callable[..., EnrichedEvent],
) -> None:
    inventory = Inventory.from_dict(
        {
            "service": [
                {"name": "narrow", "match": {"role_names": ["shared"]}},
                {"name": "broad", "match": {"role_names": ["shared"], "display_names": ["*"]}},
            ]
        }
    )
    enricher = ServiceEnricher(inventory)

    assert _service(enricher, make_event(metadata={"role_name": "shared"})) == "narrow"
    assert _service(enricher, make_event(identity_name="anyone")) == "broad"


def test_identity_answers_are_the_same_with_and_without_cache(
    inventory: Inventory, make_event: Callable[..., EnrichedEvent]
) -> None:
    cached, uncached = ServiceEnricher(inventory), ServiceEnricher(inventory, cache_size=0)
    events = [
        {"identity": "ent-1", "metadata": {"role_name": "cart"}},
        {"identity": "ent-1", "metadata": {"role_name": "billing"}},  # same id, other role
        {"identity": "ent-1", "metadata": {"role_name": "cart"}},
        {"identity": "ent-2", "policies": ("ops-admin",)},
    ]
    for fields in events:
        assert _service(cached, make_event(**fields)) == _service(uncached, make_event(**fields))


# -- network ownership --------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "owner"),
    [
        ("10.1.1.9", "cart"),
        ("10.9.3.4", "ci"),  # ci's /16 beats ops-people's /8
        ("10.200.0.1", "ops-people"),
        ("192.168.10.7", "ops-people"),
        ("::ffff:10.1.0.5", "cart"),
        ("8.8.8.8", None),
        ("not-an-ip", None),
    ],
)
def test_network_owner_is_the_longest_matching_prefix(
    enricher: ServiceEnricher,
    make_event: Callable[..., EnrichedEvent],
    ip: str,
    owner: str | None,
) -> None:
    event = make_event(client_ip=ip)

    enricher.enrich(event)

    assert (event.network_owner.name if event.network_owner else None) == owner


def test_network_owner_works_for_ipv6_and_a_shared_network_has_no_owner() -> None:
    inventory = Inventory.from_dict(
        {
            "service": [
                {"name": "wide", "match": {"role_names": ["w"], "cidrs": ["fd00:1::/32"]}},
                {"name": "narrow", "match": {"role_names": ["n"], "cidrs": ["fd00:1:2::/48"]}},
                {"name": "twin", "match": {"role_names": ["t"], "cidrs": ["fd00:1::/32"]}},
            ]
        }
    )

    assert _name(inventory.network_owner("fd00:1:2::5")) == "narrow"
    assert inventory.network_owner("fd00:1:3::5") is None  # wide and twin both claim it
    assert inventory.network_owner("fd00:2::1") is None


def test_a_place_without_identities_owns_no_credentials() -> None:
    inventory = Inventory.from_dict(
        {"service": [{"name": "bastion", "match": {"cidrs": ["10.9.0.0/24"]}}]}
    )
    assert inventory.network_owner("10.9.0.4") is None


def test_credential_used_from_another_services_network_is_visible(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(metadata={"role_name": "cart"}, client_ip="10.9.0.20")

    enricher.enrich(event)

    assert _name(event.service) == "cart"
    assert _name(event.network_owner) == "ci"


def test_enrich_never_overwrites_service_or_network_owner(
    enricher: ServiceEnricher, make_event: Callable[..., EnrichedEvent]
) -> None:
    event = make_event(metadata={"role_name": "cart"}, client_ip="10.9.0.20")
    preset = ServiceInfo(name="from-an-earlier-enricher")
    event.service = event.network_owner = preset

    enricher.enrich(event)

    assert event.service is preset and event.network_owner is preset


def test_empty_inventory_knows_no_service(make_event: Callable[..., EnrichedEvent]) -> None:
    enricher = ServiceEnricher(Inventory.empty())
    event = make_event(metadata={"role_name": "cart"}, client_ip="10.1.0.1")

    enricher.enrich(event)

    assert (event.service, event.network_owner) == (None, None)
    assert len(Inventory.empty()) == 0


# -- validation ---------------------------------------------------------------------

_CART = '[[service]]\nname = "cart"\n'
_BILLING = '[[service]]\nname = "billing"\n'


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            _CART
            + _BILLING
            + '[[service]]\nname = "ci"\n[service.match]\ncidrs = ["10.1.0.0/33"]\n',
            "service[2].match.cidrs[0]",
            "not a network: '10.1.0.0/33'",
        ),
        (
            _CART + '[service.match]\ncidrs = ["10.1.0.0/24", "10.1.0.5/24"]\n',
            "service[0].match.cidrs[1]",
            "not a network: '10.1.0.5/24' (host bits set; the network is 10.1.0.0/24)",
        ),
        (_CART + 'teem = "shop"\n', "service[0].teem", "unknown key; expected one of: name, "),
        (
            _CART + _BILLING + '[service.match]\nrole = ["billing"]\n',
            "service[1].match.role",
            "unknown key; expected one of: entity_ids, ",
        ),
        ('[[services]]\nname = "cart"\n', "services", "unknown key; expected one of: service"),
        (_CART + "team = 7\n", "service[0].team", "expected a string, got an integer"),
        (_CART + 'auto_revoke = "yes"\n', "service[0].auto_revoke", "expected true or false"),
        (
            _CART + '[service.match]\nrole_names = "cart"\n',
            "service[0].match.role_names",
            "expected an array, got a string",
        ),
        ('[service]\nname = "cart"\n', "service", "expected an array, got a table"),
        (
            _CART + 'criticality = "huge"\n',
            "service[0].criticality",
            "not one of low, medium, high, critical: 'huge'",
        ),
        ('[[service]]\nteam = "shop"\n', "service[0].name", "missing required key"),
        (_CART + _CART, "service[1].name", "duplicate service name 'cart' (also service[0])"),
        ('[[service]\nname = "cart"\n', "", "not valid TOML"),
    ],
)
def test_bad_inventory_is_rejected_naming_file_and_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = tmp_path / "inventory.toml"
    path.write_text(text)

    with pytest.raises(ConfigError) as caught:
        Inventory.load(path)

    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert caught.value.problem.startswith(problem)
    assert str(path) in str(caught.value)


def test_missing_inventory_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigError, match="cannot read inventory") as caught:
        Inventory.load(path)

    assert caught.value.file == str(path)


def test_inline_inventory_errors_name_the_given_file() -> None:
    data: dict[str, Any] = {"service": [{"name": "cart", "match": {"cidrs": ["nope"]}}]}

    with pytest.raises(ConfigError) as caught:
        Inventory.from_dict(data, file="pipelines/prod.toml")

    assert (caught.value.file, caught.value.key) == (
        "pipelines/prod.toml",
        "service[0].match.cidrs[0]",
    )


def _name(info: ServiceInfo | None) -> str | None:
    return info.name if info else None
