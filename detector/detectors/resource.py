"""Unusual resource: a secret, folder or mount new to the identity, or outside its service's
namespaces, weighted by how sensitive the secret is."""

from __future__ import annotations

import re
import zlib
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import ClassVar

from detector.detectors.base import DetectorBase, Finding, combine, surprise
from detector.event import EnrichedEvent, ServiceInfo
from detector.state import IdentityState

__all__ = ["Resource", "normalise_path"]

# Calls that do not name a secret of their own.
_SKIP = frozenset({"login", "token-lookup", "token-renew", "lease-renew", "token-revoke"})
# Vault's own control paths: tokens, auth and system calls are the lifecycle detector's
# business, not a service's secret namespaces.
_CONTROL = ("auth/", "sys/", "identity/", "cubbyhole/")
_KV2_VERBS = frozenset({"data", "metadata", "delete", "undelete", "destroy", "subkeys"})
# Lease ids, token ids, UUIDs: a uuid, a long hex string, or a long random base62 string.
_ID_LIKE = re.compile(
    r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}"
    r"|(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{20,}"
)
_BLOOM_BYTES = 256
_BLOOM_BITS = _BLOOM_BYTES * 8


@lru_cache(maxsize=65536)
def normalise_path(path: str) -> tuple[str, str, str]:
    """``(secret, folder, mount)`` keys for a path, the same for every form of one secret.

    KV v2 addresses one secret as ``mount/data/x`` and ``mount/metadata/x``; lease and
    token paths end in identifiers that are new on every call: they become ``*``.

    >>> normalise_path("secret/data/shop/cart/db")
    ('secret/shop/cart/db', 'secret/shop/cart', 'secret')
    >>> normalise_path("sys/leases/lookup/database/creds/app/Ahv8fS2bWqX4LgQK1PzJd7Tn")
    ('sys/leases/lookup/database/creds/app/*', 'sys/leases/lookup/database/creds/app', 'sys')
    """
    segments = path.strip("/").split("/")
    if len(segments) > 2 and segments[1] in _KV2_VERBS:
        del segments[1]
    segments = ["*" if len(s) >= 16 and _ID_LIKE.fullmatch(s) else s for s in segments]
    secret = "/".join(segments)
    folder = "/".join(segments[:-1]) or secret
    return secret, folder, segments[0]


class ResourceState:
    """Which secrets, folders and mounts an identity has touched (two Bloom filter
    generations, so old knowledge fades) and how often it touches something new."""

    __slots__ = ("current", "previous", "added", "novelty")

    def __init__(self) -> None:
        self.current = bytearray(_BLOOM_BYTES)
        self.previous: bytearray | None = None
        self.added = 0
        self.novelty = 0.0  # running share of events that touched a new secret

    def seen(self, key: str) -> bool:
        bits = _bits(key)
        return _has(self.current, bits) or (self.previous is not None and _has(self.previous, bits))

    def add(self, key: str, capacity: int) -> None:
        bits = _bits(key)
        if _has(self.current, bits):
            return
        if self.added >= capacity:
            self.previous, self.current, self.added = self.current, bytearray(_BLOOM_BYTES), 0
        for bit in bits:
            self.current[bit >> 3] |= 1 << (bit & 7)
        self.added += 1


@lru_cache(maxsize=65536)
def _bits(key: str) -> tuple[int, int, int]:
    raw = key.encode()
    h1 = zlib.crc32(raw)
    h2 = zlib.crc32(raw, 0x9E3779B9) | 1
    return h1 % _BLOOM_BITS, (h1 + h2) % _BLOOM_BITS, (h1 + 2 * h2) % _BLOOM_BITS


def _has(bloom: bytearray, bits: tuple[int, int, int]) -> bool:
    a, b, c = bits
    return bool(
        bloom[a >> 3] & (1 << (a & 7))
        and bloom[b >> 3] & (1 << (b & 7))
        and bloom[c >> 3] & (1 << (c & 7))
    )


class Resource(DetectorBase):
    """A secret, folder or mount new to the identity; access outside its namespaces.

    A new mount weighs more than a new folder, which weighs more than a new secret in a
    known folder; all of it is scaled by the secret's sensitivity and by how rarely this
    identity touches anything new (an administrator browsing weighs less than a service
    that has read the same two secrets for a month). Reading outside the namespaces the
    inventory declares for the service needs no history.

    Parameters
    ----------
    capacity
        Secrets and folders per Bloom filter generation (about 1% false "seen" when full).
    memory
        Events the running novelty rate effectively averages over.
    """

    name: ClassVar[str] = "resource"

    def __init__(self, capacity: int = 200, memory: int = 500) -> None:
        self.capacity = capacity
        self.memory = memory

    @classmethod
    def _unit_test_params(cls):
        yield {"capacity": 50, "memory": 100}

    # -- contract ------------------------------------------------------------------------

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        e = event.event
        if e.action in _SKIP:
            return None
        res: ResourceState | None = state.resource
        weight = event.sensitivity.weight if event.sensitivity is not None else 0.5
        level = event.sensitivity.level if event.sensitivity is not None else "unrated"
        sensitivity = 0.35 + 0.65 * weight
        parts: list[tuple[float, str, bool]] = []
        if res is not None:
            parts.append(self._novelty(event, res, state, sensitivity, level))
        service = event.service
        if service is not None and service.namespaces and not e.resource.startswith(_CONTROL):
            outside = [r for r in e.all_resources if not _inside(service, r)]
            if outside:
                parts.append(
                    (
                        0.55 * sensitivity,
                        f"{e.action} of {outside[0]} ({level}) is outside {service.name}'s "
                        f"namespaces ({', '.join(service.namespaces[:3])})",
                        True,
                        True,
                    )
                )
        if not parts or not any(part[0] > 0.0 for part in parts):
            return None
        return combine(self.name, parts, resource=e.resource, sensitivity=level)

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        e = event.event
        if e.action in _SKIP:
            return
        res: ResourceState | None = state.resource
        if res is None:
            res = state.resource = ResourceState()
        new = False
        for resource in e.all_resources:
            secret, folder, mount = _keys(resource, e.mount)
            new = new or not res.seen(secret)
            res.add(secret, self.capacity)
            res.add(folder, self.capacity)
            res.add(mount, self.capacity)
        rate = 1.0 / min(state.learned + 1, self.memory)
        res.novelty += rate * (float(new) - res.novelty)

    # -- internals -----------------------------------------------------------------------

    def _novelty(
        self,
        event: EnrichedEvent,
        res: ResourceState,
        state: IdentityState,
        sensitivity: float,
        level: str,
    ) -> tuple[float, str, bool]:
        e = event.event
        fresh = []
        for resource in e.all_resources:
            secret, folder, mount = _keys(resource, e.mount)
            if res.seen(secret):
                continue
            if not res.seen(mount):
                fresh.append((0.8, "in a mount it never used", resource))
            elif not res.seen(folder):
                fresh.append((0.55, "in a folder it never touched", resource))
            else:
                fresh.append((0.3, "a new secret in a folder it knows", resource))
        if not fresh:
            return (0.0, "", False)
        base, kind, resource = max(fresh)
        known = min(state.learned, self.memory)
        p_new = (res.novelty * known + 0.5) / (known + 1.0)
        score = base * sensitivity * surprise(p_new, decades=2.0)
        more = f" (and {len(fresh) - 1} more new)" if len(fresh) > 1 else ""
        return (
            score,
            f"first {e.action} of {resource} ({level}, {kind}) by "
            f"{event.display_identity}{more}, who touches something new in {p_new:.1%} of "
            "its requests",
            False,
            True,
        )


@lru_cache(maxsize=65536)
def _keys(resource: str, mount: str | None) -> tuple[str, str, str]:
    """Bloom filter keys of a resource's secret, folder and mount (distinct namespaces)."""
    secret, folder, first = normalise_path(resource)
    return secret, "/" + folder, "@" + (mount.rstrip("/") if mount else first)


@lru_cache(maxsize=65536)
def _inside_cached(namespaces: tuple[str, ...], resource: str) -> bool:
    return any(fnmatchcase(resource, pattern) for pattern in namespaces)


def _inside(service: ServiceInfo, resource: str) -> bool:
    return _inside_cached(service.namespaces, resource)
