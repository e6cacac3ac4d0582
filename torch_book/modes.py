"""Run modes of the course, read from the environment in exactly one place.

* full (default): real data, real epochs, GPU when present — what students run;
* fast (``TORCH_BOOK_FAST=1``): the same code path on tiny subsets and 1–2 epochs (CPU CI);
* offline (``TORCH_BOOK_OFFLINE=1``): never touch the network; use the cache or
  generated stand-in data written in the dataset's real on-disk format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

FAST_VAR = "TORCH_BOOK_FAST"
OFFLINE_VAR = "TORCH_BOOK_OFFLINE"
DATA_VAR = "TORCH_BOOK_DATA"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1 or 0")


@dataclass(frozen=True)
class Modes:
    """The two independent switches; full mode is ``fast=False``."""

    fast: bool
    offline: bool

    @property
    def name(self) -> str:
        parts = ["fast" if self.fast else "full"]
        if self.offline:
            parts.append("offline")
        return "+".join(parts)


def current() -> Modes:
    """Read the switches now (not at import time, so tests and notebooks can set them)."""
    return Modes(fast=_flag(FAST_VAR), offline=_flag(OFFLINE_VAR))


def is_fast() -> bool:
    return current().fast


def is_offline() -> bool:
    return current().offline
