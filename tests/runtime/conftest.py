"""Helpers for the local runtime's tests: waiting for a background reader, briefly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

#: Poll interval of followed files in these tests.
POLL = 0.05
#: Longest wait for something a background thread should do within a few polls.
PATIENCE = 5.0


def eventually(condition: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def reader_threads_end() -> Iterator[None]:
    """After the test, wait for the follower's reader threads to close their files."""
    yield
    for thread in threading.enumerate():
        if "_follow_" in thread.name:
            thread.join(PATIENCE)
