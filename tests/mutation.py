"""Mutation testing of the homework checks: plausible wrong solutions must fail, other right ones must pass.

Each homework with a file ``tests/mutants/<lesson>.py`` declares, per task cell, variants of the
student's solution:

* :class:`Mutant` — a classic mistake of that task (missing ``zero_grad``/``eval``/``detach``, wrong
  reduction, wrong units, swapped arguments, in-place edits, test-data leakage …); the task's check
  cell must fail for it (``killed``);
* :class:`Alternative` — a correct solution written differently from the reference; every cell up to
  and including the check must pass.

A variant is either a whole new cell source or a list of ``(old, new)`` replacements applied to the
reference solution cell (each ``old`` must occur in it, so a stale mutant is an error, not a pass).

How it runs (fast + offline, as the graders' tool runs a submission): one process per homework runs
the solution source cell by cell in an IPython shell; at a task cell with variants it forks once per
variant, and the child runs the variant in place of the reference, then the cells up to the task's
check, and reports what happened. The parent then runs the reference cell and goes on, so each variant
costs only its own cells and starts from exactly the state a student's cell would see.

    python tests/mutation.py                     # every homework with mutants; prints the table
    python tests/mutation.py 2_Perceptron --markdown benchmarks/mutation.md

As in grading, a variant whose own cell raises still runs on to the check: it is killed only if the
check fails (a half-run solution that leaves enough defined to pass the check survives).
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTANTS_DIR = REPO / "tests" / "mutants"
SOURCES_DIR = REPO / "tests" / "homework"
VARIANT_TIMEOUT = 240  # seconds for one variant's cells (fast mode)


@dataclass
class Variant:
    name: str
    why: str  # what the variant does, in a few words (shown in reports and failure messages)
    source: str | None = None
    replace: list[tuple[str, str]] = field(default_factory=list)
    cell: str | None = None  # the cell to replace; default: the task cell it is listed under

    expect = "pass"

    def render(self, reference: str) -> str:
        if self.source is not None:
            return self.source
        text = reference
        for old, new in self.replace:
            if old not in text:
                raise ValueError(f"variant {self.name!r}: {old!r} does not occur in the reference cell")
            text = text.replace(old, new)
        if text == reference:
            raise ValueError(f"variant {self.name!r} does not change the reference cell")
        return text


@dataclass
class Mutant(Variant):
    expect = "killed"


@dataclass
class Alternative(Variant):
    expect = "pass"


@dataclass
class Outcome:
    homework: str
    task: str
    variant: str
    why: str
    expect: str  # killed / pass
    result: str  # passed / check failed / timeout / crashed (an earlier failing cell is in the message)
    message: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        if self.expect == "pass":
            return self.result == "passed"
        return self.result in ("check failed", "timeout")


def mutants_of(lesson: str) -> dict[str, list[Variant]]:
    """The ``VARIANTS`` mapping (task cell id → variants) of ``tests/mutants/<lesson>.py``."""
    path = MUTANTS_DIR / f"{lesson}.py"
    spec = importlib.util.spec_from_file_location(f"mutants_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VARIANTS


def lessons_with_mutants() -> list[str]:
    return sorted(p.stem for p in MUTANTS_DIR.glob("[1-9]_*.py"))


# ----------------------------------------------------------------------------- the child process


def _error_text(result) -> str:
    err = result.error_in_exec or result.error_before_exec
    return f"{type(err).__name__}: {err}"[:500] if err else ""


def _run_variant(shell, cells, start: int, check_index: int, source: str, out_fd: int) -> None:
    """In a forked child: the variant, then the cells up to the check; one JSON line to ``out_fd``."""
    import contextlib
    import io

    record = {"result": "passed", "message": ""}
    earlier = ""  # like the graders' tool (allow_errors), a failing cell does not stop the run: the check decides
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            for k in range(start, check_index + 1):
                res = shell.run_cell(source if k == start else cells[k]["source"], store_history=False)
                if not res.success and k < check_index and not earlier:
                    earlier = f"{cells[k]['id']}: {_error_text(res)}"
                elif not res.success:
                    record = {"result": "check failed", "message": f"{cells[k]['id']}: {_error_text(res)}"
                              + (f" (earlier: {earlier})" if earlier else "")}
            if record["result"] == "passed" and earlier:
                record["message"] = f"the check passed although {earlier}"
    except BaseException as e:  # noqa: BLE001 — whatever happens, report it to the parent
        record = {"result": "crashed", "message": f"{type(e).__name__}: {e}"[:500]}
    os.write(out_fd, (json.dumps(record) + "\n").encode())
    os._exit(0)


def _wait_child(pid: int, read_fd: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"result": "timeout", "message": f"no answer in {timeout:.0f} s"}
        ready, _, _ = select.select([read_fd], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(read_fd, 65536)
            data += chunk
            if not chunk or data.endswith(b"\n"):
                break
    os.waitpid(pid, 0)
    try:
        return json.loads(data.decode())
    except ValueError:
        return {"result": "crashed", "message": "the child died without an answer"}


def run_source(lesson: str, timeout: float = VARIANT_TIMEOUT) -> list[dict]:
    """Run one homework source with all its variants (in this process); return outcomes as dicts."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    source_path = SOURCES_DIR / f"{lesson}_homework.ipynb"
    nb = nbformat.read(str(source_path), as_version=4)
    cells = [{"id": c.id, "source": c.source} for c in nb.cells if c.cell_type == "code"]
    index = {c["id"]: k for k, c in enumerate(cells)}
    variants = mutants_of(lesson)
    for cid in variants:
        if cid not in index:
            raise KeyError(f"{lesson}: no code cell {cid!r} in {source_path.name}")
    os.chdir(source_path.parent)
    shell = InteractiveShell.instance()
    outcomes = []
    for cell in cells:
        for variant in variants.get(cell["id"], []):
            target = variant.cell or cell["id"]
            check_id = target.split("-")[0] + "-" + target.split("-")[1] + "-check"
            if check_id not in index:
                raise KeyError(f"{lesson}: variant {variant.name!r} of {target!r} has no check cell {check_id!r}")
            src = variant.render(cells[index[target]]["source"])
            read_fd, write_fd = os.pipe()
            t0 = time.monotonic()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _run_variant(shell, cells, index[target], index[check_id], src, write_fd)
            os.close(write_fd)
            got = _wait_child(pid, read_fd, timeout)
            os.close(read_fd)
            outcomes.append(asdict(Outcome(lesson, target, variant.name, variant.why, variant.expect, got["result"],
                                           got.get("message", ""), round(time.monotonic() - t0, 2))))
        res = shell.run_cell(cell["source"], store_history=False)
        if not res.success:
            outcomes.append(asdict(Outcome(lesson, cell["id"], "reference", "the solution source itself", "pass",
                                           "failed before the check", _error_text(res))))
            break
    return outcomes


def run(lesson: str, timeout: float = VARIANT_TIMEOUT) -> list[Outcome]:
    """Run ``lesson``'s variants in a fresh process (fast + offline, one thread) and return the outcomes."""
    env = dict(os.environ, TORCH_BOOK_FAST=os.environ.get("TORCH_BOOK_FAST", "1"),
               TORCH_BOOK_OFFLINE=os.environ.get("TORCH_BOOK_OFFLINE", "1"), MPLBACKEND="Agg",
               OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    env.pop("TORCH_BOOK_REPORT_FILE", None)
    proc = subprocess.run([sys.executable, __file__, "--_child", lesson, str(timeout)], env=env,
                          capture_output=True, text=True)
    marker = "@@OUTCOMES@@"
    if marker not in proc.stdout:
        raise RuntimeError(f"mutation run of {lesson} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return [Outcome(**o) for o in json.loads(proc.stdout.rsplit(marker, 1)[1])]


def markdown(outcomes: list[Outcome]) -> str:
    lines = ["| homework | mutants killed | alternatives passed | survivors / failures |", "|---|---|---|---|"]
    for hw in sorted({o.homework for o in outcomes}):
        own = [o for o in outcomes if o.homework == hw]
        muts = [o for o in own if o.expect == "killed"]
        alts = [o for o in own if o.expect == "pass"]
        bad = ", ".join(f"{o.task}/{o.variant}" for o in own if not o.ok) or "—"
        lines.append(f"| {hw} | {sum(o.ok for o in muts)}/{len(muts)} | {sum(o.ok for o in alts)}/{len(alts)} | {bad} |")
    lines += ["", "| homework | task | variant | what it does | expected | got | message |", "|---|---|---|---|---|---|---|"]
    for o in outcomes:
        msg = o.message.replace("|", "\\|").replace("\n", " ")[:160]
        lines.append(f"| {o.homework} | {o.task} | {o.variant} | {o.why} | {o.expect} | {o.result} | {msg} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--_child"]:
        outcomes = run_source(argv[1], float(argv[2]))
        sys.stdout.flush()
        print("@@OUTCOMES@@" + json.dumps(outcomes))
        return 0
    import argparse

    parser = argparse.ArgumentParser(prog="python tests/mutation.py", description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="default: every homework with a mutants file")
    parser.add_argument("--markdown", type=Path, help="also write the table here (benchmarks/mutation.md)")
    args = parser.parse_args(argv)
    outcomes = []
    for lesson in args.lessons or lessons_with_mutants():
        t0 = time.monotonic()
        outcomes += run(lesson)
        print(f"{lesson}: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    text = markdown(outcomes)
    print(text)
    if args.markdown:
        args.markdown.write_text("# Mutation testing of the homework checks\n\n"
                                 "Generated by `python tests/mutation.py --markdown benchmarks/mutation.md` "
                                 "(fast + offline, stand-in data). Mutants must fail their task's check; "
                                 "alternatives (correct, written differently) must pass it.\n\n" + text,
                                 encoding="utf-8")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "tests"))
    raise SystemExit(main(sys.argv[1:]))
