"""Vault tokens as the audit log shows them, and the mint that issues them.

A token is never written in the clear: the audit device writes the HMAC of the token
(``client_token``) and, with ``hmac_accessor=false``, its plaintext accessor. Every
authenticated entry repeats the token's ``auth`` block, so a token serialises that block
once per granting policy and the writer embeds the bytes (``orjson.Fragment``): the
same token is used thousands of times and must not cost a dict per use.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field

import orjson

from detector.simulate.identifiers import accessor, random_hmac
from detector.simulate.timekeeping import SECOND, rfc3339_seconds

__all__ = ["Token", "TokenMint"]

_DENIED = {"allowed": False}


@dataclass(eq=False, slots=True)
class Token:
    """One token: who holds it, what it may do and how long it lives.

    ``expires`` is when Vault stops accepting it (the end of its TTL, or of its maximum
    TTL for a holder that keeps renewing); ``revoked`` is set by a revocation.
    """

    client_token: str
    accessor: str
    display_name: str
    policies: tuple[str, ...]
    issued: int
    expires: int
    ttl: int | None
    entity_id: str | None = None
    metadata: dict[str, str] | None = None
    token_type: str = "service"
    orphan: bool = False
    client_id: str = ""
    path: str = "auth/token/create"
    revoked: int | None = None
    _auth: dict[str | None, orjson.Fragment] = field(default_factory=dict, repr=False)

    def valid_at(self, t: int) -> bool:
        """Whether Vault accepts the token at event time ``t``."""
        return self.issued <= t < self.expires and (self.revoked is None or t < self.revoked)

    def remaining(self, t: int) -> int:
        """Seconds of TTL left at ``t``."""
        return max(0, (self.expires - t) // SECOND)

    def _identity_fields(self) -> dict[str, object]:
        return {
            "client_token": self.client_token,
            "accessor": self.accessor,
            "display_name": self.display_name,
            "policies": list(self.policies),
            "token_policies": list(self.policies),
        }

    def _tail(
        self, fields: dict[str, object], ttl: int | None, entity_created: bool = False
    ) -> dict[str, object]:
        if self.metadata:
            fields["metadata"] = self.metadata
        if self.entity_id:
            fields["entity_id"] = self.entity_id
            if entity_created:
                fields["entity_created"] = True
        fields["token_type"] = self.token_type
        if ttl is not None:
            fields["token_ttl"] = ttl
        return fields

    def request_auth(self, granting: str | None) -> orjson.Fragment:
        """The ``auth`` block of an entry made with this token (``None``: denied)."""
        cached = self._auth.get(granting)
        if cached is None:
            fields = self._identity_fields()
            fields["policy_results"] = (
                {
                    "allowed": True,
                    "granting_policies": [
                        {"name": granting, "namespace_id": "root", "type": "acl"}
                    ],
                }
                if granting
                else _DENIED
            )
            self._tail(fields, self.ttl)
            fields["token_issue_time"] = rfc3339_seconds(self.issued)
            cached = orjson.Fragment(orjson.dumps(fields))
            self._auth[granting] = cached
        return cached

    def issued_auth(self, entity_created: bool = False) -> dict[str, object]:
        """The new token as a login or ``token/create`` response describes it.

        ``entity_created`` marks the first login of an identity Vault had not seen.
        """
        return self._tail(self._identity_fields(), self.ttl, entity_created)

    def renewed_auth(self, ttl: int) -> dict[str, object]:
        """The token as a ``renew-self`` response describes it, with its new TTL."""
        fields = self._tail(self._identity_fields(), ttl)
        fields["token_issue_time"] = rfc3339_seconds(self.issued)
        return fields


class TokenMint:
    """Issues tokens with fresh accessors and HMACs from the simulation's seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def issue(
        self,
        display_name: str,
        policies: tuple[str, ...],
        issued: int,
        ttl: int | None,
        lifetime: int | None = None,
        entity_id: str | None = None,
        metadata: dict[str, str] | None = None,
        orphan: bool = False,
        path: str = "auth/token/create",
    ) -> Token:
        """A new token valid from ``issued`` for ``lifetime`` seconds (default: its TTL).

        A token without TTL (root) lives until revoked.
        """
        rng = self.rng
        life = lifetime if lifetime is not None else ttl
        expires = issued + life * SECOND if life is not None else 1 << 62
        client_id = entity_id or base64.b64encode(rng.randbytes(32)).decode()
        return Token(
            client_token=random_hmac(rng),
            accessor=accessor(rng),
            display_name=display_name,
            policies=tuple(sorted(policies)),
            issued=issued,
            expires=expires,
            ttl=ttl,
            entity_id=entity_id,
            metadata=metadata,
            orphan=orphan,
            client_id=client_id,
            path=path,
        )
