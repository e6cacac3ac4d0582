"""Metrics against targets, and the semester-readiness report built from them.

In a notebook::

    torch_book.record("mnist_test_acc", acc, target=0.99)              # higher is better
    torch_book.record("val_loss", loss, target=0.5, higher_is_better=False)
    torch_book.record("gtsrb_test_acc", acc, target=0.97, strict=True,
                      note="3 seeds on real GTSRB, H200: 0.981–0.986")
    plt.title(torch_book.caption("Точность на тесте CIFAR-10"))          # «… (синтетика)» on stand-in data

A target is a *full-mode target on real data*: it is compared only in a real full run (full mode, the
full schedule, every dataset real, pretrained weights really loaded). Elsewhere the value is printed
beside the target and marked as not comparable. ``strict=True`` turns a missed target of a real full run
into an ``AssertionError``; use it only for a threshold calibrated from measured runs.

When ``$TORCH_BOOK_REPORT_FILE`` is set (the test run sets it per notebook, see ``conftest.py``),
every record, every dataset the data layer hands out and the run's set-up are appended to it as JSON
lines; :func:`build` turns those files and the test outcomes into the readiness table, and
``python -m torch_book.report`` renders saved tables again (``benchmarks/full_mode.md``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch_book import modes

STANDIN_MARK = "(синтетика)"
RANDOM_WEIGHTS_MARK = "(веса случайные, не предобученные)"

# what this kernel has used so far: dataset name -> True when it was a stand-in; weights -> loaded?
_data_used: dict[str, bool] = {}
_weights_used: dict[str, bool] = {}


def emit(kind: str, **fields: Any) -> None:
    """Append one JSON line to ``$TORCH_BOOK_REPORT_FILE`` (nothing when it is not set)."""
    path = os.environ.get(modes.REPORT_VAR, "").strip()
    if not path:
        return
    line = json.dumps({"kind": kind, "time": time.time(), **fields}, ensure_ascii=False, default=str)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def note_data(name: str, standin: bool, root: str | os.PathLike | None = None) -> None:
    """Called by the data layer each time it hands out a dataset (real or stand-in)."""
    first = name not in _data_used or _data_used[name] != standin
    _data_used[name] = _data_used.get(name, False) or standin
    if first:
        emit("data", name=name, standin=standin, root=str(root) if root is not None else None)


def note_weights(name: str, loaded: bool) -> None:
    """Called when pretrained weights are requested: ``loaded=False`` means a random initialisation."""
    if _weights_used.get(name) != loaded:
        emit("weights", name=name, loaded=loaded)
    _weights_used[name] = _weights_used.get(name, True) and loaded


def used_standin() -> bool:
    """True when this kernel has handed out any stand-in dataset."""
    return any(_data_used.values())


def used_random_weights() -> bool:
    return not all(_weights_used.values())


def _is_standin(source: Any) -> bool:
    if isinstance(source, str) and source in _data_used:
        return _data_used[source]
    from torch_book.data import is_standin

    return is_standin(source)


def caption(text: str, *sources: Any, pretrained: bool | None = None) -> str:
    """``text`` marked «(синтетика)» when its data is a stand-in; the one label for titles and printed metrics.

    ``sources`` are datasets, data paths or registry names (``"cifar10"``); with none, any stand-in
    used by this kernel so far counts. ``pretrained=False`` adds that the weights are random.
    """
    standin = any(_is_standin(s) for s in sources) if sources else used_standin()
    out = f"{text} {STANDIN_MARK}" if standin else text
    if pretrained is False:
        out = f"{out} {RANDOM_WEIGHTS_MARK}"
    return out


def comparable(sources: tuple = (), pretrained: bool | None = None) -> tuple[bool, str]:
    """Whether this run is one that full-mode targets are measured on, and if not, why not.

    With ``sources`` only those datasets count (a metric on generated data is not marked by a stand-in
    loaded earlier); ``pretrained`` likewise overrides what the kernel has loaded so far.
    """
    why = []
    if modes.is_fast():
        why.append("быстрый режим")
    if modes.max_epochs() is not None:
        why.append(f"эпохи ограничены ({modes.MAX_EPOCHS_VAR}={modes.max_epochs()})")
    if any(_is_standin(s) for s in sources) if sources else used_standin():
        why.append("синтетические данные")
    if (pretrained is False) if pretrained is not None else used_random_weights():
        why.append("случайные веса вместо предобученных")
    return not why, ", ".join(why)


@dataclass
class Metric:
    """One recorded value; ``met`` is None when there is no target."""

    name: str
    value: float
    target: float | None
    higher_is_better: bool
    met: bool | None
    applies: bool
    why_not: str = ""
    note: str = ""


def record(name: str, value: float, target: float | None = None, *, higher_is_better: bool = True,
           strict: bool = False, note: str = "", sources: tuple | list = (), pretrained: bool | None = None) -> Metric:
    """Print ``name = value`` against its full-mode target and add it to the run's report; return the Metric.

    ``strict=True``: in a real full run a missed target raises AssertionError (calibrated thresholds only).
    ``sources`` (datasets, paths or registry names) and ``pretrained`` say what this metric was computed
    from; by default everything this kernel has used so far counts.
    """
    sources = tuple(sources)
    value = float(value)
    met = None
    if target is not None and not math.isnan(value):
        met = value >= target if higher_is_better else value <= target
    elif target is not None:
        met = False
    applies, why_not = comparable(sources, pretrained)
    m = Metric(name, value, target, higher_is_better, met, applies, why_not, note)
    emit("metric", **asdict(m), strict=strict)
    op = "≥" if higher_is_better else "≤"
    line = f"[метрика] {caption(name, *sources, pretrained=pretrained)} = {value:.4g}"
    if target is not None:
        if applies:
            line += f"  | цель {op} {target:g}: {'выполнена ✓' if met else 'НЕ выполнена ✗'}"
        else:
            line += f"  | цель полного режима {op} {target:g} здесь не сравнивается ({why_not})"
    if note:
        line += f"  | {note}"
    print(line)
    if strict and applies and met is False:
        raise AssertionError(f"{name} = {value:.4g}, а цель полного режима {op} {target:g} не достигнута"
                             + (f" ({note})" if note else ""))
    return m


# ----------------------------------------------------------------------------- the readiness report


@dataclass
class Row:
    """One notebook of a test run."""

    notebook: str
    status: str  # passed / failed / timeout / crashed (the kernel died) / not run
    seconds: float
    device: str = "?"
    mode: str = "?"
    seed: int | None = None
    data: list[str] = field(default_factory=list)  # "mnist (real)", "cifar10 (stand-in)"
    metrics: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_notes(path: Path) -> tuple[list[dict], list[str]]:
    """The JSON lines of one notebook's report file, and the problems found reading it."""
    notes, problems = [], []
    if not path.is_file():
        return notes, problems
    for k, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not an object")
            notes.append(item)
        except ValueError as e:
            problems.append(f"line {k} of {path.name} unreadable ({e})")
    return notes, problems


def build_row(notebook: str, status: str, seconds: float, notes: Iterable[Mapping]) -> Row:
    """One row from a notebook's outcome and its notes; a metric recorded twice keeps the last value."""
    row = Row(notebook, status, seconds)
    metrics: dict[str, dict] = {}
    counts: dict[str, int] = {}
    data: dict[str, bool] = {}
    for item in notes:
        kind = item.get("kind")
        if kind == "setup":
            row.device = str(item.get("device", "?"))
            row.mode = str(item.get("mode", "?")) + (f", epochs ≤ {item['max_epochs']}" if item.get("max_epochs") else "")
            row.seed = item.get("seed")
        elif kind == "data" and isinstance(item.get("name"), str):
            data[item["name"]] = data.get(item["name"], False) or bool(item.get("standin"))
        elif kind == "weights" and isinstance(item.get("name"), str):
            data[f"weights {item['name']}"] = data.get(f"weights {item['name']}", False) or not item.get("loaded")
        elif kind == "metric" and isinstance(item.get("name"), str):
            name = item["name"]
            counts[name] = counts.get(name, 0) + 1
            metrics[name] = dict(item)
    for name, n in counts.items():
        if n > 1:
            row.problems.append(f"{name} recorded {n}×, the last value is shown")
    row.metrics = list(metrics.values())
    row.data = [f"{n} ({'random' if n.startswith('weights') else 'stand-in'})" if s
                else f"{n} ({'loaded' if n.startswith('weights') else 'real'})" for n, s in sorted(data.items())]
    return row


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def result(metric: Mapping) -> str:
    """pass / FAIL for a comparable run; (pass) / (fail) for one that is not; — without a target."""
    met = metric.get("met")
    if metric.get("target") is None or met is None:
        return "—"
    word = "pass" if met else "FAIL"
    return word if metric.get("applies") else f"({word.lower()})"


def markdown(rows: list[Row], title: str = "Semester readiness report") -> str:
    """The report as Markdown: one table of notebooks, one of metrics against targets."""
    out = [f"# {title}", ""]
    bad = [r for r in rows if r.status != "passed"]
    failed_targets = [(r, m) for r in rows for m in r.metrics if result(m) == "FAIL"]
    out.append(f"{len(rows)} notebooks: {len(rows) - len(bad)} passed, {len(bad)} not "
               f"({', '.join(f'{r.notebook}: {r.status}' for r in bad) or 'none'}); "
               f"{sum(len(r.metrics) for r in rows)} metrics, {len(failed_targets)} comparable targets missed.")
    out += ["", "| notebook | status | time, s | device | mode | seed | data |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.notebook} | {r.status} | {r.seconds:.1f} | {r.device} | {r.mode} | {_fmt(r.seed)} | "
                   f"{', '.join(r.data) or '—'} |")
    out += ["", "| notebook | metric | achieved | target | result | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        for m in r.metrics:
            op = "≥ " if m.get("higher_is_better", True) else "≤ "
            target = op + _fmt(m.get("target")) if m.get("target") is not None else "—"
            why = m.get("why_not") or ""
            note_text = "; ".join(x for x in (m.get("note") or "", f"not comparable: {why}" if why else "") if x)
            out.append(f"| {r.notebook} | {m.get('name')} | {_fmt(m.get('value'))} | {target} | {result(m)} | "
                       f"{note_text} |")
    problems = [f"- {r.notebook}: {p}" for r in rows for p in r.problems]
    if problems:
        out += ["", "Problems while building the report:", *problems]
    out += ["", "pass/FAIL: compared in a real full run (full mode, full schedule, real data, loaded weights); "
            "(pass)/(fail): shown for information, the run was not comparable (the note says why)."]
    return "\n".join(out) + "\n"


def save(rows: list[Row], folder: Path, title: str = "Semester readiness report") -> Path:
    """Write ``report.md`` and ``report.json`` into ``folder``; return the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1),
                                        encoding="utf-8")
    md = folder / "report.md"
    md.write_text(markdown(rows, title), encoding="utf-8")
    return md


def load(paths: Iterable[Path]) -> list[Row]:
    """Rows of saved ``report.json`` files, in order; a later file replaces an earlier row of the same notebook+mode+seed."""
    rows: dict[tuple, Row] = {}
    for path in paths:
        for item in json.loads(Path(path).read_text(encoding="utf-8")):
            row = Row(**item)
            rows[(row.notebook, row.mode, row.seed)] = row
    return list(rows.values())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m torch_book.report",
                                     description="Render saved readiness reports (report.json) as one Markdown table.")
    parser.add_argument("reports", nargs="+", type=Path, help="report.json files of test runs")
    parser.add_argument("--title", default="Semester readiness report")
    parser.add_argument("-o", "--out", type=Path, help="write here instead of printing")
    args = parser.parse_args(argv)
    text = markdown(load(args.reports), args.title)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
