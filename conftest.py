"""Test configuration for the README's one command, ``pytest``.

Fast + offline mode is switched on here (unless the caller set the variables: the instructor's
full-mode run sets ``TORCH_BOOK_FAST=0 TORCH_BOOK_OFFLINE=0``), before any notebook kernel starts,
so nbval's kernels inherit it. Student homework copies are not run by nbval: they raise
``NotImplementedError`` by design; ``tests/test_homework.py`` runs them with nbclient instead.
"""

import os

os.environ.setdefault("TORCH_BOOK_FAST", "1")
os.environ.setdefault("TORCH_BOOK_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
# one BLAS/OpenMP thread per kernel: with two xdist workers on two cores, more threads only fight
# (measured in lesson 1: 200 tiny optimiser steps took 5.9 s with 2 threads under load, 0.12 s with 1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

collect_ignore_glob = ["[1-9]_*/*_homework.ipynb", "data/*", "benchmarks/*"]


_notebook_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Add up the time of each notebook's cells (nbval reports one test per cell)."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] = _notebook_seconds.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    slowest = sorted(_notebook_seconds.items(), key=lambda kv: -kv[1])[:5]
    terminalreporter.section("slowest notebooks (sum of cell times)")
    for path, seconds in slowest:
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
