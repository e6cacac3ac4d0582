"""Time to grade N copies of one homework with the graders' tool, sandbox on and off, interleaved.

    nice -n 10 python benchmarks/grading_bench.py --lesson 1_Basic --copies 100 --rounds 4 --jobs 2

The copies are the reference solution of the homework (every check passes, so every cell runs). The N copies
are graded in ``rounds`` runs per mode, alternating bubblewrap / no sandbox, so both see the same load.
Prints a Markdown table (wall time for all copies, per copy, CPU per copy from the sandbox's accounting,
guard calls' time) and writes it to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from grading import corpus  # noqa: E402


def run_round(lesson: str, subs: Path, out: Path, mode: str, jobs: int) -> dict:
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "torch_book.grade", lesson, str(subs), "--out", str(out),
                           "--sandbox", mode, "--jobs", str(jobs), "--cell-timeout", "300", "--data",
                           str(out.parent / "data"), "--regrade"],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.monotonic() - t0
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    results = [json.loads(p.read_text()) for p in (out / "students").glob("*/result.json")]
    guard = []
    for p in (out / "students").glob("*/run.log"):
        text = p.read_text(errors="replace")
        guard += [float(x) for x in re.findall(r"(?:reset before|snapshot after) \S+: ok ([\d.]+) s", text)]
        guard += [float(x) for x in re.findall(r"guard installed: ok ([\d.]+) s", text)]
    return {"mode": mode, "n": len(results), "wall": wall, "load": (load + os.getloadavg()[0]) / 2,
            "cpu": sum(r["cpu_seconds"] for r in results), "ok": sum(r["status"] == "ok" for r in results),
            "points": sum(sum(r["points"].values()) for r in results), "guard": sum(guard)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lesson", default="1_Basic")
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="grade-bench-"))
    per_round = args.copies // args.rounds
    nb = corpus.reference(args.lesson)
    subs = base / "subs"
    for k in range(per_round):
        corpus.save(nb, subs / f"student_{k:03d}.ipynb")
    rounds = []
    for r in range(args.rounds):
        for mode in (("bwrap", "none") if r % 2 == 0 else ("none", "bwrap")):
            res = run_round(args.lesson, subs, base / f"out-{mode}", mode, args.jobs)
            rounds.append(res)
            print(json.dumps(res), flush=True)
    lines = ["| mode | copies | wall, all copies | wall per copy | CPU per copy (kernel tree) | guard calls per copy "
             "| load avg during | checks passed |", "|---|---|---|---|---|---|---|---|"]
    for mode in ("bwrap", "none"):
        rs = [r for r in rounds if r["mode"] == mode]
        n = sum(r["n"] for r in rs)
        wall = sum(r["wall"] for r in rs)
        lines.append(f"| {'bubblewrap sandbox' if mode == 'bwrap' else 'no sandbox (fallback)'} | {n} | {wall:.0f} s "
                     f"| {wall / n:.1f} s | {sum(r['cpu'] for r in rs) / n:.1f} s | {sum(r['guard'] for r in rs) / n:.2f} s "
                     f"| {sum(r['load'] for r in rs) / len(rs):.1f} | {sum(r['points'] for r in rs):.0f} / {10 * n} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
