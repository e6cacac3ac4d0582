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
DRIVE_VAR = "TORCH_BOOK_DRIVE"  # on Colab: keep the data on Google Drive (survives the session)
SEED_VAR = "TORCH_BOOK_SEED"  # overrides the notebook's seed (calibration runs over several seeds)
MAX_EPOCHS_VAR = "TORCH_BOOK_MAX_EPOCHS"  # caps full-mode epochs (a documented, time-boxed schedule)
REPORT_VAR = "TORCH_BOOK_REPORT_FILE"  # where record() appends its JSON lines (set by the test run)

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


def _int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


def seed_override() -> int | None:
    """``TORCH_BOOK_SEED`` when set: every notebook's ``setup()`` uses it instead of its own seed."""
    return _int(SEED_VAR)


def max_epochs() -> int | None:
    """``TORCH_BOOK_MAX_EPOCHS`` when set (at least 1): full-mode schedules are cut to this many epochs."""
    value = _int(MAX_EPOCHS_VAR)
    if value == 0:
        raise ValueError(f"{MAX_EPOCHS_VAR}=0: give at least 1, or unset it")
    return value


def how_to_switch() -> str:
    """Russian instructions to switch modes in Jupyter, Colab and a terminal (for error messages)."""
    return (
        "Как включить режим: в Jupyter и Colab — в самой первой ячейке, до torch_book.setup():\n"
        f"    %env {FAST_VAR}=1\n"
        f"    %env {OFFLINE_VAR}=1\n"
        f'  (или import os; os.environ["{OFFLINE_VAR}"] = "1"); режимы читаются при каждом обращении, '
        "перезапуск ядра не нужен.\n"
        f"  В терминале: {FAST_VAR}=1 {OFFLINE_VAR}=1 jupyter lab (Windows: set {OFFLINE_VAR}=1, затем jupyter lab).\n"
        "  Без сети синтетические заменители данных подставляются только в быстром режиме (fast+offline): "
        "это проверка кода, не настоящие результаты."
    )
