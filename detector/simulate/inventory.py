"""The organisation's service inventory, as the detector's service enricher reads it.

One ``[[service]]`` table per service, scheduled job, pipeline and team of people, with
what identifies them in the audit log (entity ids, display names, role names, policies),
the networks they use and the paths they are expected to touch. Services come first: an
identity belongs to the first entry that matches it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from detector.simulate.automation import NightlyJob
from detector.simulate.networks import POOLS
from detector.simulate.organisation import (
    CI_REPOS,
    CITIES,
    DEPLOY_PIPELINE,
    PEOPLE,
    SERVICES,
)
from detector.simulate.services import ServiceHost
from detector.simulate.world import World

__all__ = ["inventory_entries", "write_inventory"]

_TEAM_CRITICALITY = {"sre": "critical", "payments": "high"}
_TEAM_NAMESPACES = {
    "shop": (
        "secret/*/shop/*",
        "kv-legacy/shop/*",
        "database/creds/cart",
        "database/creds/inventory",
    ),
    "payments": (
        "secret/*/payments/*",
        "kv-legacy/payments/*",
        "database/creds/billing",
        "database/creds/payments-api",
    ),
    "platform": ("secret/*/platform/*", "pki_int/issue/*", "auth/token/create"),
    "data": ("secret/*/data/*", "database/creds/reporting-ro"),
    "sre": ("secret/*", "kv-legacy/*", "database/creds/*", "sys/*", "auth/*"),
}


def _entry(
    name: str,
    team: str,
    environment: str,
    criticality: str,
    auto_revoke: bool,
    *,
    entity_ids: Iterable[str] = (),
    display_names: Iterable[str] = (),
    role_names: Iterable[str] = (),
    policies: Iterable[str] = (),
    cidrs: Iterable[str] = (),
    namespaces: Iterable[str] = (),
) -> dict[str, object]:
    return {
        "name": name,
        "team": team,
        "environment": environment,
        "criticality": criticality,
        "auto_revoke": auto_revoke,
        "match": {
            "entity_ids": list(entity_ids),
            "display_names": list(display_names),
            "role_names": list(role_names),
            "policies": list(policies),
            "cidrs": list(dict.fromkeys(cidrs)),
            "namespaces": list(namespaces),
        },
    }


def inventory_entries(
    world: World, hosts: dict[str, list[ServiceHost]], jobs: list[NightlyJob]
) -> list[dict[str, object]]:
    """The inventory of the simulated organisation, in precedence order."""
    entries = []
    for spec in SERVICES:
        pool = POOLS[spec.pool]
        if pool.kind == "private":
            cidrs: list[str] = list(pool.cidrs)
        else:  # the cloud NAT gateways' addresses, whatever the number of hosts
            cidrs = [f"{ip}/32" for ip in hosts[spec.name][0].nat]
        if spec.auth == "kubernetes":
            entity = world.entity_id(f"kubernetes/{spec.k8s_namespace}/{spec.role}")
            names = [f"kubernetes-{spec.k8s_namespace}-{spec.role}"]
        else:
            entity, names = world.entity_id(f"approle/{spec.role}"), []
        entries.append(
            _entry(
                spec.name,
                spec.team,
                spec.environment,
                spec.criticality,
                spec.auto_revoke,
                entity_ids=[entity],
                display_names=names,
                role_names=[spec.role],
                policies=[spec.policy],
                cidrs=cidrs,
                namespaces=spec.namespaces,
            )
        )
    for job in jobs:
        spec = job.spec
        entries.append(
            _entry(
                spec.name,
                spec.team,
                "prod",
                "high",
                spec.name != "secret-rotator",
                entity_ids=[world.entity_id(f"approle/{spec.role}")],
                role_names=[spec.role],
                policies=[spec.role],
                cidrs=[f"{job.address}/32"],
                namespaces=spec.namespaces,
            )
        )
    runners = POOLS["github-actions"].cidrs
    for repo in CI_REPOS:
        namespaces = [f"secret/data/{repo.secrets_prefix}*", "secret/data/ci/shared/*"]
        if repo.team == "payments":
            namespaces.append("database/creds/payments-migrate")
        entries.append(
            _entry(
                f"ci-{repo.repository.split('/')[1]}",
                repo.team,
                "ci",
                "high",
                True,
                entity_ids=[world.entity_id(f"jwt/{repo.repository}")],
                display_names=[f"jwt-{repo.repository}"],
                role_names=[repo.role],
                policies=[repo.role],
                cidrs=runners,
                namespaces=namespaces,
            )
        )
    role = str(DEPLOY_PIPELINE["role"])
    entries.append(
        _entry(
            "ci-deploy",
            "platform",
            "ci",
            "critical",
            True,
            entity_ids=[world.entity_id(f"approle/{role}")],
            role_names=[role],
            policies=[role],
            cidrs=runners,
            namespaces=[f"secret/data/{DEPLOY_PIPELINE['prefix']}*"],
        )
    )
    for team in ("shop", "payments", "platform", "data", "sre"):
        members = [p for p in PEOPLE if p.team == team]
        offices = [c for p in members for c in POOLS[CITIES[p.city].office].cidrs]
        entity_keys = [
            f"oidc/{p.email}" if p.method == "oidc" else f"userpass/{p.username}" for p in members
        ]
        entries.append(
            _entry(
                f"{team}-engineers" if team != "sre" else "sre-team",
                team,
                "corp",
                _TEAM_CRITICALITY.get(team, "medium"),
                team != "sre",
                entity_ids=[world.entity_id(k) for k in entity_keys],
                display_names=[p.display_name for p in members],
                cidrs=offices,
                namespaces=_TEAM_NAMESPACES[team],
            )
        )
    entries.append(_entry("ops-bastion", "sre", "prod", "critical", False, cidrs=["10.9.0.4/32"]))
    return entries


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


def write_inventory(path: Path, entries: list[dict[str, object]]) -> None:
    """Write the entries as ``[[service]]`` tables (a JSON string is a valid TOML string)."""
    lines = [
        "# Service inventory of the simulated organisation (written by `detector simulate`).",
        "",
    ]
    for entry in entries:
        lines.append("[[service]]")
        for key, value in entry.items():
            if key != "match":
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("[service.match]")
        match = entry["match"]
        assert isinstance(match, dict)
        for key, value in match.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
