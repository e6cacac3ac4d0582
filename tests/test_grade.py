"""The graders' tool against a corpus of honest, broken and hostile submissions (``tests/grading/``).

The demo homework (no torch) carries the process-level attacks and runs as a separate grader process with
fake secrets in its environment, sandboxed and then without a sandbox; the real 1_Basic and
3_Activation_Optimiz homeworks carry the attacks on the checks' verdicts, built from the current student
copies. Every run must give the expected points and status, leave nothing running and leak no secret.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import psutil
import pytest
from grading import corpus, hostile

from torch_book import grade, gradebook, homework, kernelrun, nbclean, sandbox, submissions

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "torch_book"
DEMO_ARGS = ["--cell-timeout", "10", "--total-timeout", "150", "--memory-mb", "400", "--disk-mb", "100",
             "--processes", "64", "--jobs", "2"]


def _package_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(PACKAGE.rglob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _survivors(since: float) -> list[str]:
    """Processes a submission started that are still alive (MARK in the command line), killed here."""
    found = []
    for p in psutil.process_iter(["cmdline", "create_time"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if p.info["create_time"] >= since - 1 and hostile.MARK in cmd and p.pid != os.getpid():
                found.append(f"{p.pid}: {cmd[:120]}")
                p.kill()
        except psutil.Error:
            pass
    return found


def _leaked(out: Path, text: str) -> list[str]:
    hits = [name for name, value in hostile.SECRETS.items() if value in text]
    for p in out.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            hits += [f"{name} in {p.relative_to(out)}" for name, value in hostile.SECRETS.items()
                     if value.encode() in data]
    return hits


def _demo_corpus(base: Path, names: list[str], extra: dict | None = None) -> tuple[Path, Path, Path]:
    source = base / "0_Demo_homework.ipynb"
    nbformat.write(hostile.demo_source(), str(source))
    student = homework.student_notebook(nbclean.normalize(nbclean.read(source)))
    subs, out = base / "subs", base / "out"
    entries = {**hostile.DEMO, **(extra or {})}
    for name in names:
        replace, _ = entries[name]
        for rel in hostile.DEMO_FILES.get(name, [f"{name}.ipynb"]):
            (subs / rel).parent.mkdir(parents=True, exist_ok=True)
            (subs / rel).write_text(hostile.demo_submission(student, replace, str(out)), encoding="utf-8")
    if "ivanov_correct" in names:  # and the broken files of every class
        (subs / "sidorov_colab.ipynb").write_text(hostile.colab_copy(student), encoding="utf-8")
        (subs / "not_json.ipynb").write_text("this is not json {", encoding="utf-8")
        (subs / "wrong_nbformat.ipynb").write_text(json.dumps({"nbformat": 2, "cells": []}), encoding="utf-8")
        (subs / ".ipynb_checkpoints").mkdir(exist_ok=True)
        (subs / ".ipynb_checkpoints" / "ivanov_correct-checkpoint.ipynb").write_text("{}", encoding="utf-8")
        (subs / "notes.txt").write_text("not a notebook", encoding="utf-8")
    return source, subs, out


def _run_grader(args: list[str], timeout: int = 900) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, **hostile.SECRETS, "PYTHONPATH": str(REPO)}
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "torch_book.grade", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)
    return proc, start


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "report.csv", encoding="utf-8-sig") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data root for every run here (the tool makes the course's stand-in data in it once)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, data_dir):
    probe = sandbox.probe()
    if probe.mode != "bwrap":
        pytest.skip(f"bubblewrap cannot run here ({probe.reason}): only the fallback is tested")
    base = tmp_path_factory.mktemp("demo")
    source, subs, out = _demo_corpus(base, list(hostile.DEMO))
    before = _package_digest()
    proc, start = _run_grader([str(source), str(subs), "--out", str(out), "--data", str(data_dir), *DEMO_ARGS])
    assert proc.returncode == 0, proc.stderr[-3000:]
    time.sleep(1.5)  # a surviving daemon would have rewritten report.csv by now
    return {"out": out, "rows": _rows(out), "proc": proc, "survivors": _survivors(start),
            "package_changed": _package_digest() != before}


@pytest.mark.parametrize("name", sorted(hostile.DEMO))
def test_demo_submission_is_graded_as_expected(demo, name):
    t1, t2, status = hostile.DEMO[name][1]
    for rel in hostile.DEMO_FILES.get(name, [f"{name}.ipynb"]):
        row = demo["rows"][rel]
        assert (float(row["task-1"]), float(row["task-2"]), row["status"]) == (t1, t2, status), row["detail"]
        assert float(row["total"]) == t1 + t2


def test_broken_files_are_graded_and_checkpoints_skipped(demo):
    rows = demo["rows"]
    assert (rows["sidorov_colab.ipynb"]["status"], rows["sidorov_colab.ipynb"]["total"]) == ("ok", "10")
    assert rows["not_json.ipynb"]["status"] == rows["wrong_nbformat.ipynb"]["status"] == "invalid notebook"
    assert not [f for f in rows if "checkpoint" in f or f.endswith(".txt")]
    skipped = json.loads((demo["out"] / "run.json").read_text(encoding="utf-8"))["skipped"]
    assert sorted(skipped) == [".ipynb_checkpoints/ivanov_correct-checkpoint.ipynb", "notes.txt"]


def test_nothing_survives_and_the_report_is_intact(demo):
    assert demo["survivors"] == []
    text = (demo["out"] / "report.csv").read_text(encoding="utf-8-sig")
    assert "hacked" not in text and text.startswith("id,student,file")
    assert not demo["package_changed"], "a submission changed the course package on disk"
    graded = (demo["out"] / "students" / demo["rows"]["rewrites_package.ipynb"]["id"] / "graded.ipynb")
    text = graded.read_text(encoding="utf-8")
    assert "REWROTE grade.py" not in text and "cannot write grade.py OSError" in text


def test_no_secret_reaches_any_output(demo):
    assert _leaked(demo["out"], demo["proc"].stdout + demo["proc"].stderr) == []
    graded = (demo["out"] / "students" / demo["rows"]["secrets_reader.ipynb"]["id"] / "graded.ipynb")
    assert "ANCESTOR 1 " in graded.read_text(encoding="utf-8")  # it did look, up to PID 1 of its namespace


def test_output_folders_are_unique_and_apart_from_the_reports(demo):
    rows, out = demo["rows"], demo["out"]
    ids = [r["id"] for r in rows.values()]
    assert len(ids) == len(set(ids))
    assert {"report.csv", "report.html", "report.md", "manual.csv", "gradebook.csv"} <= {p.name for p in out.iterdir()}
    for r in rows.values():
        folder = out / "students" / r["id"]
        assert folder.is_dir() and (folder / "diff.html").is_file() and (folder / "result.json").is_file()
    assert rows["report.csv.ipynb"]["id"].startswith("report.csv-")


def test_the_memory_hog_and_limits_are_reported(demo):
    rows = demo["rows"]
    assert "memory limit" in rows["memory_hog.ipynb"]["detail"]
    assert "process limit" in rows["forks_many.ipynb"]["detail"]
    assert "disk limit" in rows["fills_disk.ipynb"]["detail"]
    assert "interrupted" in rows["infinite_loop.ipynb"]["detail"]
    assert "hijacked" in rows["hijacks_execution.ipynb"]["detail"]


def test_reports_link_everything_and_show_the_check_errors(demo):
    out, rows = demo["out"], demo["rows"]
    page = (out / "report.html").read_text(encoding="utf-8")
    sid = rows["petrov_partial.ipynb"]["id"]
    for f in ("diff.html", "graded.ipynb", "run.log"):
        assert f"students/{sid}/{f}" in page
    assert "(из 4)" in page and "(из 6)" in page and "итого<br>(из 10)" in page
    assert "ПЕСОЧНИЦА" not in page  # bubblewrap ran (this machine has it: .ci/run installs it)
    diff = (out / "students" / sid / "diff.html").read_text(encoding="utf-8")
    assert "AssertionError" in diff and "return&nbsp;0" in diff and "<h3>task-2</h3>" in diff
    assert "task-1-check" not in diff.split("Изменения относительно шаблона")[1]  # changed cells only
    assert rows["petrov_partial.ipynb"]["unanswered"] == "task-1-answer task-2-answer"  # left as handed out
    graded = (out / "students" / rows["prints_megabytes.ipynb"]["id"] / "graded.ipynb").stat().st_size
    assert graded < 200_000


def test_manual_points_and_comments_are_merged_by_the_next_run(demo):
    out, rows = demo["out"], demo["rows"]
    sid = rows["petrov_partial.ipynb"]["id"]
    with open(out / "manual.csv", encoding="utf-8-sig") as f:
        manual = list(csv.DictReader(f))
    assert {r["task"] for r in manual if r["id"] == sid} == {"task-1", "task-2"}
    for r in manual:  # the grader edits it in a spreadsheet that saves ';' and Windows-1251
        if r["id"] == sid and r["task"] == "task-2":
            r["manual"], r["comment"] = "2,5", "идея верная, ошибка в степени"
    text = ";".join(gradebook.MANUAL_HEADER) + "\n" + "\n".join(";".join(r[h] for h in gradebook.MANUAL_HEADER)
                                                                 for r in manual)
    (out / "manual.csv").write_bytes(text.encode("cp1251"))
    assert grade.main([str(out.parent / "0_Demo_homework.ipynb"), "--out", str(out), "--report-only"]) == 0
    row = _rows(out)["petrov_partial.ipynb"]
    assert (row["task-2"], row["total"], row["auto_total"]) == ("2.5", "6.5", "4")
    assert "идея верная" in (out / "report.html").read_text(encoding="utf-8")
    book = (out / "gradebook.csv").read_text(encoding="utf-8")
    assert "6.5" in book and "идея верная" in book


@pytest.fixture(scope="module")
def fallback(tmp_path_factory, data_dir):
    base = tmp_path_factory.mktemp("fallback")
    source, subs, out = _demo_corpus(base, hostile.FALLBACK, hostile.FALLBACK_EXTRA)
    args = [*DEMO_ARGS[:-1], "1"]  # one at a time: a changed package file is then blamed on the right work
    proc, start = _run_grader([str(source), str(subs), "--out", str(out), "--data", str(data_dir),
                               "--sandbox", "none", *args])
    assert proc.returncode == 0, proc.stderr[-3000:]
    time.sleep(1.5)
    return {"out": out, "rows": _rows(out), "proc": proc, "survivors": _survivors(start)}


def test_without_a_sandbox_the_fallback_still_contains_the_damage(fallback):
    entries = {**hostile.DEMO, **hostile.FALLBACK_EXTRA}
    for name in hostile.FALLBACK:
        t1, t2, status = entries[name][1]
        row = fallback["rows"][f"{name}.ipynb"]
        assert (float(row["task-1"]), float(row["task-2"]), row["status"]) == (t1, t2, status), (name, row["detail"])
    assert fallback["survivors"] == []
    assert "hacked" not in (fallback["out"] / "report.csv").read_text(encoding="utf-8-sig")
    assert not (PACKAGE / "zz_tamper_probe.py").exists()
    assert _leaked(fallback["out"], fallback["proc"].stdout + fallback["proc"].stderr) == []
    assert "ПЕСОЧНИЦА НЕ ИСПОЛЬЗОВАЛАСЬ" in (fallback["out"] / "report.html").read_text(encoding="utf-8")
    assert "ПЕСОЧНИЦА ВЫКЛЮЧЕНА" in fallback["proc"].stderr


def test_a_failing_handed_out_cell_is_the_graders_error(tmp_path, data_dir):
    """A memory cap too small for the handed-out set-up must not give every student 0 «failed»."""
    source = tmp_path / "0_Heavy_homework.ipynb"
    nbformat.write(hostile.demo_source(setup="import math\nballast = b'x' * (500 << 20)"), str(source))
    student = homework.student_notebook(nbclean.normalize(nbclean.read(source)))
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "ivanov.ipynb").write_text(hostile.demo_submission(student, {}), encoding="utf-8")
    out = tmp_path / "out"
    assert grade.main([str(source), str(tmp_path / "subs"), "--out", str(out), "--memory-mb", "300",
                       "--cell-timeout", "20", "--data", str(data_dir)]) == 0
    row = _rows(out)["ivanov.ipynb"]
    assert row["status"] == "grader error" and "ЗАКРЫТАЯ ЯЧЕЙКА setup" in row["detail"], row["detail"]
    assert "memory limit" in row["detail"]
    assert "grader error" in (out / "report.html").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- the real homeworks


def _real_corpus(base: Path, names: list[str]) -> dict[str, Path]:
    folders = {}
    for name in names:
        lesson, kind, replace, *_ = hostile.REAL[name]
        nb = corpus.variant(getattr(corpus, kind)(lesson), replace=replace)
        folders.setdefault(lesson, base / lesson)
        corpus.save(nb, folders[lesson] / f"{name}.ipynb")
    return folders


@pytest.fixture(scope="module")
def real(tmp_path_factory, data_dir):
    base = tmp_path_factory.mktemp("real")
    folders = _real_corpus(base, list(hostile.REAL))
    rows = {}
    for lesson, subs in folders.items():
        out = base / f"out-{lesson}"
        assert grade.main([lesson, str(subs), "--out", str(out), "--cell-timeout", "120", "--jobs", "2",
                           "--data", str(data_dir)]) == 0
        rows.update({Path(k).stem: v for k, v in _rows(out).items()})
        for p in (out / "students").glob("*/result.json"):
            r = json.loads(p.read_text(encoding="utf-8"))
            print(f"{r['student']}: {r['cpu_seconds']} s CPU, {r['seconds']} s, peak {r['peak_mb']} MB")
    return rows


@pytest.mark.parametrize("name", sorted(hostile.REAL))
def test_real_homework_verdicts_cannot_be_forged(real, name):
    _, _, _, total, status, _ = hostile.REAL[name]
    row = real[name]
    assert (float(row["total"]), row["status"]) == (total, status), row["detail"]


@pytest.mark.parametrize("name", [n for n, v in hostile.REAL.items() if v[5] is not None])
def test_the_forgeries_do_work_without_the_guard(tmp_path, data_dir, name):
    """Control: the same notebook graded with the guard switched off gets the forged points (the attacks are real)."""
    lesson, kind, replace, _, _, minimum = hostile.REAL[name]
    tmpl = grade.Template.load(lesson)
    data = nbformat.writes(corpus.variant(getattr(corpus, kind)(lesson), replace=replace)).encode()
    sub = submissions.Submission("x", name, f"{name}.ipynb", data=data)
    grade.prepare_data(data_dir)
    settings = grade.RunSettings(cell_timeout=120, total_timeout=900, probe=sandbox.probe(), data_root=data_dir,
                                 guard=False)
    res = grade.grade_one(sub, tmpl, tmp_path, settings)
    print(f"{name}: {res.total} points without the guard ({res.cpu_seconds} s CPU)")
    assert res.total >= minimum, (res.total, res.detail)


# ----------------------------------------------------------------------------- units (no kernel)


def test_the_kernel_environment_is_an_allow_list(monkeypatch, tmp_path):
    for name, value in hostile.SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    sb = sandbox.Sandbox(tmp_path / "sb", sandbox.Probe("bwrap", ""))
    env = grade.kernel_env(sb, "/opt/torch_book", "/data", grade.RunSettings())
    assert not set(hostile.SECRETS) & set(env)
    assert not [v for v in env.values() if any(s in v for s in hostile.SECRETS.values())]
    assert env["TORCH_BOOK_FAST"] == env["TORCH_BOOK_OFFLINE"] == "1" and env["TORCH_BOOK_DATA"] == "/data"
    assert env["HOME"] == "/sandbox/home" and env["CUDA_VISIBLE_DEVICES"] == "0"


def test_the_python_environment_is_bound_after_the_private_tmp(tmp_path, monkeypatch):
    """A virtual environment under /tmp (CI's mktemp checkout) stays visible: it is bound after the sandbox's /tmp."""
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [Path("/tmp/ci/repo/.venv-ci")])
    sb = sandbox.Sandbox(tmp_path / "sb", sandbox.Probe("bwrap", ""))
    argv = sb._bwrap_argv(["python"], "/sandbox/work")
    tmp_at = next(i for i in range(len(argv) - 2) if argv[i] == "--bind" and argv[i + 2] == "/tmp")
    venv_at = next(i for i in range(len(argv) - 2) if argv[i] == "--ro-bind" and argv[i + 2] == "/tmp/ci/repo/.venv-ci")
    assert venv_at > tmp_at


def _zip_with_raw_names(path: Path, names: dict[bytes, bytes], others: dict[str, str]) -> None:
    """A zip whose entry names are the given raw bytes without the UTF-8 flag (as Windows writes them)."""
    placeholders = {raw: (chr(ord("a") + k) * len(raw)).encode() for k, raw in enumerate(names)}
    with zipfile.ZipFile(path, "w") as zf:
        for raw, data in names.items():
            zf.writestr(placeholders[raw].decode(), data)
        for name, data in others.items():
            zf.writestr(name, data)
    blob = path.read_bytes()
    for raw, placeholder in placeholders.items():
        blob = blob.replace(placeholder, raw)
    path.write_bytes(blob)


def test_zip_names_are_decoded_and_junk_is_skipped_as_in_a_folder(tmp_path):
    cp866 = "Иванов_Иван.ipynb".encode("cp866")
    cp437 = "Müller.ipynb".encode("cp437")
    utf8 = "Петров.ipynb".encode()
    z = tmp_path / "subs.zip"
    _zip_with_raw_names(z, {cp866: b"{}", cp437: b"{}", utf8: b"{}"}, {
        "group1/Сидоров Сидор.ipynb": "{}",  # with the UTF-8 flag
        "group1/.ipynb_checkpoints/Сидоров Сидор-checkpoint.ipynb": "{}",
        "__MACOSX/group1/._Сидоров Сидор.ipynb": "junk",
        "notes.txt": "ignored"})
    subs, skipped = submissions.collect(z)
    by_name = {s.student: s for s in subs}
    assert set(by_name) == {"Иванов_Иван", "Müller", "Петров", "Сидоров Сидор"}
    assert by_name["Иванов_Иван"].raw_name == repr(cp866) and by_name["Сидоров Сидор"].raw_name == ""
    assert len(skipped) == 3
    folder = tmp_path / "folder"  # the same junk in a folder is skipped the same way
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    (folder / "a.ipynb").write_text("{}")
    (folder / "notes.txt").write_text("x")
    assert [s.student for s in submissions.collect(folder)[0]] == ["a"]


def test_ids_are_stable_unique_and_moodle_names_are_read(tmp_path):
    folder = tmp_path / "subs"
    for rel in ["dup.ipynb", "dup-2.ipynb", "a/dup.ipynb", "report.csv.ipynb",
                "Иванов Иван_12345_assignsubmission_file_/hw1 final.ipynb"]:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("{}")
    first, _ = submissions.collect(folder)
    again, _ = submissions.collect(folder)
    assert [s.id for s in first] == [s.id for s in again]
    assert len({s.id for s in first}) == 5
    moodle = next(s for s in first if s.participant)
    assert (moodle.student, moodle.participant) == ("Иванов Иван", "12345")
    assert not any(s.id in ("report.csv", "report.html", "students") for s in first)


def test_the_moodle_worksheet_is_filled(tmp_path):
    res = grade.Result("ivanov-1", "Иванов Иван", participant="12345", points={"task-1": 2, "task-2": 0},
                       maxima={"task-1": 2, "task-2": 3}, errors={"task-2": "AssertionError: wrong"})
    other = grade.Result("petrov-2", "Петров Пётр", points={"task-1": 2, "task-2": 3}, maxima={"task-1": 2, "task-2": 3})
    ws = tmp_path / "worksheet.csv"
    ws.write_text("Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
                  "Last modified (submission),Last modified (grade),Feedback comments\n"
                  "Participant 12345,Иванов Иван,i@x,Submitted,,5.00,Yes,-,-,\n"
                  "Participant 777,Петров Пётр,p@x,Submitted,,5.00,Yes,-,-,\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    gradebook.write_all([res, other], {1: 2, 2: 3}, out, {"sandbox": "bwrap"}, ws)
    with open(out / "moodle_worksheet.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["Grade"], r["Identifier"]) for r in rows] == [("2", "Participant 12345"), ("5", "Participant 777")]
    assert "task-2: 0/3 (AssertionError)" in rows[0]["Feedback comments"]
    assert "Participant 12345" in (out / "gradebook.csv").read_text(encoding="utf-8")


def test_a_delegated_cgroup_is_used_only_when_it_can_be(tmp_path):
    fs = tmp_path / "cgroup"
    (fs / "user" / "me").mkdir(parents=True)
    (fs / "cgroup.controllers").write_text("cpu memory pids\n")
    (fs / "user" / "me" / "cgroup.controllers").write_text("memory pids\n")
    (fs / "user" / "me" / "cgroup.subtree_control").write_text("memory pids\n")
    assert sandbox._cgroup_v2_parent(fs, "0::/user/me\n") == fs / "user" / "me"
    (fs / "user" / "me" / "cgroup.subtree_control").write_text("")
    (fs / "user" / "me" / "cgroup.procs").write_text(f"{os.getpid()}\n1\n")
    assert sandbox._cgroup_v2_parent(fs, "0::/user/me\n") is None  # other processes share it: no delegation
    (fs / "cgroup.controllers").write_text("hugetlb\n")
    assert sandbox._cgroup_v2_parent(fs, "0::/user/me\n") is None  # no memory controller (as on this machine)


def test_the_completion_mark_keeps_the_cell_and_its_display():
    call = "G.mark('n'"
    assert kernelrun.with_mark("x = 1\nprint(x)", call) == "x = 1\nG.mark('n', (print(x)))"
    assert kernelrun.with_mark("x = 1\nif x:\n    x", call) == "x = 1\nif x:\n    x\nG.mark('n')"
    assert kernelrun.with_mark("y = 2\ny * 3", call) == "y = 2\nG.mark('n', (y * 3))"
    assert kernelrun.with_mark("z = 'я'; (z +\n 'ё');", call) == "z = 'я'; (G.mark('n', (z +\n 'ё')));"
    assert kernelrun.with_mark("for i in range(3):\n    pass", call).endswith("\nG.mark('n')")


def test_restore_plan_and_answers_of_lesson_1():
    tmpl = grade.Template.load("1_Basic")
    names, unshadow, uses_student = tmpl.restore_plan("task-1-check", set())
    assert {"assert_close", "math", "torch"} <= set(names) and "f" not in names and uses_student
    assert not tmpl.restore_plan("imports", set())[2]
    assert tmpl.answers == [f"task-{n}-answer" for n in range(1, 6)]
    assert {"torch", "torch.testing", "matplotlib.pyplot"} <= tmpl.preimport
    student = corpus.handed_out("1_Basic")
    assert grade.unanswered(student, tmpl) == tmpl.answers
    answered = corpus.variant(student, replace={"task-1-answer": "f' = ... по цепному правилу"})
    assert "task-1-answer" not in grade.unanswered(answered, tmpl)


def test_suspicious_code_is_flagged():
    flags = grade.suspicious([("task-1", "get_ipython().events.register('x', f)"),
                              ("task-2", "torch.allclose = lambda *a: True\nassert_close = print"),
                              ("task-3", "def f(x):\n    return x * 2")])
    assert any("IPython" in f and "task-1" in f for f in flags)
    assert any("библиотеки" in f and "task-2" in f for f in flags)
    assert not any("task-3" in f for f in flags)


def test_an_unchanged_submission_is_not_run_again(tmp_path, data_dir):
    source, subs, out = _demo_corpus(tmp_path, ["petrov_partial"])
    args = [str(source), str(subs), "--out", str(out), "--data", str(data_dir), "--cell-timeout", "20"]
    assert grade.main(args) == 0
    result = next((out / "students").glob("*/result.json"))
    first = result.read_text(encoding="utf-8")
    assert grade.main(args) == 0
    assert result.read_text(encoding="utf-8") == first  # reused: not graded again
    before = result.stat().st_mtime_ns
    assert grade.main([*args, "--regrade"]) == 0
    assert result.stat().st_mtime_ns > before  # --regrade runs it again
    assert _rows(out)["petrov_partial.ipynb"]["total"] == "4"
