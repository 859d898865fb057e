"""The simulated Vault's mount table: which engine answers a path.

Every audit entry names the mount that handled the request (``mount_point``,
``mount_type``, ``mount_accessor``, ``mount_class``); the accessors are random per
server, so they are drawn from the seed, in the formats OpenBao uses
(``kv_c05f4f04``, ``auth_approle_a7205a49``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RUNNING_VERSION", "Mount", "MountTable"]

#: What OpenBao 2.7.2 writes as ``mount_running_version`` for its built-in plugins.
RUNNING_VERSION = "v2.7.2+builtin.bao"

#: (mount point, type, class) of every engine and auth method the organisation runs.
_LAYOUT = (
    ("secret/", "kv", "secret"),
    ("kv-legacy/", "kv", "secret"),
    ("database/", "database", "secret"),
    ("pki_int/", "pki", "secret"),
    ("transit/", "transit", "secret"),
    ("sys/", "system", "secret"),
    ("auth/token/", "token", "auth"),
    ("auth/approle/", "approle", "auth"),
    ("auth/userpass/", "userpass", "auth"),
    ("auth/oidc/", "oidc", "auth"),
    ("auth/kubernetes/", "kubernetes", "auth"),
    ("auth/jwt/", "jwt", "auth"),
)


@dataclass(frozen=True, slots=True)
class Mount:
    """One mounted secrets engine or auth method."""

    point: str
    type: str
    accessor: str
    mount_class: str


class MountTable:
    """The mounts of the simulated server, looked up by request path.

    >>> table = MountTable(random.Random(1))
    >>> table.route("secret/data/shop/cart/db").type
    'kv'
    >>> table.route("auth/userpass/login/mia").point
    'auth/userpass/'
    >>> table.route("aws/creds/admin") is None
    True
    """

    def __init__(self, rng: random.Random) -> None:
        self._mounts: dict[str, Mount] = {}
        for point, kind, mount_class in _LAYOUT:
            self.add(point, kind, mount_class, rng)

    def add(self, point: str, kind: str, mount_class: str, rng: random.Random) -> Mount:
        """Mount an engine or auth method (the root-token scenario enables one)."""
        prefix = f"auth_{kind}" if mount_class == "auth" else kind
        mount = Mount(point, kind, f"{prefix}_{rng.getrandbits(32):08x}", mount_class)
        self._mounts[point] = mount
        return mount

    def route(self, path: str) -> Mount | None:
        """The mount that handles ``path``, or ``None`` when nothing is mounted there."""
        head, _, rest = path.partition("/")
        if head == "auth":
            return self._mounts.get(f"auth/{rest.partition('/')[0]}/")
        return self._mounts.get(f"{head}/")

    def __getitem__(self, point: str) -> Mount:
        return self._mounts[point]
