"""One verified downloader for every file the course fetches.

A file is written to ``<name>.part``, checked (HTTP status, not an HTML page, size, checksum) and
only then renamed to its final name, so the cache never holds a wrong or partial file under the
real name. Mirrors are tried in order; 5xx and connection errors are retried with backoff and a
partial ``.part`` is resumed with an HTTP Range request where the server allows it. A file lock
makes a second process wait for the first and reuse its result.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from filelock import FileLock

from torch_book import modes
from torch_book.registry import FileSpec

USER_AGENT = "torch_book-course/0.1 (+https://github.com/torch-book/torch_book)"
CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A file could not be fetched and verified; the message says what was tried and what to do."""


class OfflineError(DownloadError):
    """Offline mode is on and the file is not in the cache."""


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, spec: FileSpec) -> str | None:
    """None when ``path`` matches the spec, else why not."""
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
    if spec.md5 and (got := file_digest(path, "md5")) != spec.md5:
        return f"md5 {got}, expected {spec.md5}"
    return None


def _expected(spec: FileSpec) -> str:
    if spec.sha256:
        return f"sha256 {spec.sha256}"
    if spec.md5:
        return f"md5 {spec.md5}"
    if spec.sha256_prefix:
        return f"sha256 starting with {spec.sha256_prefix}"
    return "no published checksum"


def _manual_hint(spec: FileSpec, dest: Path) -> str:
    urls = "\n".join(f"    {u}" for u in spec.urls) or "    (Google Drive id " + str(spec.gdrive_id) + ")"
    return (
        f"To place it by hand: download it from\n{urls}\n"
        f"  and save it as {dest} ({_expected(spec)}); see data/README.md."
    )


def _stream(url: str, part: Path, timeout: float, show_progress: bool) -> None:
    """Fetch ``url`` into ``part``, resuming from its current size when the server allows."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        status = resp.status
        if status == 206:
            mode = "ab"
        elif status == 200:
            mode, offset = "wb", 0
        else:
            raise urllib.error.HTTPError(url, status, f"unexpected HTTP status {status}", resp.headers, None)
        ctype = resp.headers.get("Content-Type", "")
        if ctype.startswith("text/html") and not url.endswith((".html", ".htm")):
            raise DownloadError(f"{url} answered an HTML page (Content-Type {ctype!r}), not the file")
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        from tqdm.auto import tqdm

        received = offset
        with open(part, mode) as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not show_progress, leave=False,
        ) as bar:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                out.write(block)
                received += len(block)
                bar.update(len(block))
        if total is not None and received < total:
            raise ConnectionError(f"connection closed after {received} of {total} bytes")


def _try_url(url: str, part: Path, *, timeout: float, retries: int, backoff: float, show_progress: bool) -> str | None:
    """Download one URL into ``part`` with retries; None on success, else the last failure."""
    last = "not tried"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _stream(url, part, timeout, show_progress)
            return None
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code} {e.reason}"
            if e.code == 416:  # our .part is bigger than the file: start again
                part.unlink(missing_ok=True)
                continue
            if e.code < 500 and e.code != 429:
                return last
        except DownloadError as e:
            part.unlink(missing_ok=True)
            return str(e)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            last = f"{type(e).__name__}: {reason}"
    return last + f" (after {retries + 1} attempts)"


def fetch(
    spec: FileSpec,
    dest: Path,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
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
            f"{spec.filename} is not in {dest.parent} and offline mode is on "
            f"({modes.OFFLINE_VAR}=1): run once with internet, or place the file by hand.\n"
            + _manual_hint(spec, dest)
        )
    if show_progress is None:
        show_progress = not modes.is_fast()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock"):
        if (problem := verify(dest, spec)) is None:  # another process finished it while we waited
            return dest
        if dest.exists():
            bad = dest.with_name(dest.name + ".bad")
            os.replace(dest, bad)
            print(f"[torch_book] {dest} failed verification ({problem}); moved aside to {bad.name}")
        part = dest.with_name(dest.name + ".part")
        tried: list[str] = []
        if spec.gdrive_id:
            tried.append(_try_gdrive(spec, part))
            if tried[-1] == "ok":
                tried.pop()
                if (problem := verify(part, spec)) is None:
                    os.replace(part, dest)
                    return dest
                tried.append(f"Google Drive {spec.gdrive_id}: {problem}")
                part.unlink(missing_ok=True)
        for url in spec.urls:
            failure = _try_url(url, part, timeout=timeout, retries=retries, backoff=backoff,
                               show_progress=show_progress)
            if failure is None:
                problem = verify(part, spec)
                if problem is None:
                    os.replace(part, dest)
                    return dest
                failure = f"downloaded, but {problem}"
                part.unlink(missing_ok=True)
            tried.append(f"  {url}: {failure}")
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {spec.filename}. Tried:\n" + "\n".join(tried) + "\n" + _manual_hint(spec, dest)
        )


def _try_gdrive(spec: FileSpec, part: Path) -> str:
    from torchvision.datasets.utils import download_file_from_google_drive

    try:
        download_file_from_google_drive(spec.gdrive_id, str(part.parent), part.name)
        return "ok"
    except Exception as e:  # torchvision raises several types here; report, do not hide
        part.unlink(missing_ok=True)
        return f"  Google Drive {spec.gdrive_id}: {type(e).__name__}: {e}"


def _merge_into(src: Path, dst: Path) -> None:
    """Move ``src``'s entries into ``dst``: whole directories by one rename where ``dst`` lacks them."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and target.is_dir():
            _merge_into(entry, target)
        else:
            os.replace(entry, target)


def extract(archive: Path, dest_dir: Path) -> None:
    """Extract ``archive`` into ``dest_dir`` atomically: a complete temporary copy first, then renames.

    A damaged archive raises DownloadError and leaves ``dest_dir`` as it was.
    """
    from torchvision.datasets.utils import extract_archive

    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
    try:
        try:
            if archive.name.endswith(".gz") and not archive.name.endswith(".tar.gz"):
                with gzip.open(archive, "rb") as src, open(tmp / archive.name[:-3], "wb") as out:
                    shutil.copyfileobj(src, out)
            else:
                extract_archive(str(archive), str(tmp))
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
        except DownloadError:
            archive.unlink(missing_ok=True)
            if attempt or modes.is_offline():
                raise


def check_links(timeout: float = 20.0) -> list[tuple[str, str, str]]:
    """HEAD every registered URL: ``[(dataset, url, answer)]``. For instructors; needs internet."""
    from torch_book.registry import REGISTRY

    results = []
    for info in REGISTRY.values():
        for spec in info.files:
            for url in spec.urls:
                request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": USER_AGENT})
                try:
                    with urllib.request.urlopen(request, timeout=timeout) as resp:
                        answer = f"{resp.status} {resp.headers.get('Content-Length', '?')} B"
                except urllib.error.HTTPError as e:
                    answer = f"HTTP {e.code} {e.reason}"
                except (urllib.error.URLError, OSError) as e:
                    answer = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
                results.append((info.name, url, answer))
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m torch_book.download")
    parser.add_argument("command", choices=["check-links"])
    parser.parse_args(argv)
    bad = 0
    for name, url, answer in check_links():
        ok = answer.startswith(("200", "206"))
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {name:<14} {answer:<28} {url}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
