"""Find the submitted notebooks in a folder or a zip, name them, and give each a stable, unique folder id.

* Zip entry names without the UTF-8 flag are decoded as UTF-8, else CP866 (zips made by Windows in Russian
  locales), else CP437; the raw bytes are kept for the report.
* ``.ipynb_checkpoints``, ``__MACOSX``, hidden files and non-notebooks are skipped the same way in both forms.
* Moodle's "download all submissions" layout (``<Full name>_<participant id>_assignsubmission_file_/…``)
  gives the student's name and participant id.
* The id (the output folder name) is a readable slug plus a short hash of where the file was found, so it is
  stable from run to run, unique, and never equal to a report file's name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MOODLE_DIR = re.compile(r"^(?P<name>.+)_(?P<pid>\d+)_assign(?:submission|feedback)_\w+?_?$")
SKIP_PARTS = (".ipynb_checkpoints", "__MACOSX")
MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclass
class Submission:
    id: str  # output folder name: stable, unique, filesystem-safe
    student: str  # display name
    path: str  # where it was found (relative, decoded)
    raw_name: str = ""  # the undecoded zip entry name when it was not UTF-8 (repr of the bytes)
    participant: str = ""  # Moodle participant id, when the layout says so
    data: bytes = b""
    problem: str = ""  # why it cannot be read (too big…)


def decode_zip_name(info: zipfile.ZipInfo) -> tuple[str, str]:
    """(decoded name, raw bytes repr or "") of a zip entry: UTF-8 flag, else UTF-8, else CP866, else CP437."""
    if info.flag_bits & 0x800:
        return info.filename, ""
    raw = info.filename.encode("cp437")  # how zipfile decoded it
    try:
        return raw.decode("utf-8"), ("" if raw.isascii() else repr(raw))
    except UnicodeDecodeError:
        pass
    cyr = raw.decode("cp866")
    if _looks_cyrillic(cyr):
        return cyr, repr(raw)
    return info.filename, repr(raw)


def _looks_cyrillic(text: str) -> bool:
    """CP866 decoding is plausible: Cyrillic words, no word mixing Cyrillic and Latin letters, no symbols."""
    def cyr(c: str) -> bool:
        return "CYRILLIC" in unicodedata.name(c, "")

    if any(unicodedata.category(c)[0] == "S" or unicodedata.category(c) in ("Cc", "Co", "Cn") for c in text):
        return False
    words = re.findall(r"[^\W\d_]+", text)
    if any(any(cyr(c) for c in w) and any(not cyr(c) for c in w) for w in words):
        return False
    return any(cyr(c) for c in text)


def _skipped(parts: tuple[str, ...]) -> bool:
    return (any(p in SKIP_PARTS for p in parts) or any(p.startswith(".") for p in parts)
            or not parts or not parts[-1].endswith(".ipynb"))


def slug(text: str, limit: int = 60) -> str:
    s = re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", text), flags=re.UNICODE).strip("._-")
    return s[:limit] or "student"


def _make(path: str, raw_name: str, data: bytes | None, size: int, folders_with: dict[str, int]) -> Submission:
    p = PurePosixPath(path)
    student, participant, key = p.stem, "", path
    for part in reversed(p.parts[:-1]):
        if m := MOODLE_DIR.match(part):
            student, participant = m["name"], m["pid"]
            if folders_with.get(part, 0) == 1:
                key = f"moodle:{participant}"
            break
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    sub = Submission(f"{slug(student)}-{digest}", student, path, raw_name, participant, data or b"")
    if size > MAX_NOTEBOOK_BYTES:
        sub.problem = f"file too large ({size / 2**20:.0f} MB > {MAX_NOTEBOOK_BYTES >> 20} MB)"
    return sub


def collect(submissions: Path) -> tuple[list[Submission], list[str]]:
    """The notebooks found, sorted by student, and the names skipped (with why)."""
    found: list[tuple[str, str, object, int]] = []  # (path, raw, loader, size)
    skipped: list[str] = []
    if submissions.is_file() and zipfile.is_zipfile(submissions):
        zf = zipfile.ZipFile(submissions)
        for info in zf.infolist():
            name, raw = decode_zip_name(info)
            parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", "..", "."))
            if info.is_dir():
                continue
            if _skipped(parts):
                skipped.append(name)
                continue
            found.append(("/".join(parts), raw, (zf, info), info.file_size))
    elif submissions.is_dir():
        for p in sorted(submissions.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(submissions)
            if _skipped(rel.parts):
                skipped.append(str(rel))
                continue
            found.append((rel.as_posix(), "", p, p.stat().st_size))
    else:
        raise SystemExit(f"{submissions}: not a folder or a zip of .ipynb files")
    folders: dict[str, int] = {}
    for path, *_ in found:
        for part in PurePosixPath(path).parts[:-1]:
            folders[part] = folders.get(part, 0) + 1
    subs = []
    for path, raw, loader, size in found:
        sub = _make(path, raw, None, size, folders)
        if not sub.problem:
            if isinstance(loader, Path):
                sub.data = loader.read_bytes()
            else:
                zf, info = loader
                sub.data = zf.read(info)
        subs.append(sub)
    seen: dict[str, int] = {}
    for sub in sorted(subs, key=lambda s: s.path):  # identical keys cannot happen, but never share a folder
        n = seen.get(sub.id, 0)
        seen[sub.id] = n + 1
        if n:
            sub.id = f"{sub.id}-{n}"
    return sorted(subs, key=lambda s: (s.student.lower(), s.path)), skipped
