"""Metrics against targets (record, caption) and the readiness report built by the test run."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from torch_book import modes, report

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_state(monkeypatch, tmp_path):
    """Fresh per-kernel state, a report file, and full mode unless a test says otherwise."""
    monkeypatch.setattr(report, "_data_used", {})
    monkeypatch.setattr(report, "_weights_used", {})
    path = tmp_path / "notes.jsonl"
    monkeypatch.setenv(modes.REPORT_VAR, str(path))
    monkeypatch.setenv(modes.FAST_VAR, "0")
    monkeypatch.delenv(modes.MAX_EPOCHS_VAR, raising=False)
    return path


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_record_prints_and_appends_a_json_line(clean_state, capsys):
    report.note_data("mnist", standin=False)
    m = report.record("mnist_test_acc", 0.991, target=0.99)
    assert m.met and m.applies
    out = capsys.readouterr().out
    assert "mnist_test_acc = 0.991" in out and "выполнена" in out and "синтетика" not in out
    kinds = [x["kind"] for x in _lines(clean_state)]
    assert kinds == ["data", "metric"]


def test_lower_is_better_and_nan_never_meets_a_target(clean_state):
    assert report.record("loss", 0.4, target=0.5, higher_is_better=False).met
    assert not report.record("loss", 0.6, target=0.5, higher_is_better=False).met
    assert report.record("acc", float("nan"), target=0.5).met is False


def test_strict_target_fails_only_a_comparable_run(clean_state, monkeypatch):
    report.note_data("gtsrb", standin=False)
    with pytest.raises(AssertionError, match="gtsrb_acc"):
        report.record("gtsrb_acc", 0.90, target=0.97, strict=True)
    monkeypatch.setenv(modes.MAX_EPOCHS_VAR, "2")  # a time-boxed schedule: shown, never failed
    m = report.record("gtsrb_acc", 0.90, target=0.97, strict=True)
    assert not m.applies and "TORCH_BOOK_MAX_EPOCHS" in m.why_not
    monkeypatch.delenv(modes.MAX_EPOCHS_VAR)
    monkeypatch.setenv(modes.FAST_VAR, "1")
    assert not report.record("gtsrb_acc", 0.10, target=0.97, strict=True).applies


def test_standin_data_and_random_weights_make_a_run_not_comparable(clean_state, capsys):
    report.note_data("cifar10", standin=True)
    m = report.record("cifar_acc", 0.95, target=0.88, strict=True)
    assert not m.applies and "синтетические" in m.why_not
    assert "(синтетика)" in capsys.readouterr().out
    report._data_used.clear()
    report.note_weights("ResNet18_Weights.IMAGENET1K_V1", loaded=False)
    assert "случайные веса" in report.record("acc", 0.5, target=0.9, strict=True).why_not


def test_caption_marks_standin_sources_only(clean_state, tmp_path):
    report.note_data("mnist", standin=False)
    report.note_data("cifar10", standin=True)
    assert report.caption("MNIST", "mnist") == "MNIST"
    assert report.caption("CIFAR-10", "cifar10") == "CIFAR-10 (синтетика)"
    assert report.caption("оба") == "оба (синтетика)"  # no source given: anything used so far
    assert report.caption("путь", tmp_path / "standin-v1" / "x") == "путь (синтетика)"
    assert report.caption("U-Net", "mnist", pretrained=False).endswith(report.RANDOM_WEIGHTS_MARK)


def test_nothing_is_written_without_a_report_file(clean_state, monkeypatch):
    monkeypatch.delenv(modes.REPORT_VAR)
    report.record("x", 1.0)
    assert not clean_state.exists()


def test_row_keeps_the_last_of_a_twice_recorded_metric_and_survives_garbage(tmp_path):
    notes = tmp_path / "nb.jsonl"
    notes.write_text("\n".join([
        json.dumps({"kind": "setup", "device": "cpu", "mode": "full", "seed": 1, "max_epochs": 3}),
        json.dumps({"kind": "data", "name": "mnist", "standin": False}),
        json.dumps({"kind": "metric", "name": "acc", "value": 0.5, "target": None, "met": None, "applies": True}),
        json.dumps({"kind": "metric", "name": "acc", "value": 0.7, "target": None, "met": None, "applies": True}),
        "{not json",
        json.dumps([1, 2]),
    ]) + "\n")
    notes_list, problems = report.read_notes(notes)
    row = report.build_row("a.ipynb", "passed", 1.5, notes_list)
    row.problems += problems
    assert [m["value"] for m in row.metrics] == [0.7]
    assert row.mode == "full, epochs ≤ 3" and row.data == ["mnist (real)"]
    assert len(problems) == 2 and any("recorded 2×" in p for p in row.problems)
    text = report.markdown([row])
    assert "| a.ipynb | acc | 0.7 | — | — |" in text


def test_saved_reports_render_again(tmp_path, capsys):
    rows = [report.Row("x.ipynb", "crashed", 2.0, metrics=[
        {"name": "acc", "value": 0.9, "target": 0.97, "met": False, "applies": True, "higher_is_better": True}])]
    report.save(rows, tmp_path / "r")
    assert report.main([str(tmp_path / "r" / "report.json")]) == 0
    out = capsys.readouterr().out
    assert "| x.ipynb | crashed |" in out and "| acc | 0.9 | ≥ 0.97 | FAIL |" in out


def _notebook(path: Path, *sources: str) -> None:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def test_the_test_run_writes_a_row_for_every_notebook_even_a_dead_one(tmp_path):
    shutil.copy(REPO / "conftest.py", tmp_path / "conftest.py")
    _notebook(tmp_path / "good.ipynb", "import torch_book\ncfg = torch_book.setup()",
              "torch_book.record('acc', 0.5)\ntorch_book.record('acc', 0.75, target=0.9)")
    _notebook(tmp_path / "dead.ipynb", "import torch_book\ncfg = torch_book.setup()", "import os\nos._exit(1)",
              "print('never')")
    _notebook(tmp_path / "bad.ipynb", "raise ValueError('boom')")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "TORCH_BOOK_NOTES"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "--nbval-cell-timeout=15", "--rootdir", str(tmp_path), "good.ipynb", "dead.ipynb", "bad.ipynb"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    assert "semester readiness report" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["notebook"]: r for r in json.loads((tmp_path / "runs" / "readiness" / "report.json").read_text())}
    assert rows["good.ipynb"]["status"] == "passed"
    assert [(m["name"], m["value"]) for m in rows["good.ipynb"]["metrics"]] == [("acc", 0.75)]
    assert rows["dead.ipynb"]["status"] == "crashed"
    assert rows["bad.ipynb"]["status"] == "failed"


def test_sources_say_what_a_metric_was_computed_from(clean_state, capsys):
    report.note_data("names", standin=True)  # loaded earlier in the notebook
    m = report.record("forecast_mse", 0.014, target=0.05, higher_is_better=False, sources=["generated"])
    assert m.applies and "(синтетика)" not in capsys.readouterr().out
    m = report.record("names_acc", 0.8, target=0.75, sources=["names"])
    assert not m.applies and "(синтетика)" in capsys.readouterr().out
    assert not report.record("acc", 0.9, target=0.85, sources=["generated"], pretrained=False).applies
