"""Timestamps: the forms audit logs write, parsed exactly; malformed and absurd ones refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.errors import ParseError
from detector.parsers.timestamps import parse_timestamp

MOMENT = datetime(2026, 11, 28, 3, 12, 58, tzinfo=UTC)


def test_utc_with_z():
    assert parse_timestamp("2026-11-28T03:12:58Z") == MOMENT.timestamp()


def test_fractions_down_to_nanoseconds():
    assert parse_timestamp("2026-11-28T03:12:58.5Z") == MOMENT.timestamp() + 0.5
    assert parse_timestamp("2026-11-28T03:12:58.202601665Z") == pytest.approx(
        MOMENT.timestamp() + 0.202601665, abs=1e-6
    )


def test_space_instead_of_t():
    assert parse_timestamp("2026-11-28 03:12:58.25Z") == parse_timestamp("2026-11-28T03:12:58.25Z")


@pytest.mark.parametrize("offset, hours", [("+02:00", 2), ("-05:30", -5.5), ("+00:00", 0)])
def test_numeric_offsets(offset, hours):
    local = MOMENT + timedelta(hours=hours)
    written = local.strftime("%Y-%m-%dT%H:%M:%S") + offset
    assert parse_timestamp(written) == MOMENT.timestamp()


def test_offset_with_nanoseconds():
    assert parse_timestamp("2026-11-28T05:12:58.202601665+02:00") == pytest.approx(
        MOMENT.timestamp() + 0.202601665, abs=1e-6
    )


def test_no_zone_is_utc():
    assert parse_timestamp("2026-11-28T03:12:58") == MOMENT.timestamp()


def test_seconds_within_one_minute_differ_by_their_seconds():
    """The minute is cached; the seconds must still count."""
    first = parse_timestamp("2026-11-28T03:12:01.000Z")
    assert parse_timestamp("2026-11-28T03:12:59.750Z") - first == pytest.approx(58.75)
    assert parse_timestamp("2026-11-28T03:13:00Z") - first == pytest.approx(59.0)


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2099, 12, 31),
        timezones=st.just(UTC),
    ),
    st.sampled_from(["T", " "]),
)
def test_any_moment_in_range_round_trips(moment, separator):
    written = moment.isoformat(sep=separator, timespec="microseconds").replace("+00:00", "Z")
    assert parse_timestamp(written) == pytest.approx(moment.timestamp(), abs=1e-6)


@pytest.mark.parametrize(
    "value",
    [
        None,
        1795835578,
        b"2026-11-28T03:12:58Z",
        "",
        "2026-11-28",
        "yesterday at noon, roughly",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-28T25:00:00Z",
        "2026-11-28T03:61:00Z",
        "2026-11-28T03:12:60Z",
        "2026-11-28T03:12:99Z",
        "2026-11-28T03:12:5xZ",
        "2026-11-28T03:12:58.12aZ",
        "2026-11-28T03:12:58+25:00",
        "28/11/2026 03:12:58",
    ],
)
def test_malformed_timestamps_are_refused(value):
    with pytest.raises(ParseError) as caught:
        parse_timestamp(value)
    assert caught.value.reason == "bad timestamp"


@pytest.mark.parametrize(
    "value",
    [
        "1970-01-01T00:00:00Z",
        "1989-12-31T23:59:59.999Z",
        "2100-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2100-01-01T01:00:00+01:00",
    ],
)
def test_out_of_range_timestamps_are_refused(value):
    with pytest.raises(ParseError) as caught:
        parse_timestamp(value)
    assert caught.value.reason == "timestamp out of range"


def test_range_edges():
    assert parse_timestamp("1990-01-01T00:00:00Z") == datetime(1990, 1, 1, tzinfo=UTC).timestamp()
    assert (
        parse_timestamp("2099-12-31T23:59:59.999Z") < datetime(2100, 1, 1, tzinfo=UTC).timestamp()
    )


def test_detail_of_a_refused_value_is_short():
    with pytest.raises(ParseError) as caught:
        parse_timestamp("x" * 10_000)
    assert len(caught.value.detail) <= 64
