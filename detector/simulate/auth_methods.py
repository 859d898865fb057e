"""How each auth method logs in, and the token it issues.

The login request carries the method's credentials (HMAC'd by the audit device); the
response carries the new token, named as Vault names it: ``approle`` with
``role_name`` metadata, ``kubernetes-<namespace>-<service account>``,
``jwt-<repository>`` for GitHub Actions, ``userpass-<user>``, ``oidc-<email>``.
An OIDC login is two calls: ``auth_url`` (no token) then ``callback`` (the login).
"""

from __future__ import annotations

from detector.simulate.calls import Call
from detector.simulate.client import Client
from detector.simulate.identifiers import random_hmac, uuid_like
from detector.simulate.organisation import PASSWORDS
from detector.simulate.timekeeping import SECOND
from detector.simulate.tokens import Token, TokenMint

__all__ = [
    "approle_login",
    "jwt_login",
    "kubernetes_login",
    "oidc_login",
    "userpass_login",
]


def _issue(
    client: Client,
    mint: TokenMint,
    t: int,
    *,
    name: str,
    policies: tuple[str, ...],
    ttl: int,
    entity: str,
    metadata: dict[str, str],
    path: str,
    lifetime: int | None = None,
) -> Token:
    return mint.issue(
        name,
        ("default", *policies),
        t,
        ttl,
        lifetime,
        entity_id=client.world.entity_id(entity),
        metadata=metadata,
        path=path,
    )


def approle_login(
    client: Client,
    mint: TokenMint,
    t: int,
    role: str,
    policies: tuple[str, ...],
    ttl: int,
    lifetime: int | None = None,
    secret_id: str = "",
    entity_created: bool = False,
) -> Call:
    """``auth/approle/login`` with the role's id and a secret id (one per deployment)."""
    h = client.world.hasher
    token = _issue(
        client,
        mint,
        t,
        name="approle",
        policies=policies,
        ttl=ttl,
        lifetime=lifetime,
        entity=f"approle/{role}",
        metadata={"role_name": role},
        path="auth/approle/login",
    )
    data = {"role_id": h(f"role-id/{role}"), "secret_id": h(f"secret-id/{role}/{secret_id}")}
    return client.login(t, "auth/approle/login", data, token, "approle", entity_created)


def kubernetes_login(
    client: Client,
    mint: TokenMint,
    t: int,
    role: str,
    namespace: str,
    policies: tuple[str, ...],
    ttl: int,
    lifetime: int | None = None,
    entity_created: bool = False,
) -> Call:
    """``auth/kubernetes/login`` with the pod's projected service-account token."""
    world = client.world
    uid = uuid_like(world.rng(f"k8s-sa-uid/{namespace}/{role}"))
    token = _issue(
        client,
        mint,
        t,
        name=f"kubernetes-{namespace}-{role}",
        policies=policies,
        ttl=ttl,
        lifetime=lifetime,
        entity=f"kubernetes/{namespace}/{role}",
        metadata={
            "role": role,
            "service_account_name": role,
            "service_account_namespace": namespace,
            "service_account_secret_name": "",
            "service_account_uid": uid,
        },
        path="auth/kubernetes/login",
    )
    data = {"jwt": random_hmac(client.rng), "role": world.hasher(role)}
    return client.login(t, "auth/kubernetes/login", data, token, "kubernetes", entity_created)


def jwt_login(
    client: Client,
    mint: TokenMint,
    t: int,
    repository: str,
    role: str,
    policies: tuple[str, ...],
    ttl: int,
    workflow: str,
) -> Call:
    """``auth/jwt/login`` with a GitHub Actions OIDC token (``user_claim`` = repository)."""
    world = client.world
    token = _issue(
        client,
        mint,
        t,
        name=f"jwt-{repository}",
        policies=policies,
        ttl=ttl,
        entity=f"jwt/{repository}",
        metadata={
            "role": role,
            "repository": repository,
            "workflow": workflow,
            "ref": "refs/heads/main",
        },
        path="auth/jwt/login",
    )
    data = {"jwt": random_hmac(client.rng), "role": world.hasher(role)}
    return client.login(t, "auth/jwt/login", data, token, "jwt")


def userpass_login(
    client: Client,
    mint: TokenMint | None,
    t: int,
    username: str,
    policies: tuple[str, ...],
    ttl: int,
    password: str | None = None,
) -> Call:
    """``auth/userpass/login/<user>``; ``mint`` ``None`` means the password was wrong.

    ``password`` defaults to the user's real one, so the HMAC of a good password is the
    same at every login (as in a real audit log) and a stolen password looks identical.
    """
    world = client.world
    path = f"auth/userpass/login/{username}"
    password = password or PASSWORDS.get(username, f"correct horse {username}")
    data = {"password": world.hasher(f"password/{username}/{password}")}
    token = None
    if mint is not None:
        token = _issue(
            client,
            mint,
            t,
            name=f"userpass-{username}",
            policies=policies,
            ttl=ttl,
            entity=f"userpass/{username}",
            metadata={"username": username},
            path=path,
        )
    return client.login(t, path, data, token, "userpass")


def oidc_login(
    client: Client,
    mint: TokenMint,
    t: int,
    email: str,
    policies: tuple[str, ...],
    ttl: int,
    browser: bool,
) -> list[Call]:
    """An OIDC login through the identity provider: ``auth_url``, then ``callback``.

    The person spends a few seconds at the identity provider between the two calls.
    """
    world, rng = client.world, client.rng
    h = world.hasher
    redirect = (
        "https://vault.acme.example/ui/vault/auth/oidc/oidc/callback"
        if browser
        else "http://localhost:8250/oidc/callback"
    )
    nonce = random_hmac(rng)
    first = client.unauthenticated(
        t,
        "update",
        "auth/oidc/oidc/auth_url",
        {"client_nonce": nonce, "redirect_uri": h(redirect), "role": h("engineer")},
        {"auth_url": random_hmac(rng)},
    )
    back = first.t + first.latency + int((3 + 9 * rng.random()) * SECOND)
    token = _issue(
        client,
        mint,
        back,
        name=f"oidc-{email}",
        policies=policies,
        ttl=ttl,
        entity=f"oidc/{email}",
        metadata={"email": email, "role": "engineer"},
        path="auth/oidc/oidc/callback",
    )
    data = {"code": random_hmac(rng), "state": random_hmac(rng)}
    if not browser:
        data["client_nonce"] = nonce
    second = client.login(back, "auth/oidc/oidc/callback", data, token, "oidc", operation="read")
    return [first, second]
