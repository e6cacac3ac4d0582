"""One verified downloader for every file the course fetches, and a safe extractor for its archives.

A file is written to ``<name>.part``, checked (HTTP status, not an HTML page, size, checksum) and
only then renamed to its final name, so the cache never holds a wrong or partial file under the
real name. Mirrors are tried in order. Every network failure ends in a retry, the next mirror, or
a :class:`DownloadError` whose message says what was tried and what to do — never in a raw
traceback:

* 5xx, 408, 429, a dropped connection, a cut chunked body, a garbled status line, an SSL error:
  retried with backoff (``Retry-After`` honoured up to a cap), resuming the ``.part`` by an HTTP
  Range request whose ``Content-Range`` answer is checked;
* a stall or a trickle below the minimum rate: retried once, then the next mirror;
* an unknown host (DNS), a refused connection, a 4xx: the next mirror at once;
* a file whose checksum fails after a resumed download: fetched once more from byte 0;
* the known size is enforced while streaming (a larger ``Content-Length`` is refused up front), an
  unknown size is capped, the free disk space is checked, and one deadline bounds the whole file.

A file lock makes a second process wait for the first and reuse its result.

Archives are extracted member by member into a temporary folder beside the target: absolute
paths, ``..``, drive letters, links and device files are refused, so nothing can land outside
the target folder, and merging into the target never follows a symlink.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.client
import os
import re
import shutil
import socket
import ssl
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from torch_book import modes, paths
from torch_book.registry import FileSpec

USER_AGENT = paths.user_agent()
CHUNK = 8 * 1024  # small reads: the progress bar moves even on a slow line
TIMEOUT = 20.0  # seconds without a byte before a read is given up
MIN_RATE = 2 * 1024  # bytes/s averaged over RATE_WINDOW: slower than this is a trickle, not a download
RATE_WINDOW = 30.0
RETRY_AFTER_CAP = 60.0  # the longest Retry-After we wait for; a longer one means: try the next mirror
MAX_UNKNOWN_SIZE = 8 * 1024**3  # a file of unknown size may not grow beyond this
DISK_MARGIN = 64 * 1024**2  # leave this much free space after a download or an extraction


class DownloadError(RuntimeError):
    """A file could not be fetched and verified; the message says what was tried and what to do."""


class OfflineError(DownloadError):
    """Offline mode is on and the file is not in the cache."""


# ----------------------------------------------------------------------------- verification


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, spec: FileSpec) -> str | None:
    """None when ``path`` matches the spec, else why not (in English, for the log and the tests)."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"size {size} B, expected {spec.size} B"
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) and not spec.filename.endswith((".html", ".htm")):
        return "an HTML page, not the file (an error or login page saved as data)"
    if spec.sha256 and (got := file_digest(path, "sha256")) != spec.sha256:
        return f"sha256 {got}, expected {spec.sha256}"
    if spec.sha256_prefix and not (got := file_digest(path, "sha256")).startswith(spec.sha256_prefix):
        return f"sha256 {got}, expected one starting with {spec.sha256_prefix}"
    if spec.md5 and not spec.sha256 and (got := file_digest(path, "md5")) != spec.md5:  # sha256 suffices
        return f"md5 {got}, expected {spec.md5}"
    return None


def expected(spec: FileSpec) -> str:
    """How the file is checked, for messages: its checksum and size, or that only its layout is checked."""
    parts = []
    if spec.sha256:
        parts.append(f"sha256 {spec.sha256}")
    elif spec.md5:
        parts.append(f"md5 {spec.md5}")
    elif spec.sha256_prefix:
        parts.append(f"sha256 начинается с {spec.sha256_prefix}")
    if spec.size:
        parts.append(f"{spec.size} байт")
    return ", ".join(parts) or "контрольной суммы нет, проверяется содержимое после распаковки"


def manual_hint(spec: FileSpec, dest: Path) -> str:
    """Russian instructions to fetch ``spec`` by hand and where to put it."""
    urls = "\n".join(f"      {u}" for u in spec.urls) or f"      (Google Drive, id {spec.gdrive_id})"
    return f"  • {spec.filename} — скачайте по адресу\n{urls}\n    и положите как {dest}\n    ({expected(spec)})"


# ----------------------------------------------------------------------------- one HTTP transfer


class _Retry(Exception):
    """Worth trying this URL again (resuming the .part); ``wait`` is a server-requested pause."""

    def __init__(self, why: str, wait: float | None = None) -> None:
        super().__init__(why)
        self.wait = wait


class _Slow(_Retry):
    """A stall or a trickle: retried once, then the next mirror."""


class _Restart(_Retry):
    """The .part cannot be continued: delete it and start again from byte 0."""


class _NextMirror(Exception):
    """Not worth retrying at this URL (a 4xx, an unknown host, a wrong size): go on to the next one."""


class _Abort(Exception):
    """No URL can help (deadline passed, disk full): stop with a DownloadError."""


@dataclass
class Limits:
    """The time and size rules of one file's download."""

    timeout: float = TIMEOUT
    min_rate: float = MIN_RATE
    rate_window: float = RATE_WINDOW
    retry_after_cap: float = RETRY_AFTER_CAP
    max_unknown_size: int = MAX_UNKNOWN_SIZE
    deadline_at: float = float("inf")  # time.monotonic() by which the whole file must be done

    def left(self) -> float:
        return self.deadline_at - time.monotonic()


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``bytes START-END/TOTAL`` → ``(start, end, total or None)``; None when absent or malformed."""
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None
    start, end = int(m[1]), int(m[2])
    total = None if m[3] == "*" else int(m[3])
    if end < start or (total is not None and end >= total):
        return None
    return start, end, total


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 1 << 62


def _stream(url: str, part: Path, spec: FileSpec, limits: Limits, show_progress: bool) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size when the server allows.

    Returns when ``part`` holds the whole body; raises one of the private outcome exceptions, or
    lets a network exception through for :func:`_try_url` to classify.
    """
    offset = part.stat().st_size if part.exists() else 0
    if spec.size is not None and offset > spec.size:
        raise _Restart(f"the .part has {offset} B, more than the file's {spec.size} B")
    if spec.size is not None and offset == spec.size:
        return  # complete already; verification decides
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    timeout = max(0.5, min(limits.timeout, limits.left()))
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        status = resp.status
        if status == 206:
            cr = parse_content_range(resp.headers.get("Content-Range"))
            if cr is None or cr[0] != offset:
                raise _Restart(f"asked for bytes from {offset}, the server answered Content-Range "
                               f"{resp.headers.get('Content-Range')!r}")
            if spec.size is not None and cr[2] is not None and cr[2] != spec.size:
                raise _NextMirror(f"the server's file has {cr[2]} B, expected {spec.size} B")
            mode, total = "ab", cr[1] + 1
        elif status == 200:
            mode, offset, total = "wb", 0, None
        else:
            raise _NextMirror(f"unexpected HTTP status {status}")
        ctype = resp.headers.get("Content-Type", "")
        if ctype.startswith("text/html") and not url.endswith((".html", ".htm")):
            raise _NextMirror(f"answered an HTML page (Content-Type {ctype!r}), not the file")
        length = resp.headers.get("Content-Length")
        if length is not None and length.strip().isdigit():
            announced = offset + int(length)
            if status == 206 and announced != total:
                raise _Restart(f"Content-Length {length} does not match Content-Range "
                               f"{resp.headers.get('Content-Range')!r}")
            total = announced
        if spec.size is not None and total is not None and total != spec.size:
            raise _NextMirror(f"the server announces {total} B, expected {spec.size} B")
        limit = spec.size if spec.size is not None else (total if total is not None else limits.max_unknown_size)
        if limit > limits.max_unknown_size and spec.size is None:
            raise _NextMirror(f"the server announces {limit} B, more than the {limits.max_unknown_size} B "
                              f"allowed for a file of unknown size")
        need = limit - offset
        if need + DISK_MARGIN > _free_bytes(part.parent) and (spec.size is not None or total is not None):
            raise _Abort(f"not enough free disk space in {part.parent}: {need} B needed, "
                         f"{_free_bytes(part.parent)} B free")
        from tqdm.auto import tqdm

        read = getattr(resp, "read1", resp.read)
        received = offset
        window_start, window_bytes = time.monotonic(), received
        with open(part, mode) as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not show_progress, leave=False,
        ) as bar:
            while True:
                if limits.left() <= 0:
                    raise _Abort("the deadline for this file passed")
                block = read(CHUNK)
                if not block:
                    break
                received += len(block)
                if received > limit:
                    raise _NextMirror(f"the server sent more than {limit} B")
                out.write(block)
                bar.update(len(block))
                now = time.monotonic()
                if now - window_start >= limits.rate_window:
                    rate = (received - window_bytes) / (now - window_start)
                    if rate < limits.min_rate:
                        out.flush()
                        raise _Slow(f"too slow: {rate:.0f} B/s over {now - window_start:.0f} s "
                                    f"(minimum {limits.min_rate:.0f} B/s)")
                    window_start, window_bytes = now, received
        if total is not None and received < total:
            raise _Retry(f"connection closed after {received} of {total} bytes")


def _is_dns_failure(e: BaseException) -> bool:
    reason = getattr(e, "reason", e)
    return isinstance(reason, socket.gaierror)


def _describe(e: BaseException) -> str:
    reason = getattr(e, "reason", None)
    if isinstance(e, urllib.error.URLError) and reason is not None:
        return f"{type(e).__name__}: {type(reason).__name__}: {reason}"
    return f"{type(e).__name__}: {e}"


def _try_url(url: str, part: Path, spec: FileSpec, limits: Limits, *, retries: int, backoff: float,
             show_progress: bool) -> str | None:
    """Download one URL into ``part`` with retries; None on success, else the last failure."""
    last = "not tried"
    slow_left = 1
    attempt = 0
    wait: float | None = None
    while attempt <= retries:
        if attempt:
            pause = wait if wait is not None else backoff * 2 ** (attempt - 1)
            if pause > limits.left():
                raise _Abort(f"the deadline for this file passed (last answer: {last})")
            time.sleep(pause)
        attempt += 1
        wait = None
        try:
            _stream(url, part, spec, limits, show_progress)
            return None
        except _Restart as e:
            part.unlink(missing_ok=True)
            last = f"{e} (starting again from byte 0)"
        except _Slow as e:
            last = str(e)
            if slow_left <= 0:
                return last
            slow_left -= 1
        except _Retry as e:
            last = str(e)
        except _NextMirror as e:
            return str(e)
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code} {e.reason}"
            if e.code == 416:  # our .part does not fit the file: start again
                part.unlink(missing_ok=True)
                continue
            if e.code in (408, 429) or e.code >= 500:
                after = retry_after(e.headers.get("Retry-After") if e.headers else None)
                if after is not None:
                    if after > limits.retry_after_cap:
                        return last + f" (Retry-After {after:.0f} s is longer than {limits.retry_after_cap:.0f} s)"
                    wait = after
                continue
            return last
        except TimeoutError as e:
            last = f"timed out: no data for {limits.timeout:.0f} s ({type(e).__name__})"
            if slow_left <= 0:
                return last
            slow_left -= 1
        except urllib.error.URLError as e:
            last = _describe(e)
            if _is_dns_failure(e):
                return last + " (host not found: check the internet connection)"
            if isinstance(getattr(e, "reason", None), ConnectionRefusedError):
                return last
            if isinstance(getattr(e, "reason", None), TimeoutError):
                if slow_left <= 0:
                    return last
                slow_left -= 1
        except (http.client.HTTPException, ssl.SSLError, ConnectionError, OSError, ValueError) as e:
            # IncompleteRead (cut chunked body), BadStatusLine, RemoteDisconnected, resets, SSL errors …
            last = _describe(e)
            if _is_dns_failure(e):
                return last + " (host not found)"
    return last + f" (after {retries + 1} attempts)"


# ----------------------------------------------------------------------------- fetch


def default_deadline(spec: FileSpec) -> float:
    """Seconds allowed for one file: 10 minutes plus its size at the minimum rate (1 hour if unknown)."""
    if spec.size is None:
        return 3600.0
    return 600.0 + spec.size / MIN_RATE


def _lock(dest: Path) -> FileLock:
    return FileLock(str(dest.with_name(f".{dest.name}.lock")))


def _drop_lock_file(dest: Path) -> None:
    """Remove the lock file (called while holding it, after success: a late waiter just finds the file done)."""
    try:
        dest.with_name(f".{dest.name}.lock").unlink()
    except OSError:
        pass  # Windows keeps an open file; it is hidden and reused next time


def fetch(
    spec: FileSpec,
    dest: Path,
    *,
    timeout: float = TIMEOUT,
    retries: int = 3,
    backoff: float = 1.0,
    deadline: float | None = None,
    min_rate: float = MIN_RATE,
    rate_window: float = RATE_WINDOW,
    retry_after_cap: float = RETRY_AFTER_CAP,
    max_unknown_size: int = MAX_UNKNOWN_SIZE,
    show_progress: bool | None = None,
) -> Path:
    """Make ``dest`` hold the verified file described by ``spec``; return ``dest``.

    Raises OfflineError in offline mode when the file is missing, DownloadError when no URL
    gives a verified file (the message lists each URL and its answer).
    """
    dest = Path(dest)
    if verify(dest, spec) is None:
        return dest
    if modes.is_offline():
        raise OfflineError(
            f"{spec.filename} is not in {dest.parent} and offline mode is on ({modes.OFFLINE_VAR}=1).\n"
            f"Файла нет в кэше, а режим без сети включён. Положите файл вручную:\n"
            + manual_hint(spec, dest) + "\nПодробности — в data/README.md.\n" + modes.how_to_switch()
        )
    if show_progress is None:
        show_progress = not modes.is_fast()
    limits = Limits(timeout=timeout, min_rate=min_rate, rate_window=rate_window, retry_after_cap=retry_after_cap,
                    max_unknown_size=max_unknown_size,
                    deadline_at=time.monotonic() + (default_deadline(spec) if deadline is None else deadline))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _lock(dest):
        if (problem := verify(dest, spec)) is None:  # another process finished it while we waited
            return dest
        bad = dest.with_name(dest.name + ".bad")
        if dest.exists():
            os.replace(dest, bad)
            print(f"[torch_book] {dest} не прошёл проверку ({problem}); отложен как {bad.name}, скачиваю заново")
        part = dest.with_name(dest.name + ".part")
        tried: list[str] = []
        try:
            if spec.gdrive_id:
                outcome = _try_gdrive(spec, part)
                if outcome == "ok":
                    if (problem := verify(part, spec)) is None:
                        return _done(part, dest, bad)
                    outcome = f"Google Drive {spec.gdrive_id}: {problem}"
                    part.unlink(missing_ok=True)
                tried.append("  " + outcome)
            for url in spec.urls:
                for fresh_try in (False, True):
                    resumed = part.exists() and part.stat().st_size > 0
                    failure = _try_url(url, part, spec, limits, retries=retries, backoff=backoff,
                                       show_progress=show_progress)
                    if failure is None:
                        problem = verify(part, spec)
                        if problem is None:
                            return _done(part, dest, bad)
                        part.unlink(missing_ok=True)
                        failure = f"downloaded, but {problem}"
                        if resumed and not fresh_try:  # the old .part may be what was wrong
                            tried.append(f"  {url}: {failure} (resumed; fetching again from byte 0)")
                            continue
                    tried.append(f"  {url}: {failure}")
                    break
        except _Abort as e:
            tried.append(f"  stopped: {e}")
        except KeyboardInterrupt:
            raise  # the .part stays for the next run to resume
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {spec.filename}. Tried:\n" + "\n".join(tried)
            + "\nНе удалось скачать файл. Можно положить его вручную:\n" + manual_hint(spec, dest)
            + "\nПодробности — в data/README.md."
        )


def _done(part: Path, dest: Path, bad: Path) -> Path:
    os.replace(part, dest)
    bad.unlink(missing_ok=True)  # the good file is in place: the rejected one has served its purpose
    _drop_lock_file(dest)
    return dest


def _try_gdrive(spec: FileSpec, part: Path) -> str:
    from torchvision.datasets.utils import download_file_from_google_drive

    try:
        download_file_from_google_drive(spec.gdrive_id, str(part.parent), part.name)
        return "ok"
    except Exception as e:  # torchvision raises several types here; report, do not hide
        part.unlink(missing_ok=True)
        return f"Google Drive {spec.gdrive_id}: {type(e).__name__}: {e}"


def clean_stale(folder: Path, max_age: float = 3600.0) -> list[Path]:
    """Remove what earlier runs left in ``folder`` (not recursive): unheld lock files, ``.bad`` files, old
    extraction folders. Returns what was removed."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in folder.iterdir():
        name = entry.name
        try:
            age = now - entry.lstat().st_mtime
        except OSError:
            continue
        if name.endswith(".lock") and entry.is_file():
            lock = FileLock(str(entry), timeout=0)
            try:
                lock.acquire()
            except Exception:  # held by a running download: leave it
                continue
            try:
                entry.unlink(missing_ok=True)
                removed.append(entry)
            except OSError:
                pass
            finally:
                lock.release()
        elif name.endswith(".bad") and age > max_age:
            entry.unlink(missing_ok=True)
            removed.append(entry)
        elif name.startswith(".extract-") and entry.is_dir() and not entry.is_symlink() and age > max_age:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


# ----------------------------------------------------------------------------- safe extraction


class UnsafeArchiveError(DownloadError):
    """An archive member would land outside its folder, or is a link or a device."""


_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_member_path(name: str) -> str:
    """The member's path relative to the extraction folder, or UnsafeArchiveError (absolute, ``..``, drive)."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r} points outside its folder ('..')")
    if any(_DRIVE.match(p) or "\x00" in p for p in parts):
        raise UnsafeArchiveError(f"archive member {name!r} has an unsafe name")
    return "/".join(parts)


def _write_member(root: Path, rel: str, src) -> None:
    target = root.joinpath(*rel.split("/"))
    _make_dirs(root, target.parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    if target.is_symlink():
        target.unlink()
    fd = os.open(target, flags, 0o644)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


def _make_dirs(root: Path, folder: Path) -> None:
    """mkdir -p below ``root``, refusing to pass through a symlink."""
    rel = folder.relative_to(root)
    current = root
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            raise UnsafeArchiveError(f"{current} is a symlink inside the extraction folder")
        current.mkdir(exist_ok=True)


def _extract_zip(archive: Path, out: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total + DISK_MARGIN > _free_bytes(out):
            raise _Abort(f"{archive.name} unpacks to {total} B, more than the free space in {out}")
        for info in infos:
            rel = safe_member_path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(f"archive member {info.filename!r} is a symlink")
            if not rel:
                continue
            if info.is_dir():
                _make_dirs(out, out.joinpath(*rel.split("/")))
                continue
            with zf.open(info) as src:
                _write_member(out, rel, src)


def _extract_tar(archive: Path, out: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            rel = safe_member_path(member.name)
            if member.issym() or member.islnk():
                raise UnsafeArchiveError(f"archive member {member.name!r} is a link (to {member.linkname!r})")
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(f"archive member {member.name!r} is not a regular file or folder")
            if not rel:
                continue
            if member.isdir():
                _make_dirs(out, out.joinpath(*rel.split("/")))
                continue
            src = tf.extractfile(member)
            if src is None:
                raise UnsafeArchiveError(f"archive member {member.name!r} cannot be read")
            with src:
                _write_member(out, rel, src)


def _merge_into(src: Path, dst: Path) -> None:
    """Move ``src``'s entries into ``dst``: whole folders by one rename where ``dst`` lacks them.

    Never follows a symlink: a link found in ``dst`` (left by anything) is replaced, not entered.
    """
    if dst.is_symlink():
        dst.unlink()
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        entry_is_dir = entry.is_dir() and not entry.is_symlink()
        if target.is_symlink():
            target.unlink()
        elif target.is_dir() and entry_is_dir:
            _merge_into(entry, target)
            continue
        elif target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)


def extract(archive: Path, dest_dir: Path) -> None:
    """Extract ``archive`` (.zip, .tar[.gz|.bz2|.xz], .tgz or a single .gz file) into ``dest_dir``.

    Atomic: a complete temporary copy first, then renames. A damaged archive raises DownloadError,
    an unsafe one UnsafeArchiveError, and ``dest_dir`` stays as it was.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
    name = archive.name.lower()
    try:
        try:
            if name.endswith(".zip"):
                _extract_zip(archive, tmp)
            elif name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
                _extract_tar(archive, tmp)
            elif name.endswith(".gz"):
                with gzip.open(archive, "rb") as src:
                    _write_member(tmp, safe_member_path(archive.name[:-3]), src)
            else:
                raise DownloadError(f"{archive.name}: unknown archive type")
        except UnsafeArchiveError:
            raise
        except _Abort as e:
            raise DownloadError(f"{archive} could not be extracted: {e}") from e
        except DownloadError:
            raise
        except Exception as e:
            raise DownloadError(f"{archive} is damaged and could not be extracted: {type(e).__name__}: {e}") from e
        _merge_into(tmp, dest_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_and_extract(spec: FileSpec, archive_dir: Path, dest_dir: Path, **kwargs) -> None:
    """Fetch and extract; a damaged archive is deleted and fetched once more, then an error."""
    archive = archive_dir / spec.filename
    for attempt in range(2):
        fetch(spec, archive, **kwargs)
        try:
            extract(archive, dest_dir)
            return
        except UnsafeArchiveError:
            archive.unlink(missing_ok=True)
            raise
        except DownloadError:
            if modes.is_offline() or attempt:
                archive.unlink(missing_ok=True)
                raise
            archive.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- link check


def probe(url: str, timeout: float = 20.0) -> tuple[bool, str]:
    """Ask for the first byte of ``url`` (a GET with Range: some servers refuse HEAD): (answers, what it said)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            cr = parse_content_range(resp.headers.get("Content-Range"))
            size = cr[2] if cr else resp.headers.get("Content-Length", "?")
            return resp.status in (200, 206), f"{resp.status}, {size} B"
    except urllib.error.HTTPError as e:
        return False, f"HTTP {e.code} {e.reason}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        return False, _describe(e)


def check_links(timeout: float = 20.0) -> list[tuple[str, str, list[tuple[str, bool, str]]]]:
    """Probe every registered URL: ``[(dataset, filename, [(url, answers, what it said)…])]``. Needs internet."""
    from torch_book.registry import REGISTRY

    results = []
    for info in REGISTRY.values():
        for spec in info.files:
            results.append((info.name, spec.filename, [(u, *probe(u, timeout)) for u in spec.urls]))
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m torch_book.download")
    parser.add_argument("command", choices=["check-links"])
    parser.parse_args(argv)
    failed = 0
    for name, filename, answers in check_links():
        ok = any(a for _, a, _ in answers)
        failed += not ok
        print(f"{'ok ' if ok else 'BAD'} {name}/{filename}")
        for url, answered, said in answers:
            print(f"    {'+' if answered else '-'} {said:<28} {url}")
    print(f"{failed} file(s) with no answering URL" if failed else "every file has at least one answering URL")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
