"""Several audit lines in one Kafka message: how ``detector ship`` sends them.

A message costs a streaming worker far more than a line does (Faust handles each message
as an event of its own), so the shipper packs the lines it has queued into messages of up
to ``PACK_BYTES``, newline-separated, marked with the header ``content-type:
application/x-ndjson``. The lines come from splitting a file or a socket stream on
newlines, so none contains one. A message without that header is one line, as Vector,
Fluent Bit or Filebeat send them; the worker reads both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

__all__ = ["CONTENT_TYPE", "NDJSON", "PACK_BYTES", "lines_of", "message_of", "packs"]

CONTENT_TYPE = "content-type"
NDJSON = b"application/x-ndjson"
#: a pack's size limit: well under Kafka's default message limit (1 MB)
PACK_BYTES = 256 * 1024


def packs(lines: Iterable[bytes], limit: int = PACK_BYTES) -> Iterator[list[bytes]]:
    """Consecutive ``lines`` in groups of up to ``limit`` bytes (a longer line alone);
    ``limit`` 0: one line per group."""
    pack: list[bytes] = []
    size = 0
    for line in lines:
        if pack and size + len(line) + 1 > limit:
            yield pack
            pack, size = [], 0
        pack.append(line)
        size += len(line) + 1
    if pack:
        yield pack


def message_of(pack: list[bytes]) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of the message carrying ``pack`` (a line alone goes bare)."""
    if len(pack) == 1:
        return pack[0], []
    return b"\n".join(pack), [(CONTENT_TYPE, NDJSON)]


def lines_of(value: bytes, headers: Mapping[str, bytes] | None) -> list[bytes]:
    """The audit lines of one raw-topic message."""
    if headers and headers.get(CONTENT_TYPE) == NDJSON:
        return [line for line in value.split(b"\n") if line]
    return [value]
