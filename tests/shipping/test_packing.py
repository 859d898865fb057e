"""Packing audit lines into Kafka messages, and reading them back as the worker does."""

from __future__ import annotations

from detector.shipping.packing import CONTENT_TYPE, NDJSON, lines_of, message_of, packs


def test_packs_keep_the_order_and_stay_within_the_limit():
    lines = [f'{{"n":{n}}}'.encode() for n in range(500)]
    grouped = list(packs(lines, limit=100))
    assert [line for pack in grouped for line in pack] == lines
    assert all(len(b"\n".join(pack)) <= 100 for pack in grouped)
    assert len(grouped) > 1


def test_a_line_longer_than_the_limit_travels_alone():
    long = b"x" * 300
    assert list(packs([b"a", long, b"b"], limit=100)) == [[b"a"], [long], [b"b"]]


def test_a_limit_of_zero_sends_one_line_per_message():
    assert list(packs([b"a", b"b"], limit=0)) == [[b"a"], [b"b"]]


def test_a_pack_opens_into_its_lines():
    lines = [b'{"a":1}', b'{"b":2}']
    value, headers = message_of(lines)
    assert headers == [(CONTENT_TYPE, NDJSON)]
    assert lines_of(value, dict(headers)) == lines


def test_a_line_alone_travels_bare_as_other_shippers_send_it():
    assert message_of([b'{"a":1}']) == (b'{"a":1}', [])


def test_a_message_without_the_header_is_one_line_whatever_it_holds():
    """As Vector or Fluent Bit send it: even a document with newlines stays whole."""
    document = b'{\n  "Records": []\n}'
    assert lines_of(document, {}) == [document]
    assert lines_of(document, None) == [document]
