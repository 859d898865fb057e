"""The worker's view of a raw partition's end offset, which decides when a partition may
vouch for the wall clock (see ``RouteStage``)."""

from __future__ import annotations

from types import SimpleNamespace

from detector.streaming.agents import StreamingWorker

TP = ("detector.raw", 0)


def end_offset(fetched: int | None, queried: int | None) -> int | None:
    """``StreamingWorker._highwater`` with a consumer whose last fetch reported ``fetched``
    (``None``: no fetch answered since the assignment) and a query that found ``queried``."""
    consumer = SimpleNamespace(highwater=lambda tp: fetched)
    worker = SimpleNamespace(
        app=SimpleNamespace(consumer=consumer), _ends={} if queried is None else {TP: queried}
    )
    return StreamingWorker._highwater(worker, TP)


def test_until_a_fetch_answers_after_an_assignment_the_end_is_unknown():
    """Tansu answers the end-offset query low: trusted alone, right after a rebalance, a
    partition looked read to its end and let every line read later come late."""
    assert end_offset(None, 120) is None


def test_the_end_is_the_higher_of_the_last_fetch_and_the_query():
    """A fetch's answer grows stale while the consumer holds back."""
    assert end_offset(100, 120) == 120
    assert end_offset(130, 120) == 130
    assert end_offset(100, None) == 100
