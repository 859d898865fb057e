"""Revoking a credential through the Vault / OpenBao API (with ``hvac``).

A token is revoked by its accessor (``auth/token/revoke-accessor``, which revokes its
child tokens and leases with it); a dynamic secret by its lease (``sys/leases/revoke``).
Before a token is revoked its accessor is looked up (``auth/token/lookup-accessor``) so
the ledger and the analyst know what is being cut: display name, policies, TTL, entity.
The detector's token needs nothing more (``policies/detector.hcl``).

Errors are classified for the responder: unreachable, timed out, sealed, 429 or 5xx →
:class:`VaultUnavailable` (queued, retried with backoff); 403 →
:class:`VaultForbidden` (reported loudly, never retried); an accessor Vault does not know →
:class:`CredentialGone`; anything else → :class:`VaultRejected`.
"""

from __future__ import annotations

from typing import Any

import hvac
import hvac.exceptions
import msgspec
import requests

from detector.actions.errors import (
    CredentialGone,
    VaultForbidden,
    VaultRejected,
    VaultUnavailable,
)

__all__ = ["BlastRadius", "VaultRevoker"]

_RETRYABLE = (
    hvac.exceptions.InternalServerError,
    hvac.exceptions.VaultDown,
    hvac.exceptions.BadGateway,
    hvac.exceptions.RateLimitExceeded,
    hvac.exceptions.VaultNotInitialized,
    hvac.exceptions.UnexpectedError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)
_NOT_FOUND = ("invalid accessor", "no token found", "invalid lease", "lease not found")


class BlastRadius(msgspec.Struct, omit_defaults=True):
    """What revoking a token cuts, from ``lookup-accessor`` (never the token itself)."""

    accessor: str
    display_name: str = ""
    policies: list[str] = []
    ttl: int | None = None
    entity_id: str = ""
    path: str = ""
    orphan: bool = False
    expire_time: str | None = None
    metadata: dict[str, str] = {}

    def describe(self) -> str:
        """ "approle · policies cart, default · TTL 59 min · entity c1b2…": for people."""
        parts = [self.display_name or "token"]
        if self.policies:
            parts.append("policies " + ", ".join(self.policies))
        if self.ttl is not None:
            parts.append(f"TTL {_ttl(self.ttl)}")
        if self.entity_id:
            parts.append(f"entity {self.entity_id[:8]}…")
        if self.path:
            parts.append(f"created by {self.path}")
        if not self.orphan:
            parts.append("child tokens go with it")
        return " · ".join(parts)


class VaultRevoker:
    """Look up and revoke credentials with the client it is given.

    Parameters
    ----------
    client
        An ``hvac.Client`` with the detector's token, address, namespace and CA bundle
        (see :func:`detector.actions.credentials.vault_client`); tests pass one pointed at
        a local OpenBao server.
    """

    def __init__(self, client: hvac.Client) -> None:
        self.client = client

    def lookup(self, accessor: str) -> BlastRadius:
        """What revoking the token behind ``accessor`` would cut."""
        data = self._call("lookup-accessor", self.client.auth.token.lookup_accessor, accessor)
        info: dict[str, Any] = (data or {}).get("data") or {}
        meta = info.get("meta") if isinstance(info.get("meta"), dict) else {}
        return BlastRadius(
            accessor=accessor,
            display_name=str(info.get("display_name") or ""),
            policies=[str(p) for p in info.get("policies") or []],
            ttl=info.get("ttl") if isinstance(info.get("ttl"), int) else None,
            entity_id=str(info.get("entity_id") or ""),
            path=str(info.get("path") or ""),
            orphan=bool(info.get("orphan")),
            expire_time=info.get("expire_time") or None,
            metadata={str(k): str(v) for k, v in (meta or {}).items()},
        )

    def revoke_token(self, accessor: str) -> None:
        """Revoke the token behind ``accessor`` (and its children)."""
        answer = self._call("revoke-accessor", self.client.auth.token.revoke_accessor, accessor)
        warnings = answer.get("warnings") if isinstance(answer, dict) else None
        if warnings and any("no token found" in str(w).lower() for w in warnings):
            raise CredentialGone(f"Vault knows no token with accessor {accessor}")

    def revoke_lease(self, lease_id: str) -> None:
        """Revoke a dynamic secret's lease."""
        self._call("leases/revoke", self.client.sys.revoke_lease, lease_id)

    def _call(self, what: str, method, argument: str) -> Any:
        try:
            answer = method(argument)
        except hvac.exceptions.Forbidden as exc:
            raise VaultForbidden(
                f"Vault refused {what} (403 permission denied): the detector's token lacks "
                "the right (see policies/detector.hcl) or has expired"
            ) from exc
        except hvac.exceptions.InvalidRequest as exc:
            if any(marker in str(exc).lower() for marker in _NOT_FOUND):
                raise CredentialGone(f"Vault does not know it ({_first_line(exc)})") from exc
            raise VaultRejected(f"Vault rejected {what}: {_first_line(exc)}") from exc
        except _RETRYABLE as exc:
            raise VaultUnavailable(f"Vault unavailable for {what}: {_describe(exc)}") from exc
        except hvac.exceptions.VaultError as exc:
            raise VaultRejected(f"Vault rejected {what}: {_first_line(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise VaultUnavailable(f"Vault unavailable for {what}: {_describe(exc)}") from exc
        if isinstance(answer, requests.Response):
            if answer.status_code >= 500:
                raise VaultUnavailable(f"Vault answered {answer.status_code} to {what}")
            return {}
        return answer


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).replace("*", " ").split())
    return text[:200] or type(exc).__name__


def _describe(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, hvac.exceptions.VaultDown):
        return "sealed or down (503)"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _ttl(seconds: int) -> str:
    if seconds <= 0:
        return "none (does not expire)" if seconds == 0 else "expired"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
