"""The graders' tool: diff each submission against the handed-out template and autograde it in a sandbox.

    python -m torch_book.grade 4_SimpleConv submissions/ [--out grading-out/4_SimpleConv] [--jobs 4]
    python -m torch_book.grade 4_SimpleConv submissions.zip          # also Moodle's "download all submissions"
    python -m torch_book.grade 4_SimpleConv --report-only             # after editing <out>/manual.csv

For every submitted notebook it writes ``<out>/students/<id>/``: ``diff.txt`` and ``diff.html`` (what the
student changed, with the result of each check), ``graded.ipynb`` (the executed notebook), ``run.log`` and
``result.json``; for the group ``report.csv``, ``report.md``, ``report.html``, ``manual.csv`` (manual points
and comments per task, merged by the next run) and ``gradebook.csv`` (a Moodle grading worksheet).

Grading restores every locked cell (checks with their hidden tests, statements, set-up) from the solution
source, keeps the student's solution cells and the cells they added, and runs the result in a Jupyter kernel
inside a bubblewrap sandbox (:mod:`torch_book.sandbox`) in fast + offline mode. The verdict of each check
is read by this process from the kernel's execute replies; before every locked cell that follows student
code, the guard (:mod:`torch_book.guard`) puts back what student code can hijack (:mod:`torch_book.kernelrun`).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import difflib
import hashlib
import html
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from torch_book import gradebook, homework, nbclean, paths, sandbox
from torch_book.kernelrun import KernelRun
from torch_book.submissions import Submission, collect

STATUSES = ("ok", "failed", "timeout", "memory limit", "crashed", "tampering", "grader error", "invalid notebook")
STATEMENT_RE = re.compile(r"^\s*##\s*Задание\s+(\d+)", re.M)
TASK_ID_RE = re.compile(r"^task-(\d+)(-check|-answer|-statement)?$")
MAX_CELLS = 2000
VERSION = "2"  # of the grading procedure: a cached result of another version is graded again

# Student code that touches the grading machinery: flagged for a human to look at (not a verdict by itself).
SUSPICIOUS = [
    (re.compile(r"get_ipython\s*\(|input_transformer|ast_transformers|events\.register"), "IPython-машинерия"),
    (re.compile(r"sys\.(settrace|setprofile|monitoring|_getframe|modules)|inspect\.currentframe|\bf_(back|globals|locals)\b"
                r"|gc\.get_(objects|referrers)|__code__|__globals__|\b__builtins__\b|\bbuiltins\b"), "интроспекция интерпретатора"),
    (re.compile(r"\bctypes\b|os\.kill|os\.fork|setsid|start_new_session|\bsignal\.|\b_thread\b|threading\.Thread"
                r"|os\.system|subprocess|/proc/|environ"), "процессы, сигналы, окружение"),
    (re.compile(r"^\s*(torch|np|numpy|math|F|nn|plt|torch_book)(\.\w+)+\s*=(?!=)", re.M)
     , "подмена функции библиотеки"),
    (re.compile(r"^\s*(assert_close|allclose|gradcheck|isclose|assert_allclose|cfg)\s*=(?!=)", re.M),
     "переопределение имени, которым пользуются проверки"),
    (re.compile(r"TorchFunctionMode|TorchDispatchMode|__torch_function__|__torch_dispatch__|register_module_\w*hook"),
     "глобальный перехват операций torch"),
    (re.compile(r"torch_book[/\\.](grade|guard|kernelrun|sandbox)|importlib\.reload|__import__"), "код проверяющего"),
]


# ----------------------------------------------------------------------------- names in code


def python_code(source: str) -> ast.Module | None:
    """The cell's code as Python (IPython syntax such as ``%pip`` transformed), or None if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def bound_names(tree: ast.Module | None) -> set[str]:
    """Names a cell binds at the top level (assignments, imports, defs, loop and ``with`` targets)."""
    out: set[str] = set()
    if tree is None:
        return out

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(child.name)
                continue
            if isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                out.add(child.id)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                for a in child.names:
                    out.add(a.asname or a.name.split(".")[0])
            elif isinstance(child, ast.ExceptHandler) and child.name:
                out.add(child.name)
            elif isinstance(child, ast.Global):
                out.update(child.names)
            visit(child)

    visit(tree)
    return out


def read_names(tree: ast.Module | None) -> set[str]:
    """Global names a cell reads: at the top level, and in the functions and classes it defines."""
    import symtable

    if tree is None:
        return set()
    try:
        table = symtable.symtable(ast.unparse(tree), "<cell>", "exec")
    except (SyntaxError, ValueError):
        return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    out = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:
        t = stack.pop()
        out |= {s.get_name() for s in t.get_symbols() if s.is_referenced() and s.is_global()}
        stack.extend(t.get_children())
    return out


def imported_modules(tree: ast.Module | None) -> set[str]:
    out: set[str] = set()
    if tree is None:
        return out
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
            out.add(n.module)
    return out


# ----------------------------------------------------------------------------- template


@dataclass
class Template:
    source: nbformat.NotebookNode  # with solutions and hidden tests
    student: nbformat.NotebookNode  # what was handed out
    tasks: dict[int, int]  # task number -> points
    lesson: str = ""
    digest: str = ""

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
        t = cls(source, homework.student_notebook(source), dict(sorted(tasks.items())),
                path.name.removesuffix("_homework.ipynb"), hashlib.sha256(nbclean.dumps(source).encode()).hexdigest())
        t._analyse()
        return t

    def is_solution(self, cid: str) -> bool:
        cell = next((c for c in self.source.cells if c.id == cid), None)
        return cell is not None and homework.SOLUTION_TAG in cell.metadata.get("tags", [])

    def _analyse(self) -> None:
        """Which names the locked cells bind and read, which the solutions bind, which modules they import."""
        self.trees = {c.id: python_code(c.source) for c in self.source.cells if c.cell_type == "code"}
        self.solution_bound: set[str] = set()
        self.locked_bound: set[str] = set()
        self.preimport: set[str] = set()
        for c in self.source.cells:
            if c.cell_type != "code":
                continue
            tree = self.trees[c.id]
            if self.is_solution(c.id):
                self.solution_bound |= bound_names(tree)
            else:
                self.locked_bound |= bound_names(tree)
                self.preimport |= imported_modules(tree)
        self.preimport = {m for m in self.preimport if m.partition(".")[0] not in ("sys", "google")}
        self.packages = {m.partition(".")[0] for m in self.preimport}
        self.answers = [c.id for c in self.student.cells if c.cell_type == "markdown"
                        and homework.SOLUTION_TAG in c.metadata.get("tags", [])]

    def restore_plan(self, cid: str, extra_student_names: set[str]) -> tuple[list[str], list[str], bool]:
        """For a locked cell: (names to put back, builtins to unshadow, does it use the student's code)."""
        tree = self.trees.get(cid)
        free = read_names(tree) - bound_names(tree)
        student = self.solution_bound | extra_student_names
        names = sorted((free & self.locked_bound) - self.solution_bound)
        unshadow = sorted((free & set(dir(builtins))) - self.locked_bound - self.solution_bound)
        return names, unshadow, bool(free & student)


# ----------------------------------------------------------------------------- reading submissions


class InvalidNotebook(ValueError):
    pass


def read_submission(raw: bytes) -> nbformat.NotebookNode:
    """Parse and normalise a submitted notebook (Colab metadata dropped, ids kept where present)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise InvalidNotebook(f"not a JSON notebook: {e}"[:300]) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise InvalidNotebook("JSON, but not a notebook (no cells)")
    major = data.get("nbformat")
    if major not in (3, 4):
        raise InvalidNotebook(f"unsupported nbformat {major!r} (expected 4)")
    had_ids = major == 4 and all(isinstance(c, dict) and "id" in c for c in data.get("cells", []))
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as e:  # noqa: BLE001 - nbformat raises many types on malformed input
        raise InvalidNotebook(f"malformed notebook: {type(e).__name__}: {e}"[:300]) from None
    if len(nb.cells) > MAX_CELLS:
        raise InvalidNotebook(f"{len(nb.cells)} cells (more than {MAX_CELLS})")
    for cell in nb.cells:
        src = cell.get("source", "")
        if (not isinstance(src, (str, list)) or (isinstance(src, list) and not all(isinstance(x, str) for x in src))
                or cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("metadata", {}), dict)):
            raise InvalidNotebook("malformed cell")
        if not had_ids:
            cell.pop("id", None)
    nb.metadata = {}
    for cell in nb.cells:
        cell["source"] = nbclean._source(cell)
        tags = cell.get("metadata", {}).get("tags", [])
        cell["metadata"] = {"tags": [t for t in tags if isinstance(t, str)]} if isinstance(tags, list) and tags else {}
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.pop("attachments", None)
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
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(dict(tmpl.source.metadata)))
    student_cells = {c.id: c for c in tmpl.student.cells}

    def add(cell, cid):
        cell = nbformat.from_dict(copy.deepcopy(dict(cell)))
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
        cell = nbformat.from_dict(copy.deepcopy(dict(cell)))
        cell["id"] = cid or f"student-added-{k}"
        cell["metadata"] = {"tags": tags[cid]} if cid and tags.get(cid) else {}
        nb.cells.append(cell)
    return nb


def unanswered(sub_nb: nbformat.NotebookNode, tmpl: Template) -> list[str]:
    """Written-answer cells still holding the placeholder and nothing else new."""
    handed = {c.id: c.source for c in tmpl.student.cells}
    mine = {c.id: c.source for c in sub_nb.cells}

    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text.replace(homework.ANSWER_PLACEHOLDER, "")).strip()

    return [cid for cid in tmpl.answers if cid not in mine or norm(mine[cid]) == norm(handed[cid])]


def suspicious(cells: list[tuple[str, str]]) -> list[str]:
    """Flags for code that touches the grading machinery: «<what> (<cell ids>)»."""
    found: dict[str, list[str]] = {}
    for cid, src in cells:
        for rx, what in SUSPICIOUS:
            if rx.search(src):
                found.setdefault(what, []).append(cid)
    return [f"подозрительный код — {what}: {', '.join(dict.fromkeys(ids))}" for what, ids in found.items()]


# ----------------------------------------------------------------------------- diff


def write_diff(template: nbformat.NotebookNode, student: nbformat.NotebookNode, folder: Path,
               checks_html: str = "") -> None:
    """``diff.txt`` (nbdime's pretty-printed diff) and ``diff.html`` (the checks' results, then changed cells)."""
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
        "body{font-family:sans-serif}table.diff{font-family:monospace;font-size:12px;border-collapse:collapse}"
        ".diff_add{background:#cfc}.diff_chg{background:#ffc}.diff_sub{background:#fcc}"
        "table.checks td,table.checks th{border:1px solid #999;padding:3px 6px;vertical-align:top}"
        ".fail{background:#fdd}.pass{background:#dfd}pre{white-space:pre-wrap;margin:0}</style>"
        + checks_html + "<h2>Изменения относительно шаблона</h2>"
        + ("".join(parts) or "<p>Изменений нет.</p>")
    )
    (folder / "diff.html").write_text(page, encoding="utf-8")


# ----------------------------------------------------------------------------- running one submission


@dataclass
class RunSettings:
    cell_timeout: int = 300
    total_timeout: int = 1800
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    probe: sandbox.Probe | None = None
    data_root: Path | None = None
    threads: int = 1
    pass_env: tuple[str, ...] = ()
    work_root: Path | None = None
    guard: bool = True  # False only to show, in tests, what the guard prevents (the old grader's behaviour)


ENV_PASS = ("TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "LD_LIBRARY_PATH",
            "TORCH_BOOK_SEED")


def kernel_env(sb: sandbox.Sandbox, package_root: str, data_root: str, settings: RunSettings) -> dict[str, str]:
    """The kernel's environment, built from an allow-list (nothing of the grader's environment by default)."""
    home = sb.inside("home")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home, "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "TMPDIR": sb.inside("tmp"), "PYTHONPATH": package_root, "PYTHONNOUSERSITE": "1", "PYTHONSAFEPATH": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "IPYTHONDIR": f"{home}/.ipython",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib", "XDG_CACHE_HOME": f"{home}/.cache",
        "XDG_CONFIG_HOME": f"{home}/.config", "XDG_DATA_HOME": f"{home}/.local/share",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter", "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": f"{home}/.local/share/jupyter/runtime", "JUPYTER_PLATFORM_DIRS": "1",
        "TORCH_BOOK_FAST": "1", "TORCH_BOOK_OFFLINE": "1", "TORCH_BOOK_DATA": data_root,
        "WANDB_MODE": "disabled", "WANDB_SILENT": "true", "TQDM_DISABLE": "1",
        "OMP_NUM_THREADS": str(settings.threads), "MKL_NUM_THREADS": str(settings.threads),
    }
    for name in (*ENV_PASS, *settings.pass_env):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@dataclass
class CellResult:
    status: str  # ok | error | timeout | dead | limit | total-timeout | tampered | guard-error | not run
    error: str = ""
    seconds: float = 0.0


def run_notebook(nb: nbformat.NotebookNode, tmpl: Template, folder: Path, settings: RunSettings,
                 student_names: set[str]) -> tuple[dict[str, CellResult], list[str], dict]:
    """Execute ``nb`` in a fresh sandbox; returns per-cell results, runtime flags and run facts."""
    probe = settings.probe or sandbox.probe()
    data = settings.data_root or paths.data_root()
    root = Path(tempfile.mkdtemp(prefix="tbg-", dir=settings.work_root))
    pkg = Path(__file__).resolve().parent
    binds = []
    if probe.mode == "bwrap":
        binds = [sandbox.Bind(pkg, "/opt/torch_book/torch_book"), sandbox.Bind(data, "/data")]
        if (data / "runs").is_dir():  # notebooks write their runs (ONNX files, TensorBoard logs) under the data root
            (root / "rw" / "runs").mkdir(parents=True, exist_ok=True)
            binds.append(sandbox.Bind(root / "rw" / "runs", "/data/runs", writable=True))
        package_root, data_root = "/opt/torch_book", "/data"
    else:
        package_root, data_root = str(pkg.parent), str(data)
    sb = sandbox.Sandbox(root, probe, settings.limits, binds)
    sb.env = kernel_env(sb, package_root, data_root, settings)
    log = folder / "run.log"
    log.write_text(f"sandbox: {probe.mode}{' — ' + probe.reason if probe.reason else ''}\n", encoding="utf-8")
    kr = KernelRun(sb, cell_timeout=settings.cell_timeout, total_timeout=settings.total_timeout, log=log)
    results: dict[str, CellResult] = {}
    flags: list[str] = []
    facts: dict = {"sandbox": probe.mode}
    try:
        r = kr.start()
        if r.status == "ok" and settings.guard:
            t = time.monotonic()
            r = kr.install_guard(sorted(tmpl.packages), sorted(tmpl.preimport))
            kr.note(f"guard installed: {r.status} {time.monotonic() - t:.1f} s {r.error}")
        if r.status != "ok":
            results["<start>"] = CellResult(r.status if r.status != "error" else "guard-error", r.error, r.seconds)
            return results, flags, facts
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        dirty = False  # student code ran since the last snapshot
        broken = ""
        for i, cell in enumerate(code_cells):
            cid = cell.id
            locked = not (tmpl.is_solution(cid) or cid.startswith("student-added-"))
            if broken:
                results[cid] = CellResult("not run", broken)
                continue
            if locked and not settings.guard:
                r = kr.execute(cell.source)
            elif locked:
                if dirty:
                    names, unshadow, _ = tmpl.restore_plan(cid, student_names)
                    g = kr.reset(names, unshadow)
                    kr.note(f"reset before {cid}: {g.status} {g.seconds:.2f} s (names: {', '.join(names)})")
                    threads = g.expression("threads")[0] if g.user_expressions else 0
                    if threads:
                        facts["stopped_threads"] = threads
                    if g.status != "ok":
                        results[cid] = CellResult(g.status, g.error, g.seconds)
                        broken = f"not run: {g.error}"
                        kr.note(f"reset before {cid}: {g.status} {g.error}")
                        continue
                r = kr.run_locked(cell.source)
                if r.status in ("ok", "error", "timeout") and i + 1 < len(code_cells) and not _is_locked(tmpl, code_cells[i + 1].id):
                    s = kr.snapshot(sorted(tmpl.locked_bound - tmpl.solution_bound))
                    kr.note(f"snapshot after {cid}: {s.status} {s.seconds:.2f} s")
                    if s.status != "ok":
                        broken = f"not run: {s.error}"
                        kr.note(f"snapshot after {cid}: {s.status} {s.error}")
                        results[f"<snapshot {cid}>"] = CellResult(s.status, s.error)
                    dirty = False
            else:
                r = kr.execute(cell.source)
                dirty = True
            cell.outputs = r.outputs
            cell.execution_count = i + 1
            results.setdefault(cid, CellResult(r.status, r.error, r.seconds))
            kr.note(f"{cid}: {r.status} {r.seconds:.1f} s{(' — ' + r.error.splitlines()[0][:200]) if r.error else ''}")
            if r.status in ("dead", "limit", "total-timeout") or (r.status == "timeout" and not sb.alive()):
                broken = f"not run: the kernel stopped at {cid} ({r.status})"
    finally:
        facts["peak_mb"] = round(sb.peak_bytes / 2**20)
        sb.processes()
        facts["cpu_seconds"] = round(sb.cpu_seconds, 1)
        kr.stop()
        left = sb.leftovers()
        if left:
            flags.append(f"после проверки остались процессы: {left}")
        shutil.rmtree(root, ignore_errors=True)
    if facts.get("stopped_threads"):
        flags.append(f"код студента запускал фоновые потоки, перед проверками они остановлены: {facts['stopped_threads']}")
    return results, flags, facts


def _is_locked(tmpl: Template, cid: str) -> bool:
    return not (tmpl.is_solution(cid) or cid.startswith("student-added-"))


# ----------------------------------------------------------------------------- grading


@dataclass
class Result:
    id: str
    student: str
    path: str = ""
    raw_name: str = ""
    participant: str = ""
    status: str = "ok"
    points: dict[str, float] = field(default_factory=dict)  # automatic, per task
    maxima: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # task -> why its check failed
    unanswered: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    detail: str = ""
    sandbox: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_mb: int = 0
    digest: str = ""  # of the submission, the template and the procedure: a cached result is reused when equal

    @property
    def total(self) -> float:
        return sum(self.points.values())

    def save(self, folder: Path) -> None:
        (folder / "result.json").write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Result:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _checks_html(res: Result, tmpl: Template) -> str:
    rows = []
    for n, pts in tmpl.tasks.items():
        t = f"task-{n}"
        got = res.points.get(t, 0)
        err = res.errors.get(t, "")
        rows.append(f"<tr class='{'pass' if got else 'fail'}'><td>{t}</td><td>{got:g} / {pts}</td>"
                    f"<td><pre>{html.escape(err) if err else 'проверка пройдена'}</pre></td></tr>")
    extra = ""
    if res.unanswered:
        extra += f"<p><b>Письменные ответы не заполнены:</b> {html.escape(', '.join(res.unanswered))}</p>"
    if res.flags:
        extra += "<p><b>Флаги:</b></p><ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in res.flags) + "</ul>"
    return (f"<h1>{html.escape(res.student)}</h1><p>Статус: <b>{html.escape(res.status)}</b>. "
            f"{html.escape(res.detail)}</p><h2>Проверки</h2><table class='checks'><tr><th>задание</th>"
            f"<th>баллы</th><th>ошибка проверки</th></tr>{''.join(rows)}</table>{extra}")


def grade_one(sub: Submission, tmpl: Template, out: Path, settings: RunSettings) -> Result:
    folder = out / "students" / sub.id
    folder.mkdir(parents=True, exist_ok=True)
    tasks = {f"task-{n}": pts for n, pts in tmpl.tasks.items()}
    res = Result(sub.id, sub.student, sub.path, sub.raw_name, sub.participant, points=dict.fromkeys(tasks, 0),
                 maxima=tasks, digest=hashlib.sha256(sub.data + tmpl.digest.encode() + VERSION.encode()).hexdigest())
    t0 = time.monotonic()
    try:
        if sub.problem:
            raise InvalidNotebook(sub.problem)
        nb_sub = read_submission(sub.data)
        ids = match_cells(nb_sub, tmpl)
        missing = [t for t in tasks if t not in ids]
        ident = identified(nb_sub, ids, tmpl)
    except InvalidNotebook as e:
        res.status, res.detail = "invalid notebook", str(e)
        (folder / "run.log").write_text(f"invalid notebook: {e}\n", encoding="utf-8")
        write_diff(tmpl.student, nbformat.v4.new_notebook(), folder, _checks_html(res, tmpl))
        res.save(folder)
        return res
    nb = graded_notebook(nb_sub, ids, tmpl)
    res.unanswered = unanswered(ident, tmpl)
    student_cells = [(c.id, c.source) for c in nb.cells
                     if c.cell_type == "code" and not _is_locked(tmpl, c.id)]
    res.flags = suspicious(student_cells)
    added_names = set().union(*(bound_names(python_code(src)) for cid, src in student_cells
                                if cid.startswith("student-added-"))) if student_cells else set()
    cells, flags, facts = run_notebook(nb, tmpl, folder, settings, added_names)
    res.flags += flags
    res.sandbox, res.peak_mb, res.cpu_seconds = facts.get("sandbox", ""), facts.get("peak_mb", 0), facts.get("cpu_seconds", 0.0)
    res.seconds = round(time.monotonic() - t0, 1)
    nbformat.write(nb, str(folder / "graded.ipynb"))
    _verdict(res, cells, tmpl, student_names=added_names, missing=missing)
    write_diff(tmpl.student, ident, folder, _checks_html(res, tmpl))
    res.save(folder)
    return res


_LIMIT_STATUS = {"limit": "crashed", "timeout": "timeout", "total-timeout": "timeout", "dead": "crashed",
                 "tampered": "tampering", "guard-error": "grader error"}


def _verdict(res: Result, cells: dict[str, CellResult], tmpl: Template, student_names: set[str],
             missing: list[str]) -> None:
    """Points from the check cells' replies; the status from the worst thing that happened, and to whom."""
    notes: list[str] = []
    statuses: list[str] = []
    if "<start>" in cells:
        c = cells["<start>"]
        res.status = "grader error"
        res.detail = f"the kernel or the grader's guard did not start: {c.error}"
        return
    for n, pts in tmpl.tasks.items():
        t = f"task-{n}"
        check = cells.get(f"{t}-check") or CellResult("not run", "not reached")
        if check.status == "ok":
            res.points[t] = pts
            continue
        own = cells.get(t)
        why = check.error or check.status
        if own and own.status == "error" and check.status == "error":  # the student's own error explains more
            why = f"{why} (ячейка {t}: {own.error})"
        res.errors[t] = why
    for cid, c in cells.items():
        if c.status in ("ok", "not run"):
            continue
        special = cid.startswith("<")
        is_check = cid.endswith("-check") and bool(TASK_ID_RE.match(cid))
        locked = special or _is_locked(tmpl, cid)
        if c.status in ("tampered", "guard-error"):
            statuses.append(_LIMIT_STATUS[c.status])
            notes.append(f"{cid}: {c.error}")
            continue
        if locked and not is_check and not special and not tmpl.restore_plan(cid, student_names)[2]:
            # a handed-out cell that does not call student code failed: the grading environment's problem
            statuses.append("grader error")
            notes.append(f"ЗАКРЫТАЯ ЯЧЕЙКА {cid} не выполнилась ({c.status}): {c.error} — ошибка среды проверки, "
                         "а не студента (лимиты памяти и времени, данные, версии пакетов)")
            continue
        if c.status == "error":
            if locked and not is_check:  # a handed-out cell that calls student code failed
                notes.append(f"{cid}: {c.error.splitlines()[0] if c.error else 'error'}")
                statuses.append("failed")
            continue
        memory = c.status == "limit" and c.error.startswith("memory limit")
        statuses.append("memory limit" if memory else _LIMIT_STATUS.get(c.status, "crashed"))
        notes.append(f"{cid}: {c.error}")
    if res.errors:
        statuses.append("failed")
    order = ["grader error", "tampering", "memory limit", "timeout", "crashed", "failed"]
    res.status = next((s for s in order if s in statuses), "ok")
    if res.status in ("tampering", "grader error"):
        res.points = dict.fromkeys(res.points, 0)  # nothing counts when the run cannot be trusted
    if missing:
        notes.append(f"cells not found: {', '.join(missing)}")
    res.detail = "; ".join(notes + [f"{t}: {e}" for t, e in res.errors.items()])


# ----------------------------------------------------------------------------- the whole group


def prepare_data(root: Path) -> None:
    """Stand-in data made before grading, read-only inside the sandbox: all the course's datasets (a homework
    may use one its lesson is not registered for; all of them take about 20 MB and a few seconds, once)."""
    from torch_book import registry, standins

    for name in registry.REGISTRY:
        if hasattr(standins, name):
            getattr(standins, name)(standins.standin_root(root))
    (root / "torch_hub").mkdir(parents=True, exist_ok=True)
    (root / "runs").mkdir(parents=True, exist_ok=True)  # each sandbox mounts its own writable folder here


class Integrity:
    """Without a sandbox student code could rewrite the course package on disk: notice it, put it back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = {p: p.read_bytes() for p in folder.rglob("*.py")}

    def restore(self) -> list[str]:
        changed = []
        for p, data in self.files.items():
            try:
                same = p.read_bytes() == data
            except OSError:
                same = False
            if not same:
                changed.append(p.name)
                p.write_bytes(data)
        for p in self.folder.rglob("*.py"):
            if p not in self.files:
                changed.append(p.name)
                p.unlink()
        return changed


def default_jobs(memory_mb: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        import psutil

        by_memory = int(psutil.virtual_memory().available / 2**20 // max(memory_mb, 1))
    except Exception:  # noqa: BLE001
        by_memory = cores
    return max(1, min(max(1, cores // 2), by_memory))


KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "TERM",
            "TORCH_BOOK_DATA", "OMP_NUM_THREADS", "MKL_NUM_THREADS", *ENV_PASS)


def _hide_environment(argv: list[str], pass_env: list[str]) -> None:
    """Without a sandbox student code can read this process's /proc/<pid>/environ: start again without secrets."""
    if os.environ.get("TORCH_BOOK_GRADE_CLEAN") == "1":
        return
    env = {k: v for k, v in os.environ.items() if k in KEEP_ENV or k in pass_env}
    env["TORCH_BOOK_GRADE_CLEAN"] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "torch_book.grade", *argv], env)


def _preload() -> None:
    """Import now what grading imports later, and drop the working folder from ``sys.path``: without a sandbox
    student code can write there, and nothing this process imports may come from a writable place."""
    import ctypes  # noqa: F401
    import symtable  # noqa: F401

    import jupyter_client.blocking  # noqa: F401
    import nbdime  # noqa: F401
    import nbdime.prettyprint  # noqa: F401
    import psutil  # noqa: F401
    import tqdm.auto  # noqa: F401
    from IPython.core import inputtransformer2  # noqa: F401

    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]


def main(argv: list[str] | None = None, *, cli: bool = False) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m torch_book.grade", description=__doc__.split("\n")[0])
    parser.add_argument("homework", help="lesson folder (e.g. 4_SimpleConv) or a homework source notebook")
    parser.add_argument("submissions", type=Path, nargs="?", help="a folder of .ipynb files, or a zip of them")
    parser.add_argument("--out", type=Path, default=None, help="default: grading-out/<homework>")
    parser.add_argument("--cell-timeout", type=int, default=300, help="seconds per cell (default 300)")
    parser.add_argument("--total-timeout", type=int, default=1800, help="seconds per submission (default 1800)")
    parser.add_argument("--memory-mb", type=int, default=sandbox.Limits.memory_mb,
                        help=f"resident memory of one submission's processes (default {sandbox.Limits.memory_mb})")
    parser.add_argument("--disk-mb", type=int, default=sandbox.Limits.disk_mb,
                        help=f"files one submission may write (default {sandbox.Limits.disk_mb})")
    parser.add_argument("--processes", type=int, default=sandbox.Limits.processes,
                        help=f"processes one submission may run at once (default {sandbox.Limits.processes})")
    parser.add_argument("--jobs", type=int, default=0, help="submissions graded at once (default: half the cores, "
                        "as many as fit in memory)")
    parser.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                        help="auto: bubblewrap where it works, else a loud fallback; bwrap: required; none: off")
    parser.add_argument("--data", type=Path, default=None, help="data root (default: the course's data root)")
    parser.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                        help="also pass this environment variable to student code (repeatable)")
    parser.add_argument("--moodle-worksheet", type=Path, default=None,
                        help="Moodle's grading worksheet (CSV) to fill in: written as <out>/moodle_worksheet.csv")
    parser.add_argument("--report-only", action="store_true",
                        help="do not run anything: rebuild the reports from saved results and manual.csv")
    parser.add_argument("--regrade", action="store_true", help="grade again even unchanged submissions")
    args = parser.parse_args(argv)
    tmpl = Template.load(args.homework)
    out = args.out or Path("grading-out") / tmpl.lesson
    out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        results = [Result.load(p) for p in sorted((out / "students").glob("*/result.json"))]
        info = json.loads((out / "run.json").read_text(encoding="utf-8")) if (out / "run.json").is_file() else {}
        gradebook.write_all(results, tmpl.tasks, out, info, args.moodle_worksheet)
        print(f"{len(results)} results → {out / 'report.html'}")
        return 0
    if args.submissions is None:
        parser.error("give the submissions (a folder or a zip), or --report-only")
    if cli:
        _preload()
    probe = sandbox.probe(args.sandbox)
    if probe.mode != "bwrap":
        if cli:
            _hide_environment(argv, args.pass_env)
        try:  # other processes of this user (not root) cannot read this one's memory and environment
            import ctypes

            ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
        except (OSError, AttributeError):
            pass
    if probe.loud:
        print("!" * 100 + f"\n!! {probe.loud}\n" + "!" * 100, file=sys.stderr)
    jobs = args.jobs or default_jobs(args.memory_mb)
    data_root = (args.data or paths.data_root()).resolve()
    prepare_data(data_root)
    limits = sandbox.Limits(memory_mb=args.memory_mb, disk_mb=args.disk_mb, processes=args.processes)
    settings = RunSettings(args.cell_timeout, args.total_timeout, limits, probe, data_root,
                           threads=max(1, (os.cpu_count() or 1) // jobs), pass_env=tuple(args.pass_env))
    subs, skipped = collect(args.submissions)
    integrity = Integrity(Path(__file__).resolve().parent) if probe.mode != "bwrap" else None
    lock = threading.Lock()
    cached = {}
    for p in (out / "students").glob("*/result.json"):
        try:
            r = Result.load(p)
            cached[r.id] = r
        except (OSError, ValueError, TypeError):
            pass
    from tqdm.auto import tqdm

    def safe_grade(sub: Submission) -> Result:
        digest = hashlib.sha256(sub.data + tmpl.digest.encode() + VERSION.encode()).hexdigest()
        old = cached.get(sub.id)
        if old is not None and old.digest == digest and not args.regrade and old.status != "grader error":
            return old
        try:
            res = grade_one(sub, tmpl, out, settings)
        except Exception as e:  # noqa: BLE001 - one bad submission never stops the others
            res = Result(sub.id, sub.student, sub.path, sub.raw_name, sub.participant, "grader error",
                         dict.fromkeys((f"task-{n}" for n in tmpl.tasks), 0),
                         {f"task-{n}": p for n, p in tmpl.tasks.items()},
                         detail=f"grader error: {type(e).__name__}: {e}")
            (out / "students" / sub.id).mkdir(parents=True, exist_ok=True)
            res.save(out / "students" / sub.id)
        if integrity is not None:
            with lock:
                changed = integrity.restore()
            if changed:
                res.flags.append(f"без песочницы код изменил файлы пакета курса (восстановлены): {', '.join(changed)}"
                                 + (" — возможно, другая работа, выполнявшаяся одновременно" if jobs > 1 else ""))
                res.status, res.points = "tampering", dict.fromkeys(res.points, 0)
                res.save(out / "students" / sub.id)
        return res

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(tqdm(pool.map(safe_grade, subs), total=len(subs), desc="проверка", unit="работа"))
    info = {"sandbox": probe.mode, "sandbox_reason": probe.reason, "jobs": jobs, "memory_mb": args.memory_mb,
            "cell_timeout": args.cell_timeout, "total_timeout": args.total_timeout, "skipped": skipped,
            "seconds": round(time.monotonic() - t0, 1), "lesson": tmpl.lesson,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    (out / "run.json").write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    gradebook.write_all(results, tmpl.tasks, out, info, args.moodle_worksheet)
    maximum = sum(tmpl.tasks.values())
    print(f"{len(results)} submissions graded in {info['seconds']} s (jobs {jobs}, sandbox {probe.mode}) → "
          f"{out / 'report.html'}")
    for r in results:
        print(f"  {r.student[:40]:<40} {r.total:>4g} / {maximum}  {r.status}")
    errors = [r for r in results if r.status == "grader error"]
    if errors:
        print(f"!! {len(errors)} работ(ы) со статусом «grader error»: см. report.html", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(cli=True))
