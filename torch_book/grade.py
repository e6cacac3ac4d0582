"""The graders' tool: diff each submission against the handed-out template and autograde it.

    python -m torch_book.grade 4_SimpleConv submissions/ [--out grading-out/4_SimpleConv]
    python -m torch_book.grade 4_SimpleConv submissions.zip

For every ``<student>.ipynb`` (in a folder, or a zip of them) it writes ``<out>/<student>/``:
``diff.txt`` and ``diff.html`` (only what the student changed, nbdime, id-matched), ``graded.ipynb``
(the executed notebook, long outputs cut) and, for the whole group, ``report.csv``, ``report.md`` and
``report.html`` (student × task points, total, status).

Grading restores every locked cell (checks with their hidden tests, statements, set-up) from the
solution source, keeps the student's solution cells and the cells they added, and runs the result in
a separate process: fresh temporary working directory, fast + offline mode, secrets removed from the
environment, a per-cell timeout, a total timeout and a memory cap. Student code is untrusted: this
limits accidents, it is not a sandbox — run large classes in a container or VM.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import html
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from torch_book import homework, nbclean, paths

STATUSES = ("ok", "failed", "timeout", "crashed", "invalid notebook")
SECRET_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.I)
STATEMENT_RE = re.compile(r"^\s*##\s*Задание\s+(\d+)", re.M)
TASK_ID_RE = re.compile(r"^task-(\d+)(-check|-answer|-statement)?$")
MAX_OUTPUT_CHARS = 5000


@dataclass
class Result:
    student: str
    status: str = "ok"
    points: dict[str, int] = field(default_factory=dict)
    detail: str = ""

    @property
    def total(self) -> int:
        return sum(self.points.values())


# ----------------------------------------------------------------------------- template


@dataclass
class Template:
    source: nbformat.NotebookNode  # with solutions and hidden tests
    student: nbformat.NotebookNode  # what was handed out
    tasks: dict[int, int]  # task number -> points

    @classmethod
    def load(cls, homework_name: str) -> Template:
        path = Path(homework_name)
        if not path.is_file():
            path = homework.source_path(homework_name.rstrip("/").split("/")[-1].removesuffix("_homework.ipynb"))
        if not path.is_file():
            raise SystemExit(f"no homework source {path}; give a lesson folder name such as 4_SimpleConv")
        source = nbclean.normalize(nbclean.read(path))
        tasks = {}
        for cell in source.cells:
            m = TASK_ID_RE.match(cell.id)
            if m and m[2] == "-check":
                pts = [int(t[7:]) for t in cell.metadata.get("tags", []) if t.startswith("points-")]
                tasks[int(m[1])] = pts[0] if pts else 0
        return cls(source, homework.student_notebook(source), dict(sorted(tasks.items())))

    def is_solution(self, cid: str) -> bool:
        cell = next((c for c in self.source.cells if c.id == cid), None)
        return cell is not None and homework.SOLUTION_TAG in cell.metadata.get("tags", [])


# ----------------------------------------------------------------------------- reading submissions


class InvalidNotebook(ValueError):
    pass


def read_submission(raw: bytes) -> nbformat.NotebookNode:
    """Parse and normalise a submitted notebook (Colab metadata dropped, ids kept where present)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidNotebook(f"not a JSON notebook: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise InvalidNotebook("JSON, but not a notebook (no cells)")
    major = data.get("nbformat")
    if major not in (3, 4):
        raise InvalidNotebook(f"unsupported nbformat {major!r} (expected 4)")
    had_ids = major == 4 and all("id" in c for c in data.get("cells", []))
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as e:  # nbformat raises many types on malformed input
        raise InvalidNotebook(f"malformed notebook: {type(e).__name__}: {e}") from None
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), (str, list)) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise InvalidNotebook("malformed cell")
        if not had_ids:
            cell.pop("id", None)
    nb.metadata = {}
    for cell in nb.cells:
        cell["source"] = nbclean._source(cell)
        tags = cell.get("metadata", {}).get("tags", [])
        cell["metadata"] = {"tags": list(tags)} if isinstance(tags, list) and tags else {}
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def match_cells(sub: nbformat.NotebookNode, tmpl: Template) -> list[str | None]:
    """For each submitted cell, the template cell id it corresponds to (None: a cell the student added).

    Ids are used where present; otherwise (Colab can save without ids) cells are matched by their
    unchanged content and task markers («## Задание N» statements), and a solution cell by its place
    between its task's statement and check.
    """
    tcells = tmpl.student.cells
    tids = [c.id for c in tcells]
    by_source: dict[tuple[str, str], list[str]] = {}
    for c in tcells:
        by_source.setdefault((c.cell_type, c.source.strip()), []).append(c.id)
    used: set[str] = set()
    out: list[str | None] = [None] * len(sub.cells)
    for i, cell in enumerate(sub.cells):  # pass 1: ids, then exact content, then statement headings
        cid = cell.get("id")
        if cid in tids and cid not in used:
            out[i] = cid
        else:
            cands = [t for t in by_source.get((cell.cell_type, cell.source.strip()), []) if t not in used]
            if cands:
                out[i] = cands[0]
            elif cell.cell_type == "markdown" and (m := STATEMENT_RE.match(cell.source)):
                sid = f"task-{m[1]}-statement"
                out[i] = sid if sid in tids and sid not in used else None
        if out[i]:
            used.add(out[i])
    # pass 2: an unmatched cell takes the first free solution cell of the same type that the template
    # places after the nearest matched cell before it (and before the next matched one)
    for i, cell in enumerate(sub.cells):
        if out[i]:
            continue
        prev = next((out[j] for j in range(i - 1, -1, -1) if out[j]), None)
        nxt = next((out[j] for j in range(i + 1, len(sub.cells)) if out[j]), None)
        lo = tids.index(prev) + 1 if prev else 0
        hi = tids.index(nxt) if nxt else len(tids)
        for t in tcells[lo:hi]:
            if t.id not in used and t.cell_type == cell.cell_type and tmpl.is_solution(t.id):
                out[i] = t.id
                used.add(t.id)
                break
    return out


def graded_notebook(sub: nbformat.NotebookNode, ids: list[str | None], tmpl: Template) -> nbformat.NotebookNode:
    """The template's cells with the student's solution cells (and added cells) put in; locked cells restored."""
    mine: dict[str, nbformat.NotebookNode] = {}
    added_after: dict[str | None, list[nbformat.NotebookNode]] = {}
    anchor: str | None = None
    for cell, cid in zip(sub.cells, ids, strict=True):
        if cid is None:
            added_after.setdefault(anchor, []).append(cell)
        else:
            mine[cid] = cell
            anchor = cid
    nb = nbformat.v4.new_notebook(metadata=dict(tmpl.source.metadata))
    student_cells = {c.id: c for c in tmpl.student.cells}

    def add(cell, cid):
        cell = nbformat.from_dict(dict(cell))
        cell["id"] = cid
        nb.cells.append(cell)

    for j, cell in enumerate(added_after.get(None, [])):
        add(cell, f"student-added-0-{j}")
    for t in tmpl.source.cells:
        if tmpl.is_solution(t.id):  # the student's version, or the handed-out one if it was deleted
            add(mine.get(t.id, student_cells[t.id]), t.id)
        else:  # locked: restored from the source (checks with their hidden tests)
            add(t, t.id)
        for j, cell in enumerate(added_after.get(t.id, [])):
            add(cell, f"student-added-{t.id}-{j}")
    return nb


def identified(sub: nbformat.NotebookNode, ids: list[str | None], tmpl: Template) -> nbformat.NotebookNode:
    """The submission with the matched template ids and tags, for a diff that shows only what the student changed."""
    tags = {c.id: c.metadata.get("tags") for c in tmpl.student.cells}
    nb = nbformat.v4.new_notebook()
    for k, (cell, cid) in enumerate(zip(sub.cells, ids, strict=True)):
        cell = nbformat.from_dict(dict(cell))
        cell["id"] = cid or f"student-added-{k}"
        cell["metadata"] = {"tags": tags[cid]} if cid and tags.get(cid) else {}
        nb.cells.append(cell)
    return nb


# ----------------------------------------------------------------------------- diff


def write_diff(template: nbformat.NotebookNode, student: nbformat.NotebookNode, folder: Path) -> None:
    """``diff.txt`` (nbdime's pretty-printed diff) and ``diff.html`` (side by side, changed cells only)."""
    import nbdime
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

    a = nbclean.normalize(nbformat.from_dict(json.loads(json.dumps(template))))
    b = nbclean.normalize(nbformat.from_dict(json.loads(json.dumps(student))))
    a.metadata = b.metadata = {}
    diff = nbdime.diff_notebooks(a, b)
    buf = io.StringIO()
    if diff:
        pretty_print_diff(a, diff, "", PrettyPrintConfig(out=buf, use_git=False, use_color=False))
    (folder / "diff.txt").write_text(buf.getvalue() or "no changes\n", encoding="utf-8")
    old = {c.id: c.source for c in a.cells}
    parts = []
    differ = difflib.HtmlDiff(wrapcolumn=90)
    for c in b.cells:
        before = old.get(c.id)
        if before == c.source:
            continue
        title = f"{c.id}" + (" (добавлена студентом)" if before is None else "")
        table = differ.make_table((before or "").splitlines(), c.source.splitlines(), "шаблон", "студент",
                                  context=False)
        parts.append(f"<h3>{html.escape(title)}</h3>{table}")
    removed = [cid for cid in old if cid not in {c.id for c in b.cells}]
    if removed:
        parts.append("<h3>Удалённые ячейки</h3><p>" + html.escape(", ".join(removed)) + "</p>")
    page = (
        "<!doctype html><meta charset='utf-8'><title>diff</title><style>"
        "table.diff{font-family:monospace;font-size:12px;border-collapse:collapse}"
        ".diff_add{background:#cfc}.diff_chg{background:#ffc}.diff_sub{background:#fcc}</style>"
        + ("".join(parts) or "<p>Изменений нет.</p>")
    )
    (folder / "diff.html").write_text(page, encoding="utf-8")


# ----------------------------------------------------------------------------- execution (child process)


def _child_env(data_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not SECRET_RE.search(k)}
    env.update(TORCH_BOOK_FAST="1", TORCH_BOOK_OFFLINE="1", TORCH_BOOK_DATA=str(data_root),
               WANDB_MODE="disabled", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    env.pop("WANDB_API_KEY", None)
    return env


def _run_child(nb_path: Path, progress_path: Path, cell_timeout: int) -> None:
    """Runs in the child process: execute the notebook, recording each check cell's outcome as it goes."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(str(nb_path), as_version=4)
    record: dict = {"cells": {}, "timeout": False, "dead": False}

    def save():
        tmp = progress_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, progress_path)

    def on_cell_executed(cell, cell_index, execute_reply):
        errs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        status = (execute_reply or {}).get("content", {}).get("status", "ok")
        record["cells"][cell.id] = {"ok": not errs and status == "ok",
                                    "error": (f"{errs[0]['ename']}: {errs[0]['evalue']}"[:300] if errs else "")}
        for out in cell.get("outputs", []):  # keep the executed notebook small
            if "text" in out and len(out["text"]) > MAX_OUTPUT_CHARS:
                out["text"] = out["text"][:MAX_OUTPUT_CHARS] + "\n… [вывод обрезан]\n"
        save()

    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, on_cell_executed=on_cell_executed,
                            resources={"metadata": {"path": os.getcwd()}})
    try:
        client.execute()
    except CellTimeoutError:
        record["timeout"] = True
    except DeadKernelError:
        record["dead"] = True
    save()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out and len(out["text"]) > MAX_OUTPUT_CHARS:
                out["text"] = out["text"][:MAX_OUTPUT_CHARS] + "\n… [вывод обрезан]\n"
    nbformat.write(nb, str(nb_path.with_name("executed.ipynb")))


def _kill_tree(pid: int) -> None:
    """Kill the child and everything it started (the kernel runs in a session of its own)."""
    import psutil

    try:
        procs = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def execute_isolated(nb: nbformat.NotebookNode, folder: Path, *, cell_timeout: int, total_timeout: int,
                     memory_mb: int, data_root: Path) -> tuple[dict, str]:
    """Run ``nb`` in a child process in a fresh temporary directory; returns (record, problem)."""
    work = Path(tempfile.mkdtemp(prefix="grade-"))
    nb_path = work / "submission.ipynb"
    nbformat.write(nb, str(nb_path))
    progress = work / "progress.json"
    limit = memory_mb * 1024 * 1024

    def limits():  # in the child, inherited by the kernel it starts
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    cmd = [sys.executable, "-m", "torch_book.grade", "--_child", str(nb_path), str(progress), str(cell_timeout)]
    problem = ""
    proc = subprocess.Popen(cmd, cwd=work, env=_child_env(data_root), preexec_fn=limits,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        log, _ = proc.communicate(timeout=total_timeout)
        if proc.returncode != 0:
            problem = f"grader child exited with {proc.returncode}"
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        log, _ = proc.communicate()
        problem = f"total timeout ({total_timeout} s)"
    (folder / "run.log").write_bytes((log or b"")[-200_000:])
    record = json.loads(progress.read_text()) if progress.is_file() else {"cells": {}}
    if (work / "executed.ipynb").is_file():
        shutil.copy(work / "executed.ipynb", folder / "graded.ipynb")
    shutil.rmtree(work, ignore_errors=True)
    return record, problem


# ----------------------------------------------------------------------------- grading


def grade_one(student: str, raw: bytes, tmpl: Template, out: Path, **run_kw) -> Result:
    folder = out / student
    folder.mkdir(parents=True, exist_ok=True)
    result = Result(student, points={f"task-{n}": 0 for n in tmpl.tasks})
    try:
        sub = read_submission(raw)
        ids = match_cells(sub, tmpl)
        missing = [f"task-{n}" for n in tmpl.tasks if f"task-{n}" not in ids]
        write_diff(tmpl.student, identified(sub, ids, tmpl), folder)
    except InvalidNotebook as e:
        result.status, result.detail = "invalid notebook", str(e)
        return result
    record, problem = execute_isolated(graded_notebook(sub, ids, tmpl), folder, **run_kw)
    cells = record.get("cells", {})
    failures = []
    for n, pts in tmpl.tasks.items():
        check, task = cells.get(f"task-{n}-check"), cells.get(f"task-{n}")
        if check and check["ok"]:
            result.points[f"task-{n}"] = pts
        else:  # the student's own cell's error explains more than the check's NameError
            why = (task["error"] if task and task["error"] else "") or (check["error"] if check else "not reached")
            failures.append(f"task-{n}: {why}")
    timed_out = record.get("timeout") or problem.startswith("total timeout") or any(
        "CellTimeoutError" in c["error"] or "KeyboardInterrupt" in c["error"] for c in cells.values())
    if problem.startswith("total timeout") or timed_out:
        result.status = "timeout"
    elif record.get("dead") or problem or any("DeadKernelError" in c["error"] for c in cells.values()):
        result.status = "crashed"
    elif failures:
        result.status = "failed"
    notes = ([problem] if problem else []) + ([f"cells not found: {', '.join(missing)}"] if missing else [])
    result.detail = "; ".join(notes + failures)
    return result


def collect(submissions: Path) -> list[tuple[str, bytes]]:
    """(student, raw bytes) for every .ipynb in a folder or a zip; the student is the file name."""
    items: list[tuple[str, bytes]] = []
    if submissions.is_file() and zipfile.is_zipfile(submissions):
        with zipfile.ZipFile(submissions) as zf:
            for info in zf.infolist():
                name = Path(info.filename)
                if info.is_dir() or name.suffix != ".ipynb" or "__MACOSX" in name.parts:
                    continue
                items.append((name.stem, zf.read(info)))
    elif submissions.is_dir():
        items = [(p.stem, p.read_bytes()) for p in sorted(submissions.rglob("*.ipynb"))
                 if ".ipynb_checkpoints" not in p.parts]
    else:
        raise SystemExit(f"{submissions}: not a folder or a zip of .ipynb files")
    seen: dict[str, int] = {}
    named = []
    for stem, raw in items:
        safe = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._") or "student"
        seen[safe] = seen.get(safe, 0) + 1
        named.append((safe if seen[safe] == 1 else f"{safe}-{seen[safe]}", raw))
    return named


def write_reports(results: list[Result], tmpl: Template, out: Path) -> None:
    tasks = [f"task-{n}" for n in tmpl.tasks]
    header = ["student", *tasks, "total", "status", "detail"]
    with open(out / "report.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in results:
            w.writerow([r.student, *[r.points.get(t, 0) for t in tasks], r.total, r.status, r.detail])
    maxpts = [tmpl.tasks[n] for n in tmpl.tasks]
    md = ["| студент | " + " | ".join(f"{t} ({p})" for t, p in zip(tasks, maxpts, strict=True)) + " | итого | статус |",
          "|---" * (len(tasks) + 3) + "|"]
    for r in results:
        md.append(f"| {r.student} | " + " | ".join(str(r.points.get(t, 0)) for t in tasks) + f" | {r.total} | {r.status} |")
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in
                         [r.student, *[r.points.get(t, 0) for t in tasks], r.total, r.status])
        + f"<td><a href='{html.escape(r.student)}/diff.html'>diff</a></td><td>{html.escape(r.detail)}</td></tr>"
        for r in results)
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in ["студент", *tasks, "итого", "статус", "diff", "подробности"])
    (out / "report.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>report</title>"
        f"<table border=1 cellpadding=4><tr>{heads}</tr>{rows}</table>", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_child"]:
        _run_child(Path(argv[1]), Path(argv[2]), int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m torch_book.grade", description=__doc__.split("\n")[0])
    parser.add_argument("homework", help="lesson folder (e.g. 4_SimpleConv) or a homework source notebook")
    parser.add_argument("submissions", type=Path, help="a folder of .ipynb files, or a zip of them")
    parser.add_argument("--out", type=Path, default=None, help="default: grading-out/<homework>")
    parser.add_argument("--cell-timeout", type=int, default=300, help="seconds per cell (default 300)")
    parser.add_argument("--total-timeout", type=int, default=1800, help="seconds per submission (default 1800)")
    parser.add_argument("--memory-mb", type=int, default=8192, help="address-space cap of the run (default 8192)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    args = parser.parse_args(argv)
    tmpl = Template.load(args.homework)
    name = Path(args.homework).stem.removesuffix("_homework")
    out = args.out or Path("grading-out") / name
    out.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    run_kw = dict(cell_timeout=args.cell_timeout, total_timeout=args.total_timeout, memory_mb=args.memory_mb,
                  data_root=paths.data_root())

    def safe_grade(item: tuple[str, bytes]) -> Result:
        student, raw = item
        try:
            return grade_one(student, raw, tmpl, out, **run_kw)
        except Exception as e:  # one bad submission never stops the others
            return Result(student, "crashed", {f"task-{n}": 0 for n in tmpl.tasks},
                          f"grader error: {type(e).__name__}: {e}")

    items = collect(args.submissions)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:  # each submission runs in its own process
        results = list(tqdm(pool.map(safe_grade, items), total=len(items), desc="проверка", unit="работа"))
    write_reports(results, tmpl, out)
    print(f"{len(results)} submissions graded → {out / 'report.csv'}, {out / 'report.md'}, {out / 'report.html'}")
    for r in results:
        print(f"  {r.student:<30} {r.total:>3} / {sum(tmpl.tasks.values())}  {r.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
