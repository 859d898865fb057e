"""Which partition an identity belongs to, the same in every runtime.

The streaming runtime sends each event to partition ``identity_partition(identity, P)``
of its events topic, so all of one identity's state lives on one partition. The models
that learn across identities (the multivariate trees, the time-of-week prior) are kept per
partition too — in both runtimes — so a replay gives the same risks locally and on Kafka,
whichever worker owns which partition.
"""

from __future__ import annotations

import zlib

__all__ = ["identity_partition"]


def identity_partition(identity: str, partitions: int) -> int:
    """A stable partition number for an identity (CRC-32, not Python's salted hash).

    >>> identity_partition("approle", 4) == identity_partition("approle", 4)
    True
    """
    return zlib.crc32(identity.encode()) % partitions if partitions > 1 else 0
