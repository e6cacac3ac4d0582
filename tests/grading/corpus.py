"""Build submissions at test time from the current homework sources: the handed-out copy, the reference
solution, and variants with some cells replaced (so small edits of check cells do not break the corpus)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from torch_book import homework, nbclean

REPO = Path(__file__).resolve().parents[2]
_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def source(lesson: str) -> nbformat.NotebookNode:
    return nbclean.normalize(nbclean.read(homework.source_path(lesson, REPO)))


def handed_out(lesson: str) -> nbformat.NotebookNode:
    """The student copy as the course hands it out (built from the source, as the committed copy is)."""
    return homework.student_notebook(source(lesson))


def reference(lesson: str) -> nbformat.NotebookNode:
    """The handed-out copy with every solution cell replaced by the reference solution (markers removed)."""
    nb = handed_out(lesson)
    ref = {c.id: c.source for c in source(lesson).cells}
    for cell in nb.cells:
        if homework.SOLUTION_TAG in cell.metadata.get("tags", []):
            text = ref[cell.id]
            hidden_tests = "### BEGIN HIDDEN TESTS" in text
            assert not hidden_tests, cell.id
            cell.source = "\n".join(line for line in text.splitlines() if line.strip() not in _MARKERS)
    return nb


def variant(base: nbformat.NotebookNode, replace: dict[str, str] | None = None,
            append: dict[str, str] | None = None, insert_after: dict[str, list[str]] | None = None,
            drop_ids: bool = False) -> nbformat.NotebookNode:
    """A copy of ``base`` with cells replaced, code appended to cells, or new code cells added after a cell."""
    nb = copy.deepcopy(base)
    for cell in nb.cells:
        if replace and cell.id in replace:
            cell.source = replace[cell.id]
        if append and cell.id in append:
            cell.source = cell.source + "\n\n" + append[cell.id]
    for anchor, sources in (insert_after or {}).items():
        at = next(i for i, c in enumerate(nb.cells) if c.id == anchor)
        for k, src in enumerate(sources):
            cell = nbformat.v4.new_code_cell(src)
            cell.id = f"added-{anchor}-{k}"
            nb.cells.insert(at + 1 + k, cell)
    if drop_ids:
        for cell in nb.cells:
            cell.pop("id", None)
    return nb


def save(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path
