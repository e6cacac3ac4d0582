"""Test configuration for the README's one command, ``pytest``.

Fast + offline mode is switched on here (unless the caller set the variables: the instructor's
full-mode run sets ``TORCH_BOOK_FAST=0 TORCH_BOOK_OFFLINE=0``), before any notebook kernel starts,
so nbval's kernels inherit it. Student homework copies are not run by nbval: they raise
``NotImplementedError`` by design; ``tests/test_homework.py`` runs them with nbclient instead.
"""

import os
import shutil
from pathlib import Path

import pytest

from torch_book.modes import REPORT_VAR

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
_notebook_status: dict[str, str] = {}
_CRASH_SIGNS = ("Kernel dead", "Kernel died", "DeadKernel", "kernel died")
READINESS_DIR = Path(__file__).resolve().parent / "runs" / "readiness"
# one notes folder per test run (xdist workers inherit it from the controller's environment), so two
# runs in one checkout never mix or delete each other's notes
if "PYTEST_XDIST_WORKER" not in os.environ:
    os.environ["TORCH_BOOK_NOTES_DIR"] = str(READINESS_DIR / f"notes-{os.getpid()}")
NOTES_DIR = Path(os.environ["TORCH_BOOK_NOTES_DIR"])


def _notebook_of(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


def _notes_file(notebook: str) -> Path:
    return NOTES_DIR / (notebook.replace("/", "__") + ".jsonl")


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(NOTES_DIR, ignore_errors=True)
        NOTES_DIR.mkdir(parents=True, exist_ok=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Point the notebook's kernel (started in the first cell's set-up) at its own notes file."""
    notebook = _notebook_of(item.nodeid)
    if notebook:
        os.environ[REPORT_VAR] = str(_notes_file(notebook))
    else:  # unit tests and nbclient runs record nothing into a notebook's notes
        os.environ.pop(REPORT_VAR, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark a failed cell whose kernel is gone, so the notebook is reported as crashed, not failed."""
    outcome = yield
    rep = outcome.get_result()
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    if rep.failed and kernel is not None:
        try:
            alive = kernel.is_alive()
        except Exception:  # a kernel manager that is already torn down
            alive = False
        if not alive:
            rep.user_properties.append(("kernel", "dead"))
        elif "Timeout of" in str(rep.longrepr):
            rep.user_properties.append(("kernel", "timeout"))


def pytest_runtest_logreport(report):
    """Add up the time of each notebook's cells (nbval reports one test per cell) and keep its outcome."""
    notebook = _notebook_of(report.nodeid)
    if not notebook:
        return
    _notebook_seconds[notebook] = _notebook_seconds.get(notebook, 0.0) + report.duration
    status = _notebook_status.setdefault(notebook, "passed")
    if report.failed and status not in ("crashed", "timeout"):
        kernel = dict(report.user_properties).get("kernel")
        if kernel == "dead" or any(s in str(report.longrepr) for s in _CRASH_SIGNS):
            _notebook_status[notebook] = "crashed"
        else:
            _notebook_status[notebook] = "timeout" if kernel == "timeout" else "failed"


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds or hasattr(terminalreporter.config, "workerinput"):
        return
    slowest = sorted(_notebook_seconds.items(), key=lambda kv: -kv[1])[:5]
    terminalreporter.section("slowest notebooks (sum of cell times)")
    for path, seconds in slowest:
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    # the semester-readiness report: every notebook, its data, device, time and metrics against targets
    from torch_book import report

    rows = []
    for notebook, seconds in sorted(_notebook_seconds.items()):
        notes, problems = report.read_notes(_notes_file(notebook))
        row = report.build_row(notebook, _notebook_status.get(notebook, "not run"), seconds, notes)
        row.problems += problems
        rows.append(row)
    path = report.save(rows, READINESS_DIR)
    terminalreporter.section("semester readiness report")
    for line in report.markdown(rows).splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"(written to {path} and {path.with_suffix('.json')})")
    shutil.rmtree(NOTES_DIR, ignore_errors=True)
