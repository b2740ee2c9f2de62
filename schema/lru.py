"""A small least-recently-used cache (the pipeline's plans and statements, APQ documents)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")


class LRU(OrderedDict[Key, Value], Generic[Key, Value]):
    """A dict that keeps at most `capacity` entries, dropping the least recently used."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def find(self, key: Key) -> tuple[bool, Value | None]:
        """(whether `key` is held, its value)."""
        if key in self:
            self.move_to_end(key)
            return True, self[key]
        return False, None

    def put(self, key: Key, value: Value) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.capacity:
            self.popitem(last=False)
