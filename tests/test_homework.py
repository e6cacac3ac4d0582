"""Homework format: marker handling, malformed sources, sources in sync with student copies,
and student copies that fail only where the student has work to do."""

import re
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from torch_book import homework, nbclean

REPO = Path(__file__).resolve().parents[1]
SOURCES = homework.all_sources(REPO)
TASK_CELL = re.compile(r"^task-(\d+)(-check)?$")


def _nb(*cells):
    nb = new_notebook()
    for i, (kind, src, tags) in enumerate(cells):
        cell = (new_code_cell if kind == "code" else new_markdown_cell)(src)
        cell.id = f"c{i}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def test_solution_becomes_not_implemented_at_the_markers_indent():
    nb = _nb(("code", "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n", ["solution"]))
    assert homework.student_notebook(nb).cells[0].source == "def f(x):\n    y = 1\n    raise NotImplementedError()"


def test_hidden_tests_are_removed_and_answers_replaced():
    nb = _nb(
        ("code", "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS\nprint('ok')", ["check"]),
        ("markdown", "Потому что нелинейность.", ["solution"]),
        ("markdown", "Ответ:\n### BEGIN SOLUTION\n42\n### END SOLUTION", ["solution"]),
    )
    cells = homework.student_notebook(nb).cells
    assert cells[0].source == "assert f(1) == 2\nprint('ok')"
    assert cells[1].source == homework.ANSWER_PLACEHOLDER
    assert cells[2].source == "Ответ:\n" + homework.ANSWER_PLACEHOLDER


@pytest.mark.parametrize(
    "src, tags, message",
    [
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", ["solution"], "inside an open"),
        ("### BEGIN SOLUTION\nx = 1", ["solution"], "never closed"),
        ("x = 1\n### END SOLUTION", ["solution"], "without a matching BEGIN"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", [], "needs the cell tag 'solution'"),
        ("### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS", ["solution"], "needs the cell tag 'check'"),
    ],
)
def test_malformed_markers_name_the_cell(src, tags, message):
    with pytest.raises(homework.HomeworkFormatError, match=message) as err:
        homework.student_notebook(_nb(("code", src, tags)))
    assert "'c0'" in str(err.value)


def test_sources_exist_for_every_student_copy():
    copies = sorted(REPO.glob("[1-9]_*/*_homework.ipynb"))
    assert [p.name for p in copies] == [s.name for s in SOURCES]


def test_student_copies_are_in_sync():
    assert homework.check(REPO) == []


def _tasks(nb):
    ids = [c.id for c in nb.cells]
    return sorted({int(m[1]) for cid in ids if (m := TASK_CELL.match(cid))})


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_source_follows_the_format(source):
    nb = nbclean.read(source)
    ids = [c.id for c in nb.cells]
    tasks = _tasks(nb)
    assert 3 <= len(tasks) <= 6, f"{len(tasks)} tasks"
    points = 0
    for n in tasks:
        for suffix in ("-statement", "", "-check"):
            assert f"task-{n}{suffix}" in ids, f"task-{n}{suffix} is missing"
        cells = {c.id: c for c in nb.cells}
        assert "solution" in cells[f"task-{n}"].metadata.get("tags", [])
        check_tags = cells[f"task-{n}-check"].metadata.get("tags", [])
        assert "check" in check_tags
        pts = [int(t.removeprefix("points-")) for t in check_tags if t.startswith("points-")]
        assert len(pts) == 1, f"task-{n}-check needs one points-N tag"
        points += pts[0]
        assert ids.index(f"task-{n}-statement") < ids.index(f"task-{n}") < ids.index(f"task-{n}-check")
    assert points == 10


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_student_copy_fails_only_in_task_cells(source):
    student = homework.student_path(source, REPO)
    nb = homework.execute(nbclean.read(student), cwd=student.parent, allow_errors=True, timeout=300)
    failed_tasks = set()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type != "error":
                continue
            m = TASK_CELL.match(cell.id)
            assert m, f"cell {cell.id!r} (not a task cell) raised {out.ename}: {out.evalue}"
            assert out.ename == "NotImplementedError", f"cell {cell.id!r} raised {out.ename}: {out.evalue}"
            failed_tasks.add(int(m[1]))
    assert failed_tasks == set(_tasks(nb)), "every unsolved task must fail with NotImplementedError"


def test_export_has_the_course_and_no_solutions(tmp_path):
    dest = tmp_path / "student-course"
    homework.export(dest, REPO)
    assert (dest / "torch_book" / "__init__.py").is_file() and (dest / "data" / "README.md").is_file()
    assert not (dest / "tests").exists()
    for source in SOURCES:
        copy = dest / nbclean.published_path(source, REPO)
        assert copy.is_file()
        assert "### BEGIN SOLUTION" not in copy.read_text(encoding="utf-8")
