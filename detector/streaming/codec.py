"""What travels between stages: events as msgpack, and watermark records."""

from __future__ import annotations

import msgspec

from detector.event import AccessEvent

__all__ = ["WATERMARK_KEY", "decode_event", "decode_watermark", "encode_event", "encode_watermark"]

#: the key of a watermark record (no identity, token or request id starts with a NUL)
WATERMARK_KEY = b"\x00watermark"

_events = msgspec.msgpack.Encoder()
_event_decoder = msgspec.msgpack.Decoder(AccessEvent)
_watermark_decoder = msgspec.msgpack.Decoder(tuple[int, float])


def encode_event(event: AccessEvent) -> bytes:
    return _events.encode(event)


def decode_event(data: bytes) -> AccessEvent:
    return _event_decoder.decode(data)


def encode_watermark(source: int, time: float) -> bytes:
    """``source`` (its partition upstream) has seen everything up to event ``time``."""
    return _events.encode((source, time))


def decode_watermark(data: bytes) -> tuple[int, float]:
    return _watermark_decoder.decode(data)
