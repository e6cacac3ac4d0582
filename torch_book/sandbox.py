"""Run one untrusted process tree in a sandbox, and make sure nothing of it outlives the sandbox.

Where bubblewrap works (``apt-get install bubblewrap``) the tree gets its own user, PID, network, IPC,
UTS and cgroup namespaces, a fresh ``/proc``, no network, no further user namespaces, and sees only
read-only copies of the system, the Python environment and what the caller binds, plus one private
writable folder; it dies with its parent, and every process in it dies when it is killed (PID 1 of the
namespace goes). Elsewhere the fallback is a supervisor process (a child subreaper) that kills every
descendant when the run ends: weaker, and :func:`probe` says why bubblewrap was not used.

Memory: the resident memory (PSS) of the whole tree is watched and the tree is killed over the limit;
where a delegated cgroup v2 with the memory controller is available, ``memory.max`` enforces it too.
Disk: the writable folder's size is watched the same way; one file is capped by ``RLIMIT_FSIZE``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

BWRAP = "bwrap"
INSIDE_ROOT = "/sandbox"  # the writable folder, as the sandbox sees it
SANDBOX_UID = 1000

# Runs before the sandboxed command (``python -I -S``: nothing imported from a writable place). In bwrap mode
# it sets the limits and execs bwrap; in fallback mode it becomes the supervisor: a child subreaper that
# starts the command and, when the command ends or the grader says so, kills every process left below it.
_LAUNCHER = r"""
import json, os, resource, signal, sys
spec = json.loads(sys.argv[1]); argv = sys.argv[2:]
for name, value in spec["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
if spec.get("cgroup"):
    with open(spec["cgroup"] + "/cgroup.procs", "w") as f:
        f.write(str(os.getpid()))
if not spec.get("supervise"):
    os.execvp(argv[0], argv)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of the tree become our children
libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG: the grader died -> clean up
me = os.getpid()

def descendants():
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, "rb") as f:
                    stat = f.read()
                parent[int(entry)] = int(stat.rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, frontier = [], {me}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in out}
        out.extend(frontier)
    return out

def finish(*_):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for _ in range(200):
        procs = descendants()
        if not procs:
            break
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for p in procs:
                try:
                    os.kill(p, sig)
                except OSError:
                    pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
    os._exit(0)

signal.signal(signal.SIGTERM, finish)
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = os.fork()
if child == 0:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execvp(argv[0], argv)
while True:
    try:
        pid, _ = os.wait()
    except ChildProcessError:
        finish()
    if pid == child:
        finish()
"""


_INNER = ("import os, resource, sys; n = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_NPROC, (n, n)); "
          "os.execv(sys.argv[2], sys.argv[2:])")


@dataclass
class Limits:
    memory_mb: int = 6144  # resident memory (PSS) of the whole tree
    disk_mb: int = 2048  # the writable folder
    processes: int = 256  # processes and threads of the tree
    file_mb: int = 1024  # one file
    open_files: int = 4096


@dataclass
class Bind:
    outside: Path
    inside: str
    writable: bool = False


@dataclass
class Probe:
    mode: str  # "bwrap" or "none"
    reason: str  # why bubblewrap is not used ("" when it is)
    cgroup: Path | None = None  # a delegated cgroup v2 folder we may create children in

    @property
    def loud(self) -> str:
        if self.mode == "bwrap":
            return ""
        return ("ПЕСОЧНИЦА ВЫКЛЮЧЕНА: код студентов выполняется без bubblewrap "
                f"({self.reason}); изоляция слабее — см. README, раздел «Проверяющему».")


def _python_roots() -> list[Path]:
    """Folders the kernel's Python needs: the environment, its base installation, the real executable's prefix."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix),
             Path(os.path.realpath(sys.executable)).parent.parent}
    out: list[Path] = []
    for r in sorted(roots, key=lambda p: len(p.parts)):
        r = r.resolve()
        if r in (Path("/"), Path("/usr")) or any(r.is_relative_to(o) for o in out) or r.is_relative_to("/usr"):
            continue
        out.append(r)
    return out


_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts", "mime.types",
        "nsswitch.conf", "timezone", "matplotlibrc")


def _system_args() -> list[str]:
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in _ETC:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    if os.path.isdir("/sys"):
        args += ["--ro-bind", "/sys", "/sys"]
    for dev in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri")):
        args += ["--dev-bind", dev, dev]  # CUDA inside the sandbox
    return args


def _python_args() -> list[str]:
    """Read-only binds of the Python environment. They go after the private /tmp: a virtual environment
    under /tmp (a CI checkout made by mktemp) would otherwise be hidden by it."""
    args: list[str] = []
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    return args


_NAMESPACES = ["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns",
               "--die-with-parent", "--new-session", "--hostname", "sandbox"]


@cache
def probe(want: str = "auto") -> Probe:
    """Can bubblewrap create the namespaces here? ``want``: auto, bwrap (required) or none."""
    cgroup = _cgroup_v2_parent()
    if want == "none":
        return Probe("none", "выключена ключом --sandbox none", cgroup)
    exe = shutil.which(BWRAP)
    if exe is None:
        reason = "bubblewrap не установлен: apt-get install bubblewrap"
    else:
        cmd = [exe, *_NAMESPACES, *_system_args(), "--tmpfs", "/tmp", *_python_args(), "--proc", "/proc",
               "--dev", "/dev", "--",
               os.path.realpath(sys.executable), "-I", "-S", "-c", "import os; print(os.getpid())"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            ok = r.returncode == 0 and r.stdout.strip() == "2"
            reason = "" if ok else f"bwrap не смог создать пространства имён: {(r.stderr or r.stdout).strip()[:300]}"
        except (OSError, subprocess.TimeoutExpired) as e:
            reason = f"bwrap не запускается: {e}"
    if not reason:
        return Probe("bwrap", "", cgroup)
    if want == "bwrap":
        raise SystemExit(f"--sandbox bwrap: {reason}")
    return Probe("none", reason, cgroup)


# ----------------------------------------------------------------------------- cgroup v2 (where delegated)

CGROUP_FS = Path("/sys/fs/cgroup")


def _cgroup_v2_parent(fs: Path | None = None, proc_self_cgroup: str | None = None) -> Path | None:
    """A cgroup v2 folder with the memory controller we may create children in, or None.

    Our own cgroup is used when its ``cgroup.subtree_control`` already has ``memory`` (delegated to us, e.g.
    ``systemd-run --user -p Delegate=yes``); otherwise, when it is writable and we are its only process, we move
    ourselves into a leaf ``grader`` and enable memory+pids for the children (the "no internal processes" rule).
    """
    fs = fs or CGROUP_FS
    try:
        controllers = (fs / "cgroup.controllers").read_text().split()
        text = proc_self_cgroup if proc_self_cgroup is not None else Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    if "memory" not in controllers:
        return None
    rel = next((line[3:] for line in text.splitlines() if line.startswith("0::")), None)
    if rel is None:
        return None
    mine = fs / rel.lstrip("/")
    try:
        if "memory" in (mine / "cgroup.subtree_control").read_text().split() and os.access(mine, os.W_OK):
            return mine
        if not os.access(mine, os.W_OK) or "memory" not in (mine / "cgroup.controllers").read_text().split():
            return None
        procs = (mine / "cgroup.procs").read_text().split()
        if procs != [str(os.getpid())]:
            return None
        leaf = mine / "grader"
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        (mine / "cgroup.subtree_control").write_text("+memory +pids")
        return mine
    except OSError:
        return None


# ----------------------------------------------------------------------------- one sandboxed run


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def folder_size(path: Path, limit_entries: int = 200_000) -> tuple[int, int]:
    """(bytes, entries) under ``path``, counting at most ``limit_entries`` entries."""
    total = entries = 0
    stack = [str(path)]
    while stack and entries < limit_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    entries += 1
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        else:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        pass
        except OSError:
            pass
    return total, entries


@dataclass
class Sandbox:
    """A private writable folder and (after :meth:`start`) one process tree running in it."""

    root: Path  # private folder outside; only ``root/rw`` is visible (writable) inside
    probe: Probe
    limits: Limits = field(default_factory=Limits)
    binds: list[Bind] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    known: dict[int, int] = field(default_factory=dict)  # pid -> start time (ticks) of every process seen in the tree
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds last seen
    problem: str = ""  # why the tree was killed by a limit ("memory limit: …")
    peak_bytes: int = 0
    cgroup: Path | None = None
    _last_disk: float = 0.0

    def __post_init__(self) -> None:
        self.rw = self.root / "rw"
        for sub in ("home", "work", "tmp", "conn", "shm"):
            (self.rw / sub).mkdir(parents=True, exist_ok=True)
        self.rw.chmod(0o777)
        for sub in self.rw.iterdir():
            sub.chmod(0o777)

    @property
    def sandboxed(self) -> bool:
        return self.probe.mode == "bwrap"

    def inside(self, sub: str) -> str:
        """The path of ``rw/<sub>`` as the sandboxed process sees it."""
        return f"{INSIDE_ROOT}/{sub}" if self.sandboxed else str(self.rw / sub)

    def outside(self, sub: str) -> Path:
        return self.rw / sub

    def _bwrap_argv(self, argv: list[str], cwd: str) -> list[str]:
        etc = self.root / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "passwd").write_text(f"student:x:{SANDBOX_UID}:{SANDBOX_UID}::{INSIDE_ROOT}/home:/bin/sh\n"
                                    "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n")
        (etc / "group").write_text(f"student:x:{SANDBOX_UID}:\nnogroup:x:65534:\n")
        (etc / "hosts").write_text("127.0.0.1 localhost sandbox\n::1 localhost\n")
        args = [shutil.which(BWRAP) or BWRAP, *_NAMESPACES, *_system_args()]
        for name in ("passwd", "group", "hosts"):
            args += ["--ro-bind", str(etc / name), f"/etc/{name}"]
        for b in self.binds:
            args += ["--bind" if b.writable else "--ro-bind", str(b.outside), b.inside]
        args += ["--bind", str(self.rw), INSIDE_ROOT, "--bind", str(self.rw / "tmp"), "/tmp", *_python_args(),
                 "--proc", "/proc", "--dev", "/dev", "--bind", str(self.rw / "shm"), "/dev/shm",
                 "--chdir", cwd, "--", *argv]
        return args

    def start(self, argv: list[str], log: Path, cwd: str = "work") -> None:
        """Start ``argv`` (paths as seen inside) with stdout/stderr to ``log``; ``cwd`` is a folder under rw."""
        lim = self.limits
        rlimits = {"RLIMIT_FSIZE": lim.file_mb << 20, "RLIMIT_CORE": 0, "RLIMIT_NOFILE": lim.open_files}
        spec: dict = {"rlimits": rlimits, "supervise": not self.sandboxed}
        if self.probe.cgroup is not None:
            try:
                self.cgroup = self.probe.cgroup / f"tbgrade-{os.getpid()}-{id(self):x}"
                self.cgroup.mkdir()
                (self.cgroup / "memory.max").write_text(str(lim.memory_mb << 20))
                for name, value in (("memory.swap.max", "0"), ("pids.max", str(lim.processes))):
                    if (self.cgroup / name).exists():
                        (self.cgroup / name).write_text(value)
                spec["cgroup"] = str(self.cgroup)
            except OSError:
                self.cgroup = None
        if self.sandboxed:  # the process limit is set inside: counted per user namespace (not for uid 0)
            inner = [os.path.realpath(sys.executable), "-I", "-S", "-c", _INNER, str(lim.processes), *argv]
            cmd = self._bwrap_argv(inner, self.inside(cwd))
        else:
            cmd = argv
        launcher = [os.path.realpath(sys.executable), "-I", "-S", "-c", _LAUNCHER, json.dumps(spec), *cmd]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(launcher, cwd=self.outside(cwd) if not self.sandboxed else self.root,
                                         env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, close_fds=True)
        st = _stat(self.proc.pid)
        if st is not None:
            self.known[self.proc.pid] = st[2]

    # ------------------------------------------------------------------ watching

    def processes(self) -> list[int]:
        """Pids of the tree now (the launcher/bwrap and everything below it); remembers them for :meth:`kill`.

        Walks ``/proc/<pid>/task/<tid>/children`` from the root: no scan of every process on the machine.
        """
        if self.proc is None:
            return []
        pids = []
        for pid in _tree(self.proc.pid):
            st = _stat(pid)
            if st is None:
                continue
            self.known.setdefault(pid, st[2])
            self.cpu[pid] = st[1]
            pids.append(pid)
        return pids

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the tree's processes, as last seen (children already reaped are counted by their parents)."""
        return sum(self.cpu.values())

    def memory_bytes(self, pids: list[int] | None = None) -> int:
        if self.cgroup is not None:
            try:
                return int((self.cgroup / "memory.current").read_text())
            except (OSError, ValueError):
                pass
        return sum(_pss_bytes(pid) for pid in (self.processes() if pids is None else pids))

    def check_limits(self) -> str:
        """Kill the tree and say why when it is over a limit; "" while it is within them."""
        if self.proc is None or self.problem:
            return self.problem
        pids = self.processes()
        used = self.memory_bytes(pids)
        self.peak_bytes = max(self.peak_bytes, used)
        if used > self.limits.memory_mb << 20 or self._cgroup_oom():
            self.problem = (f"memory limit: the run used {max(used, self.peak_bytes) / 2**20:.0f} MB "
                            f"(limit --memory-mb {self.limits.memory_mb})")
        elif (n := len(pids)) > self.limits.processes:
            self.problem = f"process limit: {n} processes (limit {self.limits.processes})"
        elif time.monotonic() - self._last_disk > 2:
            self._last_disk = time.monotonic()
            size, entries = folder_size(self.rw)
            if size > self.limits.disk_mb << 20 or entries >= 200_000:
                self.problem = f"disk limit: {size / 2**20:.0f} MB in {entries} files (limit --disk-mb {self.limits.disk_mb})"
        if self.problem:
            self.kill()
        return self.problem

    def _cgroup_oom(self) -> bool:
        if self.cgroup is None:
            return False
        try:
            events = dict(line.split() for line in (self.cgroup / "memory.events").read_text().splitlines())
            return int(events.get("oom_kill", 0)) > 0
        except (OSError, ValueError):
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ------------------------------------------------------------------ ending

    def _alive_known(self) -> list[int]:
        alive = []
        for pid, started in self.known.items():
            st = _stat(pid)
            if st is not None and st[2] == started and st[3] not in "ZX":
                alive.append(pid)
        return alive

    def kill(self) -> None:
        """Kill every process of the tree (and any it left behind); wait for them; never hangs."""
        if self.proc is None:
            return
        self.processes()
        if self.cgroup is not None:
            try:
                (self.cgroup / "cgroup.kill").write_text("1")
            except OSError:
                pass
        if not self.sandboxed and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)  # the supervisor kills its descendants and exits
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            victims = self._alive_known()
            if not victims:
                break
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
            self.proc.poll()  # reap the launcher; the others are reaped by their parents or by init
            self.processes()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.cgroup is not None:
            try:
                self.cgroup.rmdir()
            except OSError:
                pass

    def leftovers(self) -> list[int]:
        """Processes of this tree still alive (should be none after :meth:`kill`)."""
        return self._alive_known()

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, int, str] | None:
    """(parent pid, CPU seconds, start time in ticks, state) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[19]), fields[0].decode()
    except (OSError, ValueError, IndexError):
        return None


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from the kernel's per-thread ``children`` lists (psutil where they are missing)."""
    if not os.path.exists(f"/proc/{root}/task/{root}/children"):
        import psutil

        try:
            r = psutil.Process(root)
            return [root, *(p.pid for p in r.children(recursive=True))]
        except psutil.Error:
            return []
    out, stack, seen = [], [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        stack.extend(int(x) for x in f.read().split())
                except (OSError, ValueError):
                    pass
        except OSError:
            pass
    return out
