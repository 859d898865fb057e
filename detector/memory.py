"""Measuring the memory the model holds: bytes of state per identity."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable

import numpy as np

__all__ = ["deep_size"]


def deep_size(roots: Iterable[object], shared: Iterable[object] = ()) -> int:
    """Bytes held by ``roots`` and everything they reference, each object counted once.

    Follows containers, ``__slots__`` and ``__dict__``; numpy arrays count their buffers.
    Objects shared between roots count once, so the total over many identities divided by
    their number is the true cost per identity; objects reachable from ``shared`` (the
    enrichers' caches, whose size is bounded on its own) are not counted at all.
    """
    seen: set[int] = set()
    if shared:
        _walk(list(shared), seen)
    return _walk(list(roots), seen)


def _walk(stack: list[object], seen: set[int]) -> int:
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, type):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += sys.getsizeof(obj) + (0 if obj.base is None else obj.nbytes)
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, str | bytes | bytearray | array | int | float | bool):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        else:
            for slot in getattr(type(obj), "__slots__", ()):
                stack.append(getattr(obj, slot, None))
            if hasattr(obj, "__dict__"):
                stack.append(obj.__dict__)
    return total
