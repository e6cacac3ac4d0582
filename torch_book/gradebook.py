"""The reports of a grading run, the grader's manual points, and the export to Moodle.

* ``manual.csv``: one row per student and task (``id, student, task, auto, max, manual, comment``); the grader
  fills ``manual`` (points added to the automatic ones, may be negative or fractional) and ``comment``, and the
  next ``grade`` run (or ``grade --report-only``) merges them. Opened and saved by Excel or LibreOffice (``;``
  or ``,``, UTF-8 or Windows-1251) it still merges.
* ``report.csv``, ``report.md``, ``report.html``: student × task (final points, maximum in the header), total,
  status, unanswered written answers, flags; the HTML page links each row to its diff, executed notebook and log.
* ``gradebook.csv``: a Moodle assignment grading worksheet (``Identifier`` = ``Participant <id>`` from Moodle's
  download folders), and ``moodle_worksheet.csv`` when the worksheet downloaded from Moodle is given to fill in.
"""

from __future__ import annotations

import csv
import html
import io
import re
import time
from pathlib import Path

MANUAL_HEADER = ["id", "student", "task", "auto", "max", "manual", "comment"]
STATUS_COLOUR = {"ok": "#e6f4e6", "failed": "#fff4d6", "timeout": "#ffe0c0", "memory limit": "#ffe0c0",
                 "crashed": "#ffd6d6", "invalid notebook": "#eeeeee", "tampering": "#f0c0ff", "grader error": "#ff9090"}


def _number(text: str) -> float | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1251"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def read_manual(path: Path) -> dict[tuple[str, str], tuple[float | None, str]]:
    """(id, task) -> (manual points, comment) from the grader's ``manual.csv``; problems are reported, not fatal."""
    if not path.is_file():
        return {}
    out = {}
    for row in _read_csv(path):
        key = ((row.get("id") or "").strip(), (row.get("task") or "").strip())
        if key[0] and key[1]:
            out[key] = (_number(row.get("manual", "")), (row.get("comment") or "").strip())
    return out


def final_points(res, manual: dict) -> dict[str, float]:
    """Automatic + manual points per task, kept within [0, max]."""
    out = {}
    for task, auto in res.points.items():
        extra = manual.get((res.id, task), (None, ""))[0] or 0.0
        out[task] = min(max(auto + extra, 0.0), float(res.maxima.get(task, auto)))
    return out


def _fmt(x: float) -> str:
    return f"{x:g}"


def write_manual(path: Path, results, tasks: dict[int, int], manual: dict) -> None:
    rows = []
    for r in results:
        for n, pts in tasks.items():
            t = f"task-{n}"
            m, comment = manual.get((r.id, t), (None, ""))
            rows.append([r.id, r.student, t, _fmt(r.points.get(t, 0)), pts, "" if m is None else _fmt(m), comment])
    ids = {r.id for r in results}
    for (sid, t), (m, comment) in manual.items():  # keep the grader's rows for students not in this run
        if sid not in ids and (m is not None or comment):
            rows.append([sid, "", t, "", "", "" if m is None else _fmt(m), comment])
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(MANUAL_HEADER)
        w.writerows(rows)


def feedback(res, final: dict, manual: dict) -> str:
    parts = []
    for t, pts in final.items():
        line = f"{t}: {_fmt(pts)}/{res.maxima.get(t, '')}"
        if res.errors.get(t):
            line += f" ({res.errors[t].split(':')[0][:60]})"
        comment = manual.get((res.id, t), (None, ""))[1]
        if comment:
            line += f" — {comment}"
        parts.append(line)
    return "; ".join(parts)


def write_all(results, tasks: dict[int, int], out: Path, info: dict, worksheet: Path | None = None) -> None:
    manual = read_manual(out / "manual.csv")
    write_manual(out / "manual.csv", results, tasks, manual)
    names = [f"task-{n}" for n in tasks]
    maximum = sum(tasks.values())
    finals = {r.id: final_points(r, manual) for r in results}

    with open(out / "report.csv", "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["id", "student", "file", "participant", *names, "total", "max", "auto_total", "status",
                    "unanswered", "flags", "detail", "raw_name"])
        for r in results:
            fp = finals[r.id]
            w.writerow([r.id, r.student, r.path, r.participant, *[_fmt(fp[t]) for t in names], _fmt(sum(fp.values())),
                        maximum, _fmt(r.total), r.status, " ".join(r.unanswered), " | ".join(r.flags), r.detail,
                        r.raw_name])

    md = ["| студент | " + " | ".join(f"{t} ({p})" for t, p in zip(names, tasks.values(), strict=True))
          + f" | итого ({maximum}) | статус |", "|---" * (len(names) + 3) + "|"]
    for r in results:
        fp = finals[r.id]
        md.append(f"| {r.student} | " + " | ".join(_fmt(fp[t]) for t in names)
                  + f" | {_fmt(sum(fp.values()))} | {r.status} |")
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (out / "report.html").write_text(_html(results, tasks, finals, manual, info), encoding="utf-8")
    _moodle(results, finals, manual, maximum, out, worksheet)


def _html(results, tasks, finals, manual, info) -> str:
    e = html.escape
    names = [f"task-{n}" for n in tasks]
    maximum = sum(tasks.values())
    banners = []
    if info.get("sandbox") and info["sandbox"] != "bwrap":
        banners.append(("#ff9090", "ПЕСОЧНИЦА НЕ ИСПОЛЬЗОВАЛАСЬ: код студентов выполнялся без bubblewrap "
                        f"({info.get('sandbox_reason', '')}). Изоляция слабее: см. README, раздел «Проверяющему»."))
    errors = [r for r in results if r.status == "grader error"]
    if errors:
        banners.append(("#ff9090", f"{len(errors)} работ(ы) со статусом «grader error»: проверка не смогла "
                        "выполнить закрытую ячейку или свою защиту — это ошибка среды проверки (лимиты, данные, "
                        "версии), а не студента. Исправьте и перезапустите: " + ", ".join(r.student for r in errors)))
    tampering = [r for r in results if r.status == "tampering"]
    if tampering:
        banners.append(("#f0c0ff", f"{len(tampering)} работ(ы) вмешивались в проверку (tampering): баллы не "
                        "начислены, посмотрите diff: " + ", ".join(r.student for r in tampering)))
    if info.get("skipped"):
        banners.append(("#eeeeee", f"Пропущено файлов (не тетради, .ipynb_checkpoints, служебные): "
                        f"{len(info['skipped'])}: " + ", ".join(info["skipped"][:20])))
    head = "".join(f"<th>{e(t)}<br>(из {p})</th>" for t, p in zip(names, tasks.values(), strict=True))
    rows = []
    for i, r in enumerate(results, 1):
        fp = finals[r.id]
        cells = []
        for t in names:
            m, comment = manual.get((r.id, t), (None, ""))
            text = _fmt(fp[t]) + (f" <small>({'+' if m > 0 else ''}{_fmt(m)})</small>" if m else "")
            title = " ".join(x for x in [r.errors.get(t, ""), comment] if x)
            cells.append(f"<td title='{e(title)}' class='{'bad' if r.errors.get(t) else ''}'>{text}</td>")
        base = f"students/{r.id}/"
        links = " ".join(f"<a href='{e(base + f)}'>{label}</a>" for f, label in
                         (("diff.html", "diff"), ("graded.ipynb", "ipynb"), ("run.log", "log")))
        failed = "<br>".join(f"<b>{e(t)}</b>: {e(err[:300])}" for t, err in r.errors.items())
        detail = failed + ("<br>" if failed and r.detail else "") + (e(r.detail[:600]) if r.status != "failed" else "")
        file = e(r.path) + (f"<br><small>байты имени: {e(r.raw_name)}</small>" if r.raw_name else "")
        rows.append(
            f"<tr style='background:{STATUS_COLOUR.get(r.status, '#fff')}'><td>{i}</td><td>{e(r.student)}"
            f"{'<br><small>участник ' + e(r.participant) + '</small>' if r.participant else ''}</td>"
            f"<td><small>{file}</small></td>{''.join(cells)}<td><b>{_fmt(sum(fp.values()))}</b></td>"
            f"<td>{e(r.status)}</td><td>{links}</td><td>{e(', '.join(r.unanswered))}</td>"
            f"<td><small>{'<br>'.join(e(f) for f in r.flags)}</small></td><td><small>{detail}</small></td></tr>")
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    return (
        "<!doctype html><meta charset='utf-8'><title>Проверка: " + e(str(info.get("lesson", ""))) + "</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:3px 6px;"
        "vertical-align:top}td.bad{color:#a00}.banner{padding:8px;margin:6px 0;border:1px solid #900}</style>"
        f"<h1>Проверка ДЗ {e(str(info.get('lesson', '')))}</h1>"
        + "".join(f"<div class='banner' style='background:{c}'>{e(t)}</div>" for c, t in banners)
        + f"<p>Работ: {len(results)} ({e(summary)}). Максимум: {maximum}. Песочница: {e(str(info.get('sandbox', '?')))}; "
        f"параллельно: {e(str(info.get('jobs', '?')))}; лимиты: ячейка {e(str(info.get('cell_timeout', '?')))} с, "
        f"работа {e(str(info.get('total_timeout', '?')))} с, память {e(str(info.get('memory_mb', '?')))} МБ. "
        f"Ручные баллы и комментарии — в manual.csv (затем <code>--report-only</code>).</p>"
        "<table><tr><th>№</th><th>студент</th><th>файл</th>" + head + f"<th>итого<br>(из {maximum})</th><th>статус</th>"
        "<th>ссылки</th><th>без письменного ответа</th><th>флаги</th><th>ошибки проверок</th></tr>"
        + "".join(rows) + "</table>")


WS_ID = ("Identifier", "Идентификатор")
WS_NAME = ("Full name", "Полное имя")
WS_GRADE = ("Grade", "Оценка")
WS_FEEDBACK = ("Feedback comments", "Отзыв в виде комментария")


def _moodle(results, finals, manual, maximum, out: Path, worksheet: Path | None) -> None:
    now = time.strftime("%A, %d %B %Y, %I:%M %p")
    with open(out / "gradebook.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                    "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"])
        for r in results:
            total = sum(finals[r.id].values())
            w.writerow([f"Participant {r.participant}" if r.participant else "", r.student, "", "", _fmt(total),
                        _fmt(maximum), "Yes", "", now, feedback(r, finals[r.id], manual)])
    if worksheet is None:
        return
    rows = _read_csv(worksheet)
    if not rows:
        raise SystemExit(f"{worksheet}: empty worksheet")
    header = list(rows[0].keys())

    def col(names):
        return next((h for h in header if h and h.strip() in names), None)

    cid, cname, cgrade, cfb = col(WS_ID), col(WS_NAME), col(WS_GRADE), col(WS_FEEDBACK)
    if cgrade is None or (cid is None and cname is None):
        raise SystemExit(f"{worksheet}: no {WS_GRADE} / {WS_ID} columns: download the grading worksheet from Moodle")
    by_pid = {r.participant: r for r in results if r.participant}
    by_name = {re.sub(r"\s+", " ", r.student).strip().lower(): r for r in results}
    matched = 0
    for row in rows:
        pid = re.sub(r"\D", "", row.get(cid, "") or "") if cid else ""
        r = by_pid.get(pid) or by_name.get(re.sub(r"\s+", " ", row.get(cname, "") or "").strip().lower())
        if r is None:
            continue
        matched += 1
        row[cgrade] = _fmt(sum(finals[r.id].values()))
        if cfb:
            row[cfb] = feedback(r, finals[r.id], manual)
    with open(out / "moodle_worksheet.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    print(f"moodle_worksheet.csv: {matched} of {len(rows)} rows filled")
