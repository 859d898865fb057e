"""Inputs the parser fuzzer (bench/fuzz_parsers.py) found that escaped the dead letters."""

from __future__ import annotations

import pytest

from detector.errors import ParseError
from detector.parsers.timestamps import parse_timestamp
from detector.parsers.vault import VaultAuditParser
from detector.pipeline import CollectingSink, Pipeline


def _pipeline() -> tuple[Pipeline, CollectingSink]:
    sink = CollectingSink()
    return Pipeline("fuzz", VaultAuditParser(), [], None, sink), sink  # type: ignore[arg-type]


def test_request_id_that_is_not_utf8_is_a_dead_letter() -> None:
    # The fast path that holds request entries undecoded decoded the id itself, unguarded.
    line = (
        b'{"time":"2026-11-02T00:10:31.824274455Z","type":"request","auth":{},'
        b'"request":{"id":"6bd71ece-\x82b4","path":"secret/data/a","remote_address":"10.0.0.1"}}'
    )
    pipeline, sink = _pipeline()
    assert pipeline.parse(line) == []
    assert pipeline.flush(final=True) == []
    assert [r["reason"] for r in sink.records] == ["not JSON"]


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-02T00:00:05.²Z",  # str.isdigit() is true for superscripts; float() refuses
        "2026-11-02T00:00:0²Z",
        "2026-11-02T00:00:05.٣Z",  # other scripts' digits are not a timestamp either
    ],
)
def test_non_ascii_digits_in_seconds_are_a_bad_timestamp(value: str) -> None:
    with pytest.raises(ParseError, match="bad timestamp"):
        parse_timestamp(value)


def test_response_with_superscript_seconds_is_a_dead_letter() -> None:
    line = (
        '{"time":"2026-11-02T00:00:05.²Z","type":"response","auth":{},'
        '"request":{"id":"r1","path":"secret/data/a","remote_address":"10.0.0.1"}}'
    ).encode()
    pipeline, sink = _pipeline()
    assert pipeline.parse(line) == []
    assert [r["reason"] for r in sink.records] == ["bad timestamp"]


def test_ascii_fractions_still_take_the_fast_path() -> None:
    assert parse_timestamp("2026-11-02T00:00:05.703458546Z") == pytest.approx(1793577605.703458546)
