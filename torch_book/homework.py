"""Homework: solution sources under ``tests/homework/`` → student notebooks in the lesson folders.

Markers (nbgrader-compatible), allowed only in cells tagged ``solution`` (or ``check`` for hidden tests):

* ``### BEGIN SOLUTION`` … ``### END SOLUTION`` → ``raise NotImplementedError()`` at the marker's indent
  (in markdown cells → «ВАШ ОТВЕТ ЗДЕСЬ»; a ``solution`` markdown cell without markers is replaced whole);
* ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` → removed from the student copy.

    python -m torch_book.homework build [FOLDER …]     # write the student notebooks
    python -m torch_book.homework check                # exit 1 if a committed copy differs from a fresh build
    python -m torch_book.homework validate [FOLDER …]  # run a source (fast + offline) and prove its checks pass
    python -m torch_book.homework export DEST          # the student-facing course, without solution sources
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from pathlib import Path

import nbformat

from torch_book import nbclean, paths

SOLUTION_TAG = "solution"
CHECK_TAG = "check"
ANSWER_PLACEHOLDER = "ВАШ ОТВЕТ ЗДЕСЬ"
_MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<kind>BEGIN|END) (?P<what>SOLUTION|HIDDEN TESTS)\s*$")


class HomeworkFormatError(ValueError):
    """A source notebook breaks the homework format; the message names the cell id."""


def sources_dir(repo: Path | None = None) -> Path:
    return (repo or paths.repo_root() or Path.cwd()) / "tests" / "homework"


def source_path(folder: str, repo: Path | None = None) -> Path:
    return sources_dir(repo) / f"{folder}_homework.ipynb"


def student_path(source: Path, repo: Path | None = None) -> Path:
    repo = repo or paths.repo_root() or Path.cwd()
    return repo / nbclean.published_path(source, repo)


def _strip(cell, cell_type: str) -> str:
    """The student's version of one cell's source."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    cid = cell.get("id", "?")
    out: list[str] = []
    open_region: str | None = None
    saw_solution = False
    for lineno, line in enumerate(cell.source.splitlines(keepends=True), start=1):
        m = _MARKER.match(line.rstrip("\n"))
        if not m:
            if open_region is None:
                out.append(line)
            continue
        kind, what = m["kind"], m["what"]
        if kind == "BEGIN":
            if open_region is not None:
                raise HomeworkFormatError(f"cell {cid!r}, line {lineno}: BEGIN {what} inside an open {open_region} region")
            needed = SOLUTION_TAG if what == "SOLUTION" else CHECK_TAG
            if needed not in tags:
                raise HomeworkFormatError(f"cell {cid!r}: a {what} region needs the cell tag {needed!r}")
            open_region = what
            if what == "SOLUTION":
                saw_solution = True
                if cell_type == "markdown":
                    out.append(ANSWER_PLACEHOLDER + "\n")
                else:
                    out.append(f"{m['indent']}raise NotImplementedError()\n")
        else:
            if open_region != what:
                raise HomeworkFormatError(f"cell {cid!r}, line {lineno}: END {what} without a matching BEGIN")
            open_region = None
    if open_region is not None:
        raise HomeworkFormatError(f"cell {cid!r}: {open_region} region is never closed")
    if cell_type == "markdown" and SOLUTION_TAG in tags and not saw_solution:
        return ANSWER_PLACEHOLDER
    return "".join(out).rstrip("\n") if out else ""


def student_notebook(source_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student copy: solutions and hidden tests stripped, ids and tags kept, outputs cleared."""
    nb = copy.deepcopy(source_nb)
    ids = [c.get("id") for c in nb.cells]
    for cell in nb.cells:
        if cell.cell_type in ("code", "markdown"):
            cell.source = _strip(cell, cell.cell_type)
    for cid in ids:
        if cid is None:
            raise HomeworkFormatError("a cell has no id: normalise the source first (python -m torch_book.nbclean)")
    return nbclean.normalize(nb)


def build_text(source: Path, repo: Path | None = None) -> str:
    repo = repo or paths.repo_root() or Path.cwd()
    nb = nbclean.read(source)
    nbclean.fix_links(nb, nbclean.published_path(source, repo))
    return nbclean.dumps(student_notebook(nbclean.normalize(nb)))


def all_sources(repo: Path | None = None, folders: list[str] | None = None) -> list[Path]:
    if folders:
        return [source_path(f, repo) for f in folders]
    return sorted(sources_dir(repo).glob("*_homework.ipynb"))


def build(folders: list[str] | None = None, repo: Path | None = None) -> list[Path]:
    written = []
    for source in all_sources(repo, folders):
        target = student_path(source, repo)
        target.write_text(build_text(source, repo), encoding="utf-8")
        written.append(target)
    return written


def check(repo: Path | None = None) -> list[str]:
    """Problems: student copies that differ from a fresh build, or that have no source."""
    problems = []
    for source in all_sources(repo):
        target = student_path(source, repo)
        if not target.is_file():
            problems.append(f"{target}: missing (run python -m torch_book.homework build)")
        elif target.read_text(encoding="utf-8") != build_text(source, repo):
            problems.append(f"{target}: differs from a fresh build of {source}")
    return problems


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 300, allow_errors: bool = False,
            env: dict | None = None) -> nbformat.NotebookNode:
    """Run a notebook with nbclient in ``cwd`` (fast + offline unless the caller's env says otherwise)."""
    from nbclient import NotebookClient

    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("TORCH_BOOK_FAST", "1")
    run_env.setdefault("TORCH_BOOK_OFFLINE", "1")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=run_env)
    return nb


def validate(folders: list[str] | None = None, repo: Path | None = None) -> None:
    for source in all_sources(repo, folders):
        execute(nbclean.read(source), cwd=source.parent)
        print(f"ok: {source}")


STUDENT_FACING = ("README.md", "LICENSE", "requirements.txt", "pyproject.toml", "torch_book", "data/README.md",
                  *paths.LESSONS)


def export(dest: Path, repo: Path | None = None) -> list[Path]:
    """Copy the student-facing course (lessons, package, READMEs) to ``dest``: no tests, no solution sources."""
    import shutil

    repo = repo or paths.repo_root() or Path.cwd()
    problems = check(repo)
    if problems:
        raise HomeworkFormatError("student copies are out of date:\n" + "\n".join(problems))
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    copied = []
    for name in STUDENT_FACING:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
        else:
            continue
        copied.append(dest / name)
    leaked = [p for p in dest.rglob("*") if p.is_file() and "### BEGIN SOLUTION" in p.read_text(errors="ignore")
              and p.suffix == ".ipynb"]
    if leaked:
        raise HomeworkFormatError(f"solution markers in the export: {leaked}")
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torch_book.homework", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build", "check", "validate", "export"])
    parser.add_argument("folders", nargs="*", help="lesson folders, e.g. 1_Basic (default: all); export: DEST")
    args = parser.parse_args(argv)
    if args.command == "export":
        if len(args.folders) != 1:
            parser.error("export takes one argument: the destination folder")
        for path in export(Path(args.folders[0])):
            print(f"exported {path}")
        return 0
    if args.command == "build":
        for path in build(args.folders or None):
            print(f"wrote {path}")
    elif args.command == "check":
        problems = check()
        print("\n".join(problems) if problems else "all student notebooks are in sync with their sources")
        return 1 if problems else 0
    else:
        validate(args.folders or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
