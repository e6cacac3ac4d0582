"""The graders' tool on a corpus of bad, partial and correct submissions to a tiny homework."""

import copy
import csv
import json
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from torch_book import grade, homework, nbclean

SPEC = [
    ("intro", "md", "# ДЗ 0\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                    "(https://colab.research.google.com/github/torch-book/torch_book/blob/main/1_Basic/1_Basic_homework.ipynb)", []),
    ("setup", "code", "import math", []),
    ("task-1-statement", "md", "## Задание 1 (4 балла)\nНапишите square.", []),
    ("task-1", "code", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION", ["solution"]),
    ("task-1-check", "code", "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n"
                             "### END HIDDEN TESTS\nprint('Задание 1: ok')", ["check", "points-4"]),
    ("task-2-statement", "md", "## Задание 2 (6 баллов)\nНапишите cube.", []),
    ("task-2", "code", "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION", ["solution"]),
    ("task-2-check", "code", "assert cube(2) == 8\nprint('Задание 2: ok')", ["check", "points-6"]),
    ("task-2-answer", "md", "Потому что.", ["solution"]),
]
SQUARE, CUBE = 3, 6  # cell indices of the solution cells

EXPECTED = {  # student: (task-1, task-2, status)
    "ivanov_correct": (4, 6, "ok"),
    "petrov_partial": (4, 0, "failed"),
    "edited_check": (0, 6, "failed"),
    "deleted_check": (4, 6, "ok"),
    "sidorov_colab": (4, 6, "ok"),
    "infinite_loop": (4, 6, "timeout"),
    "memory_hog": (0, 6, "failed"),
    "import_error": (0, 6, "failed"),
    "prints_megabytes": (4, 6, "ok"),
    "kills_kernel": (0, 0, "crashed"),
    "not_json": (0, 0, "invalid notebook"),
    "wrong_nbformat": (0, 0, "invalid notebook"),
}


def _source_notebook():
    nb = new_notebook()
    for cid, kind, src, tags in SPEC:
        cell = (new_code_cell if kind == "code" else new_markdown_cell)(src)
        cell.id = cid
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def _corpus(folder: Path, student_nb) -> None:
    folder.mkdir()

    def save(name, nb, solved=(True, True)):
        nb = copy.deepcopy(nb)
        if solved[0] and "NotImplementedError" in nb.cells[SQUARE].source:
            nb.cells[SQUARE].source = "def square(x):\n    return x * x"
        if solved[1] and "NotImplementedError" in nb.cells[CUBE].source:
            nb.cells[CUBE].source = "def cube(x):\n    return x ** 3"
        (folder / f"{name}.ipynb").write_text(nbclean.dumps(nb), encoding="utf-8")

    def variant(cell, source):
        nb = copy.deepcopy(student_nb)
        nb.cells[cell].source = source
        return nb

    save("ivanov_correct", student_nb)
    save("petrov_partial", variant(CUBE, "def cube(x):\n    return 0"))
    save("edited_check", variant(4, "print('Задание 1: ok')"), solved=(False, True))
    deleted = copy.deepcopy(student_nb)
    del deleted.cells[7]
    save("deleted_check", deleted)
    save("infinite_loop", variant(SQUARE, "def square(x):\n    return x * x\n\nwhile True:\n    pass"))
    save("memory_hog", variant(SQUARE, "hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024**2))\n"
                                       "def square(x):\n    return x * x"))
    save("import_error", variant(SQUARE, "import no_such_module_xyz\n\ndef square(x):\n    return x * x"))
    save("prints_megabytes", variant(SQUARE, "print('x' * 20_000_000)\n\ndef square(x):\n    return x * x"))
    save("kills_kernel", variant(SQUARE, "import os, signal\n\nos.kill(os.getpid(), signal.SIGKILL)"))
    (folder / "not_json.ipynb").write_text("this is not json {", encoding="utf-8")
    (folder / "wrong_nbformat.ipynb").write_text(json.dumps({"nbformat": 2, "cells": []}), encoding="utf-8")
    # Colab: nbformat 4.0 without ids, its own metadata, an extra cell the student added
    d = json.loads(nbclean.dumps(variant(SQUARE, "def square(x):\n    return x * x")))
    d["nbformat_minor"] = 0
    d["metadata"] = {"colab": {"name": "hw.ipynb", "provenance": []}, "kernelspec": {"name": "python3"}}
    for c in d["cells"]:
        c.pop("id")
        c["metadata"] = {"id": "x1", "colab": {"base_uri": "https://localhost/"}, "executionInfo": {"user": "me"}}
    d["cells"][CUBE]["source"] = "def cube(x):\n    return x ** 3"
    d["cells"].insert(4, {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
                          "source": "print(square(5))"})
    (folder / "sidorov_colab.ipynb").write_text(json.dumps(d), encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    source = base / "0_Demo_homework.ipynb"
    nbformat.write(_source_notebook(), str(source))
    student = homework.student_notebook(nbclean.normalize(nbclean.read(source)))
    _corpus(base / "subs", student)
    out = base / "out"
    code = grade.main([str(source), str(base / "subs"), "--out", str(out), "--cell-timeout", "15",
                       "--total-timeout", "120", "--memory-mb", "1536", "--jobs", "2"])
    assert code == 0
    with open(out / "report.csv", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return out, rows


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_is_graded_as_expected(graded, student):
    _, rows = graded
    t1, t2, status = EXPECTED[student]
    row = rows[student]
    assert (int(row["task-1"]), int(row["task-2"]), row["status"]) == (t1, t2, status), row["detail"]
    assert int(row["total"]) == t1 + t2


def test_reports_and_diffs_are_written(graded):
    out, rows = graded
    assert set(rows) == set(EXPECTED)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| ivanov_correct | 4 | 6 | 10 | ok |" in md
    assert "diff.html" in (out / "report.html").read_text(encoding="utf-8")
    diff = (out / "sidorov_colab" / "diff.txt").read_text(encoding="utf-8")
    assert "return x * x" in diff and "print(square(5))" in diff  # the student's changes …
    assert "metadata" not in diff and "colab" not in diff  # … and nothing else
    page = (out / "petrov_partial" / "diff.html").read_text(encoding="utf-8")
    assert "NotImplementedError" in page and "return&nbsp;0" in page
    assert "<h3>task-2</h3>" in page and "task-1-check" not in page and "<h3>setup" not in page  # changed cells only


def test_memory_hog_is_stopped_by_the_cap(graded):
    _, rows = graded
    assert "MemoryError" in rows["memory_hog"]["detail"]


def test_huge_output_is_cut(graded):
    out, _ = graded
    assert (out / "prints_megabytes" / "graded.ipynb").stat().st_size < 200_000


def test_secrets_are_not_passed_to_student_code(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_API_KEY", "secret")
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    env = grade._child_env(tmp_path)
    assert "WANDB_API_KEY" not in env and "GITHUB_TOKEN" not in env
    assert env["TORCH_BOOK_FAST"] == "1" and env["TORCH_BOOK_DATA"] == str(tmp_path)


def test_a_zip_of_submissions_is_read(tmp_path):
    z = tmp_path / "subs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("group1/Иванов Иван.ipynb", "{}")
        zf.writestr("__MACOSX/._x.ipynb", "junk")
        zf.writestr("notes.txt", "ignored")
    assert [s for s, _ in grade.collect(z)] == ["Иванов_Иван"]
