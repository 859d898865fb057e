"""The streaming runtime: the same pipeline as a faust-streaming app on Kafka.

Three stages, each scaled out by partitions::

    raw (unkeyed lines) ──route──► entries (keyed by client token or request id)
                        ──parse──► events (keyed by identity, its own partition)
                        ──score──► alerts, actions, dead letters

Routing by client token puts both entries of a Vault call (and every use of a token) on one
partition, so pairing and token attribution are right however the raw lines were spread.
Every stage forwards *watermarks* (the event time up to which it has seen everything), and
the score stage releases events in event-time order up to the lowest watermark, so the
order — and thus every risk — is the local runtime's, whichever worker runs which
partition. Faust itself is imported only by the worker.
"""

from __future__ import annotations

__all__: list[str] = []
