"""The notebook normaliser: what makes committed notebooks clean and graders' diffs readable.

Strips outputs and execution counts (except cells tagged ``keep_output`` or
``nbval-check-output``), keeps cell ids (adding stable ones where missing), keeps only ``tags``
in cell metadata and a fixed kernelspec/language_info at notebook level.

    python -m torch_book.nbclean            # normalise every course notebook in place
    python -m torch_book.nbclean --check    # exit 1 and list the notebooks that are not clean

Colab badges, the setup cell's install URL and the addresses of the lessons' SVG figures
(``![…](https://raw.githubusercontent.com/OWNER/REPO/REF/<lesson>/figures/<name>.svg)``) are rewritten
from ``torch_book.paths`` each time. The install URL is pinned there to ``paths.PACKAGE_REF`` (the release
tag ``v<torch_book.__version__>``), so a notebook installs the package version it was normalised with.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import nbformat

from torch_book import paths

KEEP_TAGS = {"keep_output", "nbval-check-output"}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
_ID_RE = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _new_id(cell, taken: set[str]) -> str:
    base = "cell-" + hashlib.sha1(_source(cell).encode()).hexdigest()[:8]
    cid, k = base, 1
    while cid in taken:
        k += 1
        cid = f"{base}-{k}"
    return cid


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return ``nb`` normalised in place (see the module docstring)."""
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
    taken: set[str] = set()
    for cell in nb.cells:
        cid = cell.get("id")
        if not cid or not _ID_RE.match(cid) or cid in taken:
            cid = _new_id(cell, taken)
        cell["id"] = cid
        taken.add(cid)
        tags = list(cell.get("metadata", {}).get("tags", []))
        cell["metadata"] = nbformat.from_dict({"tags": tags} if tags else {})
        cell["source"] = _source(cell)
        if cell.get("cell_type") == "code":
            if not KEEP_TAGS & set(tags):
                cell["outputs"] = []
                cell["execution_count"] = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            if cell.get("cell_type") == "markdown" and not cell.get("attachments"):
                cell.pop("attachments", None)
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


# ----------------------------------------------------------------------------- links

_COLAB_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"']+\.ipynb")
_RAW_RE = re.compile(r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[\w.-]+/(?P<path>[\w./-]+\.svg)")
_GIT_RE = re.compile(r"git\+https://github\.com/[\w.-]+/[\w.-]+?(?:@[\w./-]+)?(?=[\"'\s]|$)")


def published_path(path: Path, repo: Path) -> str:
    """The repository path a notebook is published under (a homework source: its student copy)."""
    rel = path.resolve().relative_to(repo.resolve()).as_posix()
    if rel.startswith("tests/homework/"):
        stem = Path(rel).stem
        folder = stem.removesuffix("_homework")
        return f"{folder}/{stem}.ipynb"
    return rel


def fix_links(nb: nbformat.NotebookNode, notebook_path: str) -> nbformat.NotebookNode:
    """Point every Colab badge at ``notebook_path``, every install URL and figure address at ``paths.GITHUB_REPO``."""
    url = paths.colab_url(notebook_path)
    git = paths.pip_spec().split(" @ ", 1)[1]
    for cell in nb.cells:
        src = _source(cell)
        src = _COLAB_RE.sub(url, src)
        src = _GIT_RE.sub(git, src)
        src = _RAW_RE.sub(lambda m: paths.raw_url(m["path"]), src)
        cell["source"] = src
    return nb


# ----------------------------------------------------------------------------- CLI


def course_notebooks(repo: Path) -> list[Path]:
    found = [p for lesson in paths.LESSONS for p in sorted((repo / lesson).glob("*.ipynb"))]
    found += sorted((repo / "tests" / "homework").glob("*.ipynb"))
    return found


def clean_text(path: Path, repo: Path) -> str:
    nb = read(path)
    fix_links(nb, published_path(path, repo))
    return dumps(normalize(nb))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torch_book.nbclean", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every course notebook")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not clean")
    args = parser.parse_args(argv)
    repo = paths.repo_root() or Path.cwd()
    targets = args.notebooks or course_notebooks(repo)
    dirty = []
    for path in targets:
        before = path.read_text(encoding="utf-8")
        after = clean_text(path, repo)
        if before != after:
            dirty.append(path)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    verb = "not clean" if args.check else "normalised"
    for path in dirty:
        print(f"{verb}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
