"""The downloader against a loopback HTTP server that misbehaves on purpose.

Each case ends with either the verified file in place or a clear DownloadError, and never
with a wrong or partial file under the final name.
"""

import hashlib
import io
import multiprocessing
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from torch_book import download, modes
from torch_book.registry import FileSpec

BODY = bytes(range(256)) * 4096  # 1 MiB
MD5 = hashlib.md5(BODY).hexdigest()


class Handler(BaseHTTPRequestHandler):
    counts: dict = {}
    ranges: list = []

    def log_message(self, *args):
        pass

    def _send(self, status, body, ctype="application/octet-stream", length=None, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        n = Handler.counts[path] = Handler.counts.get(path, 0) + 1
        rng = self.headers.get("Range")
        if rng:
            Handler.ranges.append((path, rng))
        if path.startswith("/ok") or path.startswith("/shared"):
            if path.startswith("/shared"):
                time.sleep(0.5)  # long enough for the second process to find the lock taken
            if rng:
                start = int(rng.split("=")[1].split("-")[0])
                return self._send(206, BODY[start:], extra={"Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"})
            return self._send(200, BODY)
        if path.startswith("/missing"):
            return self._send(404, b"not found", "text/plain")
        if path.startswith("/flaky"):
            return self._send(503, b"busy", "text/plain") if n <= 2 else self._send(200, BODY)
        if path.startswith("/truncated"):
            self._send(200, BODY[: len(BODY) // 2], length=len(BODY))
            self.close_connection = True
            return None
        if path.startswith("/reset-once"):
            if rng:
                start = int(rng.split("=")[1].split("-")[0])
                return self._send(206, BODY[start:], extra={"Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"})
            self._send(200, BODY[:300_000], length=len(BODY))
            self.close_connection = True
            return None
        if path.startswith("/corrupt"):
            return self._send(200, bytes(len(BODY)))
        if path.startswith("/html"):
            return self._send(200, b"<!DOCTYPE html><html><body>Please log in</body></html>", "text/html; charset=utf-8")
        if path.startswith("/html-as-binary"):
            return self._send(200, b"<html><body>quota exceeded</body></html>")
        if path.startswith("/slow"):
            time.sleep(3)
            return self._send(200, BODY)
        if path.startswith("/archive"):
            return self._send(200, Handler.archive)
        return self._send(404, b"?", "text/plain")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.setenv(modes.OFFLINE_VAR, "0")
    monkeypatch.setenv(modes.FAST_VAR, "1")
    Handler.counts.clear()
    Handler.ranges.clear()


def spec(server, *paths, md5=MD5, name="file.bin"):
    return FileSpec(name, tuple(f"{server}{p}" for p in paths), md5=md5)


FAST = dict(timeout=1.0, retries=2, backoff=0.01)


def assert_clean(dest):
    """Nothing partial or wrong under the final name."""
    assert not dest.exists() or download.verify(dest, FileSpec(dest.name, (), md5=MD5)) is None


def test_404_on_primary_then_mirror(server, tmp_path):
    dest = tmp_path / "file.bin"
    download.fetch(spec(server, "/missing/file.bin", "/ok/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY
    assert Handler.counts["/missing/file.bin"] == 1  # a 404 is not retried


def test_503_twice_then_ok(server, tmp_path):
    dest = tmp_path / "file.bin"
    download.fetch(spec(server, "/flaky/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY and Handler.counts["/flaky/file.bin"] == 3


def test_truncated_body_is_an_error_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(download.DownloadError, match="truncated|closed after|expected"):
        download.fetch(spec(server, "/truncated/file.bin"), dest, **FAST)
    assert not dest.exists() and not (tmp_path / "file.bin.part").exists()


def test_connection_reset_mid_body_then_resume(server, tmp_path):
    dest = tmp_path / "file.bin"
    download.fetch(spec(server, "/reset-once/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY
    assert ("/reset-once/file.bin", "bytes=300000-") in Handler.ranges  # it resumed, not restarted


def test_corrupt_bytes_fail_the_checksum(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(download.DownloadError) as err:
        download.fetch(spec(server, "/corrupt/file.bin"), dest, **FAST)
    assert MD5 in str(err.value) and "/corrupt/file.bin" in str(err.value) and str(dest) in str(err.value)
    assert not dest.exists()


@pytest.mark.parametrize("path", ["/html/file.bin", "/html-as-binary/file.bin"])
def test_an_html_page_is_not_saved_as_the_file(server, tmp_path, path):
    dest = tmp_path / "file.bin"
    with pytest.raises(download.DownloadError, match="HTML"):
        download.fetch(spec(server, path, md5=None), dest, **FAST)  # even without a checksum
    assert not dest.exists()


def test_a_server_slower_than_the_timeout(server, tmp_path):
    dest = tmp_path / "file.bin"
    t0 = time.monotonic()
    with pytest.raises(download.DownloadError, match="timed out|Timeout"):
        download.fetch(spec(server, "/slow/file.bin"), dest, timeout=0.5, retries=1, backoff=0.01)
    assert time.monotonic() - t0 < 10 and not dest.exists()


def _fetch_in_process(url, dest, queue):
    try:
        download.fetch(FileSpec("file.bin", (url,), md5=MD5), dest, timeout=5, retries=0)
        queue.put("ok")
    except Exception as e:  # reported to the parent
        queue.put(repr(e))


def test_two_processes_fetch_once_and_share(server, tmp_path):
    dest = tmp_path / "file.bin"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_fetch_in_process, args=(f"{server}/shared/file.bin", dest, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [queue.get(timeout=5) for _ in procs] == ["ok", "ok"]
    assert dest.read_bytes() == BODY
    assert Handler.counts["/shared/file.bin"] == 1, "the second process must wait and reuse the first one's file"


def test_interrupt_mid_download_leaves_no_final_file_and_resumes(server, tmp_path, monkeypatch):
    dest = tmp_path / "file.bin"
    real_stream = download._stream

    def interrupted(url, part, timeout, show_progress):
        part.write_bytes(BODY[:100_000])  # what had arrived when the student pressed Stop
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_stream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download.fetch(spec(server, "/ok/file.bin"), dest, **FAST)
    assert not dest.exists() and (tmp_path / "file.bin.part").stat().st_size == 100_000
    monkeypatch.setattr(download, "_stream", real_stream)
    download.fetch(spec(server, "/ok/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY and ("/ok/file.bin", "bytes=100000-") in Handler.ranges


def test_a_damaged_archive_is_refetched_once_then_a_clear_error(server, tmp_path):
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("pack/a.txt", "hello")
    Handler.archive = good.getvalue()[:-30]  # the central directory is cut: checksum fine, archive broken
    s = FileSpec("pack.zip", (f"{server}/archive/pack.zip",), md5=hashlib.md5(Handler.archive).hexdigest())
    with pytest.raises(download.DownloadError, match="damaged"):
        download.fetch_and_extract(s, tmp_path, tmp_path / "out", **FAST)
    assert Handler.counts["/archive/pack.zip"] == 2
    assert not (tmp_path / "pack.zip").exists()
    assert not (tmp_path / "out" / "pack").exists() and not list((tmp_path / "out").glob(".extract-*"))


def test_a_good_archive_is_extracted_atomically(server, tmp_path):
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("pack/a.txt", "hello")
        zf.writestr("pack/sub/b.txt", "world")
    Handler.archive = good.getvalue()
    s = FileSpec("pack.zip", (f"{server}/archive/pack.zip",), md5=hashlib.md5(Handler.archive).hexdigest())
    download.fetch_and_extract(s, tmp_path, tmp_path / "out", **FAST)
    assert (tmp_path / "out" / "pack" / "sub" / "b.txt").read_text() == "world"
    assert not list((tmp_path / "out").glob(".extract-*"))


def test_a_wrong_file_already_in_the_cache_is_moved_aside(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"junk from an old, broken download")
    download.fetch(spec(server, "/ok/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY and (tmp_path / "file.bin.bad").exists()


def test_offline_mode_never_opens_a_socket(monkeypatch, tmp_path, no_network):
    monkeypatch.setenv(modes.OFFLINE_VAR, "1")
    with pytest.raises(download.OfflineError, match="offline mode is on") as err:
        download.fetch(FileSpec("x.bin", ("http://127.0.0.1:9/x.bin",), md5=MD5), tmp_path / "x.bin")
    assert "x.bin" in str(err.value) and MD5 in str(err.value)


def test_weights_are_verified_by_the_hash_prefix_in_their_name(server, tmp_path):
    from torch_book.pretrained import weights_spec

    class W:
        url = f"{server}/ok/resnet-{hashlib.sha256(BODY).hexdigest()[:8]}.pth"

    s = weights_spec(W)
    assert s.sha256_prefix == hashlib.sha256(BODY).hexdigest()[:8]
    download.fetch(s, tmp_path / s.filename, **FAST)
    bad = FileSpec("w.pth", (f"{server}/ok/w.pth",), sha256_prefix="00000000")
    with pytest.raises(download.DownloadError, match="expected one starting with 00000000"):
        download.fetch(bad, tmp_path / "w.pth", **FAST)
