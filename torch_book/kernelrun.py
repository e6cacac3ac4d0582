"""Execute a notebook cell by cell in a Jupyter kernel that lives in a :mod:`~torch_book.sandbox`.

The grading process itself drives the kernel over ZeroMQ IPC sockets (no network inside the sandbox) and
reads each cell's outcome from the kernel's execute reply: nothing the student's code writes to a file or
to the working folder can change a verdict. Around the handed-out (locked) cells it calls the
:mod:`~torch_book.guard` it installed before any student code ran: a snapshot after trusted cells, a reset
before each locked cell that follows student code, and a per-cell nonce whose HMAC proves that the locked
cell really ran to its last line. Per-cell and total timeouts interrupt, then kill; memory, disk and process
limits kill the whole sandbox.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import queue
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from torch_book.sandbox import Sandbox

GUARD_SOURCE = (Path(__file__).with_name("guard.py")).read_text(encoding="utf-8")  # read once, at import
MAX_OUTPUT_CHARS = 5000
MAX_OUTPUTS = 60
MAX_OUTPUT_BYTES = 2_000_000  # one display_data (a figure)
INTERRUPT_GRACE = 10  # seconds a cell gets to stop after SIGINT before the sandbox is killed
# ``python -m ipykernel_launcher`` without the working folder (writable by student code) on ``sys.path``
KERNEL_BOOT = ("import os, runpy, sys; sys.path[:] = [p for p in sys.path if p not in ('', '.', os.getcwd())]; "
               "sys.argv[0] = 'ipykernel_launcher'; runpy.run_module('ipykernel_launcher', run_name='__main__')")


@dataclass
class Exec:
    """The outcome of one execute request, as the kernel's reply and IOPub messages tell it."""

    status: str  # ok | error | timeout | dead | limit | total-timeout | tampered | guard-error
    error: str = ""
    outputs: list = field(default_factory=list)
    user_expressions: dict = field(default_factory=dict)
    seconds: float = 0.0

    def expression(self, name: str) -> tuple[str | int, str]:
        """(value, error) of a user expression whose value is a string or an int."""
        v = self.user_expressions.get(name)
        if not isinstance(v, dict):
            return "", "no answer"
        if v.get("status") != "ok":
            return "", f"{v.get('ename', 'Error')}: {v.get('evalue', '')}"[:500]
        data = v.get("data")
        text = data.get("text/plain", "") if isinstance(data, dict) else ""
        try:
            value = ast.literal_eval(text) if isinstance(text, str) else ""
        except (ValueError, SyntaxError):
            return "", ""
        return (value, "") if isinstance(value, (str, int)) else ("", "")


class _Outputs:
    """Collect IOPub outputs into notebook outputs: streams merged, long text cut, big or many outputs dropped."""

    def __init__(self) -> None:
        self.items: list = []
        self.clear_pending = False
        self.dropped = 0

    def add(self, msg: dict) -> None:
        kind = msg.get("header", {}).get("msg_type")
        content = msg.get("content")
        if not isinstance(content, dict):
            return
        if kind == "clear_output":
            if content.get("wait"):
                self.clear_pending = True
            else:
                self.items.clear()
            return
        if kind not in ("stream", "display_data", "execute_result", "error"):
            return
        if self.clear_pending:
            self.items.clear()
            self.clear_pending = False
        try:
            out = nbformat.v4.output_from_msg(msg)
        except Exception:  # noqa: BLE001 - a malformed message from a hostile kernel is dropped
            return
        if kind == "stream":
            text = out.get("text")
            if not isinstance(text, str):
                return
            if self.items and self.items[-1].get("output_type") == "stream" and self.items[-1].get("name") == out.get("name"):
                prev = self.items[-1]
                if len(prev["text"]) < MAX_OUTPUT_CHARS:
                    prev["text"] = _cut(prev["text"] + text)
                return
            out["text"] = _cut(text)
        elif kind == "error":
            out["ename"], out["evalue"] = str(out.get("ename", ""))[:200], str(out.get("evalue", ""))[:2000]
            tb = out.get("traceback")
            out["traceback"] = [str(t)[:4000] for t in tb[-40:]] if isinstance(tb, list) else []
        elif len(json.dumps(out.get("data", {}), default=str)) > MAX_OUTPUT_BYTES:
            self.dropped += 1
            return
        if len(self.items) >= MAX_OUTPUTS:
            self.dropped += 1
            return
        self.items.append(out)

    def result(self) -> list:
        if self.dropped:
            self.items.append(nbformat.v4.new_output("stream", name="stderr",
                                                     text=f"… [проверяющий: отброшено выводов: {self.dropped}]\n"))
        return self.items


def _cut(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + "\n… [вывод обрезан]\n"


def with_mark(source: str, call: str) -> str:
    """``source`` whose last line reports completion through ``call`` (``guard.mark('nonce'`` without ``)``).

    A final expression is wrapped (``call, (expr))``) so that it is displayed as before; otherwise the call is
    added as a last line. Line numbers of the student-visible code do not change.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source + f"\n{call})"
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return source.rstrip() + f"\n{call})"
    node = tree.body[-1].value
    lines = source.splitlines(keepends=True)

    def offset(lineno: int, col: int) -> int:  # ast columns are UTF-8 byte offsets
        return sum(len(line) for line in lines[:lineno - 1]) + len(lines[lineno - 1].encode()[:col].decode())

    start, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
    return source[:start] + f"{call}, (" + source[start:end] + "))" + source[end:]


class KernelRun:
    """One kernel in one sandbox; :meth:`start`, then :meth:`execute` cells, then :meth:`stop`."""

    def __init__(self, sandbox: Sandbox, *, cell_timeout: int, total_timeout: int, log: Path,
                 startup_timeout: int = 120) -> None:
        self.sb = sandbox
        self.cell_timeout = cell_timeout
        self.total_deadline = time.monotonic() + total_timeout
        self.total_timeout = total_timeout
        self.startup_timeout = startup_timeout
        self.log_path = log
        self.kernel_log = sandbox.root / "kernel.log"
        self.key = secrets.token_bytes(32)
        self.guard_key = secrets.token_bytes(32)
        self.guard_name = f"_tbg_{secrets.token_hex(6)}"
        self.kc = None
        self.kernel_pid: int | None = None
        self.calls = 0
        self.events: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def note(self, text: str) -> None:
        self.events.append(f"[{time.strftime('%H:%M:%S')}] {text}")

    def _connection(self, ip: str) -> dict:
        return {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5, "ip": ip,
                "key": self.key.hex(), "transport": "ipc", "signature_scheme": "hmac-sha256", "kernel_name": "python3"}

    def start(self) -> Exec:
        from jupyter_client.blocking import BlockingKernelClient

        conn_inside = f"{self.sb.inside('conn')}/kernel.json"
        (self.sb.outside("conn") / "kernel.json").write_text(json.dumps(self._connection(f"{self.sb.inside('conn')}/k")))
        safe = ["-P"] if sys.version_info >= (3, 11) else []  # no working folder on sys.path
        argv = [sys.executable, *safe, "-c", KERNEL_BOOT, "-f", conn_inside, "--HistoryManager.enabled=False",
                "--InteractiveShellApp.ignore_cwd=True"]
        self.sb.start(argv, self.kernel_log)
        self.note(f"kernel started ({'bubblewrap sandbox' if self.sb.sandboxed else 'NO SANDBOX (fallback)'})")
        kc = BlockingKernelClient()
        kc.load_connection_info(self._connection(str(self.sb.outside("conn") / "k")))
        deadline = time.monotonic() + self.startup_timeout
        while not (self.sb.outside("conn") / "k-1").exists():
            if not self.sb.alive() or self.sb.check_limits() or time.monotonic() > deadline:
                return Exec("dead", self.sb.problem or "the kernel did not start (see run.log)")
            time.sleep(0.05)
        kc.start_channels(hb=False)
        self.kc = kc
        msg_id = kc.kernel_info()
        while True:
            if not self.sb.alive() or self.sb.check_limits() or time.monotonic() > deadline:
                return Exec("dead", self.sb.problem or "the kernel did not answer (see run.log)")
            try:
                reply = kc.get_shell_msg(timeout=0.2)
            except queue.Empty:
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        self._find_kernel_pid()
        while True:  # drain the start-up IOPub messages
            try:
                kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                break
        return Exec("ok")

    def _find_kernel_pid(self) -> None:
        import psutil

        for pid in self.sb.processes():
            try:
                cmd = psutil.Process(pid).cmdline()
                if KERNEL_BOOT in cmd[1:4] and cmd[1] in ("-P", "-c"):
                    self.kernel_pid = pid
                    return
            except psutil.Error:
                pass

    def stop(self) -> None:
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass
        self.sb.kill()
        log = self.kernel_log.read_bytes()[-200_000:] if self.kernel_log.is_file() else b""
        with open(self.log_path, "ab") as f:
            f.write(("\n".join(self.events) + "\n").encode())
            f.write(b"\n----- kernel stdout/stderr (written by the student's processes; last 200 KB) -----\n")
            f.write(log)

    # ------------------------------------------------------------------ execution

    def execute(self, code: str, *, silent: bool = False, user_expressions: dict | None = None,
                timeout: float | None = None) -> Exec:
        """Run ``code``; wait for its reply and its IOPub idle under the timeouts and the sandbox's limits."""
        t0 = time.monotonic()
        if not self.sb.alive():
            return Exec("dead", self.sb.problem or "the kernel is not running")
        kc = self.kc
        msg_id = kc.execute(code, silent=silent, store_history=not silent, user_expressions=user_expressions or {},
                            allow_stdin=False, stop_on_error=False)
        outs = _Outputs()
        reply: dict | None = None
        idle = False
        deadline = t0 + (timeout or self.cell_timeout)
        interrupted = False
        last_check = 0.0
        while reply is None or not idle:
            now = time.monotonic()
            if now - last_check > 0.25:
                last_check = now
                if self.sb.check_limits():
                    return Exec("limit", self.sb.problem, outs.result(), seconds=now - t0)
                if not self.sb.alive() or (self.kernel_pid and not _pid_alive(self.kernel_pid)):
                    self.sb.kill()
                    return Exec("dead", "the kernel died (killed or crashed)", outs.result(), seconds=now - t0)
            if now > self.total_deadline:
                self.sb.kill()
                return Exec("total-timeout", f"total timeout ({self.total_timeout} s) reached", outs.result(),
                            seconds=now - t0)
            if now > deadline:
                if interrupted:
                    self.sb.kill()
                    return Exec("timeout", f"the cell ran longer than {timeout or self.cell_timeout} s and did not "
                                "stop on interrupt; the kernel was killed", outs.result(), seconds=now - t0)
                self._interrupt()
                interrupted = True
                deadline = now + INTERRUPT_GRACE
            try:
                msg = kc.get_iopub_msg(timeout=0.05)
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    if msg["header"].get("msg_type") == "status" and msg["content"].get("execution_state") == "idle":
                        idle = True
                    else:
                        outs.add(msg)
                continue
            except queue.Empty:
                pass
            except Exception:  # noqa: BLE001 - an unreadable message is skipped
                continue
            if reply is None:
                try:
                    msg = kc.get_shell_msg(timeout=0.05)
                    if msg.get("parent_header", {}).get("msg_id") == msg_id:
                        reply = msg.get("content") or {}
                except queue.Empty:
                    pass
                except Exception:  # noqa: BLE001
                    pass
        seconds = time.monotonic() - t0
        content = reply if isinstance(reply, dict) else {}
        ue = content.get("user_expressions") if isinstance(content.get("user_expressions"), dict) else {}
        if interrupted:
            return Exec("timeout", f"the cell ran longer than {timeout or self.cell_timeout} s and was interrupted",
                        outs.result(), ue, seconds)
        if content.get("status") != "ok":
            err = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
            return Exec("error", str(err)[:500], outs.result(), ue, seconds)
        errors = [o for o in outs.items if o.get("output_type") == "error"]
        if errors:
            return Exec("error", f"{errors[0]['ename']}: {errors[0]['evalue']}"[:500], outs.result(), ue, seconds)
        return Exec("ok", "", outs.result(), ue, seconds)

    def _interrupt(self) -> None:
        if self.kernel_pid:
            try:
                os.kill(self.kernel_pid, signal.SIGINT)
            except OSError:
                pass

    # ------------------------------------------------------------------ the guard

    def _sign(self, text: str) -> str:
        return hmac.new(self.guard_key, text.encode(), hashlib.sha256).hexdigest()

    def _guard_call(self, call: str, expect: str, timeout: float = 120, code: str = "") -> Exec:
        """A guard call as a user expression of an empty request; its answer must be the guard's HMAC of ``expect``."""
        r = self.execute(code, silent=True, user_expressions={"proof": call, "threads": f"{self._ref}.stopped_threads()"},
                         timeout=timeout)
        if r.status != "ok":
            return r
        value, error = r.expression("proof")
        if error and error != "no answer":  # the guard ran and raised
            return Exec("guard-error", f"the grader's guard failed ({expect.split(':')[0]}): {error}", r.outputs,
                        r.user_expressions, r.seconds)
        if not hmac.compare_digest(str(value), self._sign(expect)):
            return Exec("tampered", f"the grader's guard call did not run ({expect.split(':')[0]}): the kernel's "
                        "execution was hijacked", r.outputs, r.user_expressions, r.seconds)
        return r

    @property
    def _ref(self) -> str:
        return f"__import__('sys').modules[{self.guard_name!r}]"

    def install_guard(self, packages: list[str], preimport: list[str]) -> Exec:
        """Before any student code: load the guard (a module not importable from disk) and take the first snapshot."""
        code = (
            "def __tbg_install():\n"
            "    import sys, types\n"
            f"    m = types.ModuleType({self.guard_name!r})\n"
            f"    exec(compile({GUARD_SOURCE!r}, '<grader guard>', 'exec'), m.__dict__)\n"
            f"    sys.modules[{self.guard_name!r}] = m\n"
            "__tbg_install()\n"
            "del __tbg_install\n"
        )
        call = f"{self._ref}.install({self.guard_key.hex()!r}, {sorted(packages)!r}, {list(preimport)!r})"
        return self._guard_call(call, "install", timeout=max(self.cell_timeout, 300), code=code)

    def snapshot(self, names: list[str]) -> Exec:
        self.calls += 1
        return self._guard_call(f"{self._ref}.snapshot({self.calls}, {sorted(names)!r})", f"snapshot:{self.calls}")

    def reset(self, names: list[str], unshadow: list[str]) -> Exec:
        self.calls += 1
        return self._guard_call(f"{self._ref}.reset({self.calls}, {sorted(names)!r}, {sorted(unshadow)!r})",
                                f"reset:{self.calls}")

    def run_locked(self, source: str) -> Exec:
        """Run a handed-out cell; "ok" only if its last line ran (the guard's mark, proved by HMAC)."""
        nonce = secrets.token_hex(12)
        code = with_mark(source, f"{self._ref}.mark({nonce!r}")
        r = self.execute(code, user_expressions={"proof": f"{self._ref}.proof({nonce!r})",
                                                 "threads": f"{self._ref}.stopped_threads()"})
        if r.status == "ok" and not hmac.compare_digest(str(r.expression("proof")[0]), self._sign(f"mark:{nonce}")):
            return Exec("tampered", "the cell reported success but its last line never ran: the kernel's execution "
                        "was hijacked", r.outputs, r.user_expressions, r.seconds)
        return r


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False
