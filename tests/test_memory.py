"""deep_size: bytes held by roots, each object once, without what is shared on purpose."""

from __future__ import annotations

import sys

import numpy as np

from detector.memory import deep_size


def payload(n: int = 10_000) -> str:
    return "x" * n


class Slotted:
    __slots__ = ("value", "other")

    def __init__(self, value: object, other: object = None) -> None:
        self.value = value
        self.other = other


class Plain:
    def __init__(self, value: object) -> None:
        self.value = value


def test_string_counts_its_size():
    text = payload()
    assert deep_size([text]) == sys.getsizeof(text)


def test_containers_count_their_contents():
    text = payload()
    assert deep_size([[text]]) == sys.getsizeof([text]) + sys.getsizeof(text)
    assert deep_size([{"k": text}]) >= sys.getsizeof(text) + sys.getsizeof({"k": text})


def test_object_shared_by_two_roots_counts_once():
    text = payload()
    first, second = [text], [text]
    assert deep_size([first, second]) == deep_size([first]) + sys.getsizeof(second)
    assert deep_size([first, first]) == deep_size([first])


def test_object_referenced_twice_in_one_root_counts_once():
    text = payload()
    assert deep_size([[text, text]]) == sys.getsizeof([text, text]) + sys.getsizeof(text)


def test_shared_objects_are_not_counted():
    cache = {"10.0.0.1": payload()}
    state = [cache["10.0.0.1"]]
    assert deep_size([state], shared=[cache]) == sys.getsizeof(state)
    assert deep_size([state]) == sys.getsizeof(state) + sys.getsizeof(cache["10.0.0.1"])


def test_slots_and_instance_dicts_are_followed():
    text = payload()
    assert deep_size([Slotted(text)]) >= sys.getsizeof(text) + sys.getsizeof(Slotted(None))
    assert deep_size([Plain(text)]) >= sys.getsizeof(text)
    assert deep_size([Slotted(text, Plain(text))]) < 2 * sys.getsizeof(text)


def test_numpy_arrays_count_their_buffers_views_included():
    array = np.zeros(10_000)
    assert deep_size([array]) >= array.nbytes
    view = array[:5_000]
    assert deep_size([view]) >= view.nbytes


def test_cycles_end():
    ring: list = [payload()]
    ring.append(ring)
    assert deep_size([ring]) == sys.getsizeof(ring) + sys.getsizeof(ring[0])


def test_classes_and_none_are_free():
    assert deep_size([None, int, Slotted]) == 0
