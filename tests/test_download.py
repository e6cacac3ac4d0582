"""The downloader against a loopback HTTP server that misbehaves on purpose.

Each case ends with either the verified file in place or a clear DownloadError, and never
with a wrong or partial file under the final name.
"""

import dataclasses
import hashlib
import io
import multiprocessing
import os
import socket
import tarfile
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
        if path.startswith("/chunked-cut"):  # a chunked body cut mid-chunk: http.client.IncompleteRead
            if rng and path.startswith("/chunked-cut-once"):
                start = int(rng.split("=")[1].split("-")[0])
                return self._send(206, BODY[start:], extra={"Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"})
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"10000\r\n" + BODY[:4096])
            self.wfile.flush()
            self.close_connection = True
            return None
        if path.startswith("/bad-status"):  # not HTTP at all: http.client.BadStatusLine
            self.wfile.write(b"GARBAGE\r\n\r\n")
            self.close_connection = True
            return None
        if path.startswith("/trickle"):  # 512 B every 0.25 s, for at most 3 s
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            t0 = time.monotonic()
            try:
                while time.monotonic() - t0 < 3:
                    self.wfile.write(BODY[:512])
                    self.wfile.flush()
                    time.sleep(0.25)
            except OSError:
                pass
            self.close_connection = True
            return None
        if path.startswith("/stall"):  # headers, then nothing for 3 s
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.flush()
            time.sleep(3)
            self.close_connection = True
            return None
        if path.startswith("/wrong-range"):  # answers a Range request with the wrong bytes
            if rng:
                return self._send(206, BODY, extra={"Content-Range": f"bytes 0-{len(BODY) - 1}/{len(BODY)}"})
            return self._send(200, BODY)
        if path.startswith("/huge"):  # announces 10 TB
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024**4))
            self.end_headers()
            self.close_connection = True
            return None
        if path.startswith("/endless"):  # no Content-Length and more bytes than allowed (bounded: 4 MiB)
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(4):
                    self.wfile.write(BODY)
            except OSError:
                pass
            self.close_connection = True
            return None
        if path.startswith("/retry-after-long"):
            return self._send(503, b"busy", "text/plain", extra={"Retry-After": "3600"})
        if path.startswith("/retry-after"):
            if n == 1:
                return self._send(503, b"busy", "text/plain", extra={"Retry-After": "1"})
            return self._send(200, BODY)
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


def spec(server, *paths, md5=MD5, name="file.bin", size=None):
    return FileSpec(name, tuple(f"{server}{p}" for p in paths), md5=md5, size=size)


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

    def interrupted(url, part, spec, limits, show_progress):
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
    with pytest.raises(download.DownloadError):
        download.fetch(spec(server, "/missing/file.bin"), dest, **FAST)
    assert (tmp_path / "file.bin.bad").read_bytes().startswith(b"junk") and not dest.exists()  # kept to look at
    download.fetch(spec(server, "/ok/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY and not (tmp_path / "file.bin.bad").exists()  # the good file replaced it


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


# ----------------------------------------------------------------------------- every failure mode ends well


def test_a_cut_chunked_body_is_retried_and_resumed(server, tmp_path):
    dest = tmp_path / "file.bin"
    download.fetch(spec(server, "/chunked-cut-once/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY and ("/chunked-cut-once/file.bin", "bytes=4096-") in Handler.ranges


@pytest.mark.parametrize("bad", ["/chunked-cut/file.bin", "/bad-status/file.bin"])
def test_incomplete_read_and_bad_status_line_go_on_to_the_next_mirror(server, tmp_path, bad):
    dest = tmp_path / "file.bin"
    download.fetch(spec(server, bad, "/ok/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY and Handler.counts[bad] == FAST["retries"] + 1
    assert not (tmp_path / "file.bin.part").exists()


def test_only_http_failures_end_in_a_download_error_naming_them(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(download.DownloadError) as err:
        download.fetch(spec(server, "/chunked-cut/file.bin", "/bad-status/file.bin"), dest, **FAST)
    text = str(err.value)
    assert "IncompleteRead" in text and "BadStatusLine" in text and "вручную" in text
    assert not dest.exists() and not (tmp_path / "file.bin.part").exists()


def test_a_trickle_is_given_up_and_the_next_mirror_used(server, tmp_path):
    dest = tmp_path / "file.bin"
    t0 = time.monotonic()
    download.fetch(spec(server, "/trickle/file.bin", "/ok/file.bin"), dest, min_rate=8192, rate_window=0.6, **FAST)
    assert dest.read_bytes() == BODY and Handler.counts["/trickle/file.bin"] == 2  # one retry, then the mirror
    assert time.monotonic() - t0 < 4


def test_a_stall_costs_one_retry_not_four(server, tmp_path):
    dest = tmp_path / "file.bin"
    t0 = time.monotonic()
    with pytest.raises(download.DownloadError, match="timed out"):
        download.fetch(spec(server, "/stall/file.bin"), dest, timeout=0.4, retries=3, backoff=0.01)
    assert Handler.counts["/stall/file.bin"] == 2 and time.monotonic() - t0 < 3


def test_the_deadline_bounds_the_whole_file(server, tmp_path):
    dest = tmp_path / "file.bin"
    t0 = time.monotonic()
    with pytest.raises(download.DownloadError, match="deadline"):
        download.fetch(spec(server, "/trickle/file.bin", "/stall/file.bin"), dest, deadline=0.8, min_rate=1,
                       retries=3, backoff=0.01)
    assert time.monotonic() - t0 < 2.5


def test_a_wrong_content_range_is_not_appended(server, tmp_path):
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(BODY[:100_000])
    download.fetch(spec(server, "/wrong-range/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY  # restarted from byte 0, not BODY[:100000] + BODY


def test_a_resumed_file_failing_its_checksum_is_fetched_again_from_byte_0(server, tmp_path):
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"\0" * 100_000)  # a .part from a broken earlier download
    download.fetch(spec(server, "/ok/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY
    assert Handler.ranges == [("/ok/file.bin", "bytes=100000-")] and Handler.counts["/ok/file.bin"] == 2


@pytest.mark.parametrize("size", [len(BODY), None])
def test_a_ten_terabyte_content_length_is_refused(server, tmp_path, size):
    dest = tmp_path / "file.bin"
    with pytest.raises(download.DownloadError, match="announces"):
        download.fetch(spec(server, "/huge/file.bin", size=size, md5=None), dest, **FAST)
    assert Handler.counts["/huge/file.bin"] == 1 and not (tmp_path / "file.bin.part").exists()


def test_an_endless_stream_is_cut_at_the_known_size(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(download.DownloadError, match="more than"):
        download.fetch(spec(server, "/endless/file.bin", size=len(BODY)), dest, **FAST)
    with pytest.raises(download.DownloadError, match="more than 262144 B"):
        download.fetch(spec(server, "/endless/file.bin", md5=None), dest, max_unknown_size=256 * 1024, **FAST)
    assert not (tmp_path / "file.bin.part").exists()


def test_no_room_on_disk_is_a_clear_error(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_free_bytes", lambda folder: 1000)
    with pytest.raises(download.DownloadError, match="free disk space"):
        download.fetch(spec(server, "/ok/file.bin", size=len(BODY)), tmp_path / "file.bin", **FAST)


def test_retry_after_is_honoured_up_to_the_cap(server, tmp_path):
    dest = tmp_path / "file.bin"
    t0 = time.monotonic()
    download.fetch(spec(server, "/retry-after/file.bin"), dest, **FAST)
    assert dest.read_bytes() == BODY and time.monotonic() - t0 >= 0.9  # waited the second it asked for
    t0 = time.monotonic()
    download.fetch(spec(server, "/retry-after-long/file.bin", "/ok/file.bin"), tmp_path / "b.bin", **FAST)
    assert time.monotonic() - t0 < 2 and Handler.counts["/retry-after-long/file.bin"] == 1


def test_an_unknown_host_is_not_retried(tmp_path, monkeypatch):
    calls = []

    def no_dns(*args, **kwargs):
        calls.append(args[0])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    t0 = time.monotonic()
    with pytest.raises(download.DownloadError, match="host not found"):
        download.fetch(FileSpec("x.bin", ("http://mirror.invalid/x.bin",), md5=MD5), tmp_path / "x.bin",
                       retries=3, backoff=1.0)
    assert len(calls) == 1 and time.monotonic() - t0 < 1


def test_parse_content_range_and_retry_after():
    assert download.parse_content_range("bytes 10-99/100") == (10, 99, 100)
    assert download.parse_content_range("bytes 10-99/*") == (10, 99, None)
    assert download.parse_content_range("bytes 10-100/100") is None and download.parse_content_range(None) is None
    assert download.retry_after("7") == 7 and download.retry_after("soon") is None
    assert 0 <= download.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") < 1


def test_lock_and_bad_files_do_not_pile_up(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"junk")
    download.fetch(spec(server, "/ok/file.bin"), dest, **FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]
    (tmp_path / ".old.bin.lock").write_text("")
    (tmp_path / "old.bin.bad").write_text("")
    os.utime(tmp_path / "old.bin.bad", (0, 0))
    removed = download.clean_stale(tmp_path)
    assert sorted(p.name for p in removed) == [".old.bin.lock", "old.bin.bad"]


# ----------------------------------------------------------------------------- hostile archives


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


HOSTILE_TARS = {
    "dotdot": [_file("pack/ok.txt"), _file("../../x")],
    "absolute": [_file("/tmp/torch_book_absolute_x")],
    "symlink-out": [_link("pack/evil", "/etc"), _file("pack/evil/passwd")],
    "symlink-in": [_file("pack/a.txt"), _link("pack/b", "a.txt")],
    "hardlink": [_link("pack/h", "/etc/passwd", tarfile.LNKTYPE)],
    "device": [(tarfile.TarInfo("pack/dev"), None)],
}
HOSTILE_TARS["device"][0][0].type = tarfile.CHRTYPE


@pytest.mark.parametrize("case", list(HOSTILE_TARS))
def test_hostile_tar_members_are_refused_and_nothing_lands_outside(tmp_path, case):
    archive = _tar(tmp_path / "a.tar.gz", HOSTILE_TARS[case])
    out = tmp_path / "deep" / "out"
    before = {p for p in tmp_path.rglob("*")}
    with pytest.raises(download.UnsafeArchiveError):
        download.extract(archive, out)
    assert {p for p in tmp_path.rglob("*")} - before <= {out, out.parent}, "something was written"
    assert not os.path.exists("/tmp/torch_book_absolute_x")


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize("entries", [
    [("../x", b"x", None)],
    [("/abs/x", b"x", None)],
    [("C:/x", b"x", None)],
    [("pack\\..\\..\\x", b"x", None)],
    [("pack/link", b"/etc", 0o120777)],
], ids=["dotdot", "absolute", "drive", "backslashes", "symlink"])
def test_hostile_zip_members_are_refused(tmp_path, entries):
    archive = _zip(tmp_path / "a.zip", entries)
    out = tmp_path / "deep" / "out"
    with pytest.raises(download.UnsafeArchiveError):
        download.extract(archive, out)
    assert not (tmp_path / "x").exists() and not (tmp_path / "deep" / "x").exists()
    assert not list(out.iterdir())


def test_a_symlink_left_in_the_target_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "pack").symlink_to(outside, target_is_directory=True)  # left by an earlier, older extractor
    archive = _tar(tmp_path / "a.tar.gz", [_file("pack/a.txt", b"hello")])
    download.extract(archive, out)
    assert not list(outside.iterdir()), "extraction followed the symlink"
    assert not (out / "pack").is_symlink() and (out / "pack" / "a.txt").read_bytes() == b"hello"


def test_a_good_tar_and_a_single_gz_are_extracted(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [_file("pack/sub/a.txt", b"hello"), _file("./pack/b.txt", b"b")])
    download.extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "pack" / "sub" / "a.txt").read_bytes() == b"hello"
    import gzip

    (tmp_path / "raw.gz").write_bytes(gzip.compress(b"idx"))
    download.extract(tmp_path / "raw.gz", tmp_path / "out")
    assert (tmp_path / "out" / "raw").read_bytes() == b"idx" and not list((tmp_path / "out").glob(".extract-*"))


def test_link_check_reports_per_file_and_tolerates_a_refusing_mirror(server, monkeypatch, capsys):
    from torch_book import registry

    ok = FileSpec("file.bin", (f"{server}/missing/file.bin", f"{server}/ok/file.bin"))
    dead = FileSpec("dead.bin", (f"{server}/missing/dead.bin",))
    info = registry.DatasetInfo("demo", "Demo", ("1_Basic",), ".", (ok,), 1.0, "MIT", "https://example.org")
    monkeypatch.setattr(registry, "REGISTRY", {"demo": info})
    assert download.main(["check-links"]) == 0
    out = capsys.readouterr().out
    assert "ok  demo/file.bin" in out and "- HTTP 404" in out and "+ 206" in out
    monkeypatch.setattr(registry, "REGISTRY", {"demo": dataclasses.replace(info, files=(ok, dead))})
    assert download.main(["check-links"]) == 1
    assert "BAD demo/dead.bin" in capsys.readouterr().out


def test_the_downloader_does_not_need_torch():
    import subprocess
    import sys

    code = "import sys, torch_book.download; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
