"""The grader's guard inside the student's kernel: puts back what student code can hijack before trusted cells.

The grader does not import this module for itself: it sends its source to the kernel before any student
code runs, where it becomes a module that is not importable from disk. Standard library only.

Before each handed-out (locked) cell that follows student code, :func:`reset` puts back the state saved
after the last trusted cell (:func:`snapshot`), or at kernel start:

* IPython's input transformers (cleanup, line, token, post), AST transformers, event callbacks, compiler,
  display hooks, user namespace, the kernel's message handlers, and methods student code overrode on the
  shell, the kernel or their classes;
* tracing, profiling and monitoring hooks, timers and signal handlers, ``sys.stdout``/``stderr``/hooks,
  ``sys.meta_path``, ``sys.path_hooks``, ``sys.path``; Python threads started by student code are stopped;
* in the modules of the packages the handed-out cells import (plus builtins, IPython, ipykernel,
  traitlets, torch_book): ``sys.modules`` entries, module attributes, methods of their classes, the code of
  their functions; torch's function/dispatch modes, global module hooks and default dtype;
* the names the locked cell reads that only handed-out cells bind (``assert_close``, ``torch``, ``cfg``…),
  the attributes of the course's own objects among them, and builtins the student shadowed.

The grader calls :func:`snapshot` and :func:`reset` as *user expressions* of an empty execute request, which
IPython evaluates directly (no input or AST transformer, no cell event sees them); each answers with an HMAC
the grader checks. A locked cell's completion is proved by :func:`mark` with a nonce only the grader knows in
advance, and :func:`proof` answers with its HMAC. Student code runs in the same
interpreter, so a hijack written against this very guard is not excluded; the report flags such code.
"""

import builtins
import hashlib
import hmac
import importlib
import signal
import sys
import threading
import types

_MISSING = object()
_MACHINERY = frozenset({"IPython", "ipykernel", "traitlets", "comm"})
# Threads whose class or target comes from these packages are the libraries' own, not the student's
_LIBRARY_THREADS = frozenset({"zmq", "ipykernel", "IPython", "jupyter_client", "tornado", "comm", "torch",
                              "tensorboard", "tqdm", "matplotlib", "wandb", "onnxruntime", "PIL", "sklearn",
                              "joblib", "threadpoolctl"})


def _library_thread(t) -> bool:
    cls = type(t)
    if cls.__module__.partition(".")[0] in _LIBRARY_THREADS:
        return True
    target = getattr(t, "_target", None)
    module = getattr(target, "__module__", None) if type(target) is types.FunctionType else None
    return cls.__module__ == "threading" and isinstance(module, str) and module.partition(".")[0] in _LIBRARY_THREADS
_ALWAYS = frozenset({"builtins", "torch_book"}) | _MACHINERY
GUARD = None


def _method_like(value) -> bool:
    t = type(value)
    return callable(value) or hasattr(t, "__get__")


def _dict_of(obj):
    try:
        return object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return None


class Guard:
    def __init__(self, key: bytes, packages, preimport) -> None:
        self.key = key
        self.marks: set[str] = set()
        self.last = ""
        self.stopped_threads = 0
        self.stopped_names: list[str] = []
        self.packages = set(packages) | _ALWAYS
        for name in preimport:
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - the cell that imports it will say why
                pass
        try:
            import tqdm

            tqdm.tqdm.monitor_interval = 0  # no monitor thread: every thread student code starts is stopped
        except BaseException:  # noqa: BLE001
            pass
        from IPython.core.interactiveshell import InteractiveShell

        ip = InteractiveShell.instance()
        self.ip = ip
        self.kernel = getattr(ip, "kernel", None)
        self.saved_names: dict = {}
        self.saved_objects: dict = {}
        self.threads: set = set()
        self._snap_all()

    # ------------------------------------------------------------------ snapshots

    def _snap_shell(self) -> None:
        ip = self.ip
        self.tm = ip.input_transformer_manager
        self.tm_lists = {n: list(getattr(self.tm, n)) for n in ("cleanup_transforms", "line_transforms",
                                                                "token_transformers") if hasattr(self.tm, n)}
        self.ast_transformers = list(ip.ast_transformers)
        self.post = list(ip.input_transformers_post)
        self.events = ip.events
        self.callbacks = {k: list(v) for k, v in ip.events.callbacks.items()}
        self.attrs = {n: getattr(ip, n) for n in ("compile", "user_ns", "user_module", "displayhook",
                                                  "display_pub", "display_trap", "builtin_trap", "events")
                      if hasattr(ip, n)}
        self.main = sys.modules.get("__main__")
        self.sys_attrs = {n: getattr(sys, n) for n in ("stdout", "stderr", "stdin", "displayhook", "excepthook",
                                                        "breakpointhook", "unraisablehook") if hasattr(sys, n)}
        self.handlers = {}
        if self.kernel is not None:
            for n in ("shell_handlers", "control_handlers"):
                if isinstance(getattr(self.kernel, n, None), dict):
                    self.handlers[n] = dict(getattr(self.kernel, n))
        objects = [ip, self.kernel, self.tm, ip.compile, ip.events, ip.displayhook, ip.display_pub,
                   getattr(self.kernel, "session", None)]
        self.obj_vars = []
        for obj in objects:
            d = _dict_of(obj) if obj is not None else None
            if d is not None:
                self.obj_vars.append((obj, {k: v for k, v in d.items() if _method_like(v)}))
        self.signals = {}
        for sig in signal.valid_signals():
            try:
                self.signals[sig] = signal.getsignal(sig)
            except (ValueError, OSError):
                pass

    def _snap_all(self) -> None:
        self._snap_shell()
        mods, classes, funcs = {}, {}, {}
        for name, m in list(sys.modules.items()):
            if name.partition(".")[0] not in self.packages or not issubclass(type(m), types.ModuleType):
                continue
            d = _dict_of(m)
            if d is None:
                continue
            machinery = name.partition(".")[0] in _MACHINERY
            mods[name] = (m, type(m), dict(d), machinery)
            for v in list(d.values()):
                tv = type(v)
                if issubclass(tv, type):
                    vd = type.__dict__["__dict__"].__get__(v)
                    if vd.get("__module__") == name and id(v) not in classes:
                        classes[id(v)] = (v, {k: x for k, x in vd.items() if _method_like(x)}, frozenset(vd))
                        for x in vd.values():
                            if type(x) is types.FunctionType:
                                funcs[id(x)] = (x, x.__code__, x.__defaults__, x.__kwdefaults__)
                elif tv is types.FunctionType:
                    funcs[id(v)] = (v, v.__code__, v.__defaults__, v.__kwdefaults__)
        self.modules, self.classes, self.funcs = mods, classes, funcs
        self.meta_path, self.path_hooks, self.sys_path = list(sys.meta_path), list(sys.path_hooks), list(sys.path)
        self.threads |= set(sys._current_frames())
        self.torch_state = self._torch_state()

    def _torch_state(self):
        torch = sys.modules.get("torch")
        if torch is None:
            return None
        state = {"dtype": torch.get_default_dtype()}
        try:
            from torch.overrides import _get_current_function_mode_stack
            from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

            state["function_modes"] = list(_get_current_function_mode_stack())
            state["dispatch_modes"] = list(_get_current_dispatch_mode_stack())
        except Exception:  # noqa: BLE001 - older/newer torch: the class restore still applies
            pass
        return state

    def snapshot(self, names) -> None:
        """After trusted cells: remember the bindings and the state the next reset puts back."""
        ns = self.ip.user_ns
        for n in names:
            if n in ns:
                v = ns[n]
                self.saved_names[n] = v
                t = type(v)
                d = _dict_of(v)
                if (d is not None and not issubclass(t, (type, types.ModuleType, types.FunctionType))
                        and str(type.__dict__["__module__"].__get__(t)).startswith("torch_book")):
                    self.saved_objects[id(v)] = (v, dict(d))
        self._snap_all()

    # ------------------------------------------------------------------ reset

    def reset(self, names, unshadow) -> None:
        self._stop_hooks()
        self._stop_threads()
        self._restore_modules()
        self._restore_sys()
        self._restore_shell()
        self._restore_torch()
        self._restore_names(names, unshadow)

    def _stop_hooks(self) -> None:
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        mon = getattr(sys, "monitoring", None)
        if mon is not None:
            for tool in range(6):
                try:
                    if mon.get_tool(tool) is not None:
                        mon.set_events(tool, 0)
                        mon.free_tool_id(tool)
                except Exception:  # noqa: BLE001
                    pass
        for which in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"):
            if hasattr(signal, which):
                signal.setitimer(getattr(signal, which), 0)
        for sig, handler in self.signals.items():
            try:
                if signal.getsignal(sig) is not handler:
                    signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass

    def _stop_threads(self) -> None:
        import ctypes

        me = threading.get_ident()
        threads = {t.ident: t for t in threading.enumerate()}
        for ident, frame in list(sys._current_frames().items()):
            if ident == me or ident in self.threads:
                continue
            t = threads.get(ident)
            if t is not None and _library_thread(t):
                self.threads.add(ident)  # pyzmq's garbage collector, TensorBoard's writer, a DataLoader's pinning
                continue
            name = t.name if t is not None else "?"
            self.stopped_names.append(f"{name} ({frame.f_code.co_filename}:{frame.f_code.co_name})")
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(SystemExit))
            self.stopped_threads += 1

    def _restore_modules(self) -> None:
        for name, (m, mtype, snap, machinery) in self.modules.items():
            if sys.modules.get(name) is not m:
                sys.modules[name] = m
            if type(m) is not mtype:
                try:
                    m.__class__ = mtype
                except TypeError:
                    pass
            cur = _dict_of(m)
            for k, v in snap.items():
                if cur.get(k, _MISSING) is not v and (
                        _method_like(v) or issubclass(type(v), types.ModuleType) or
                        (not machinery and not k.startswith("_"))):
                    cur[k] = v
        for cls, snap, keys in self.classes.values():
            cur = type.__dict__["__dict__"].__get__(cls)
            for k, v in snap.items():
                if cur.get(k, _MISSING) is not v:
                    try:
                        setattr(cls, k, v)
                    except (TypeError, AttributeError):
                        pass
            if len(cur) != len(keys) or any(k not in keys for k in cur):
                for k in [k for k in cur if k not in keys]:
                    if any(k in type.__dict__["__dict__"].__get__(b) for b in cls.__mro__[1:]):
                        try:
                            delattr(cls, k)
                        except (TypeError, AttributeError):
                            pass
        for f, code, defaults, kwdefaults in self.funcs.values():
            if f.__code__ is not code:
                f.__code__ = code
            if f.__defaults__ is not defaults:
                f.__defaults__ = defaults
            if f.__kwdefaults__ is not kwdefaults:
                f.__kwdefaults__ = kwdefaults

    def _restore_sys(self) -> None:
        for n, v in self.sys_attrs.items():
            if getattr(sys, n, _MISSING) is not v:
                setattr(sys, n, v)
        if sys.meta_path != self.meta_path:
            sys.meta_path[:] = self.meta_path
        if sys.path_hooks != self.path_hooks:
            sys.path_hooks[:] = self.path_hooks
            sys.path_importer_cache.clear()
        if sys.path != self.sys_path:
            sys.path[:] = self.sys_path
            sys.path_importer_cache.clear()
        if self.main is not None and sys.modules.get("__main__") is not self.main:
            sys.modules["__main__"] = self.main

    def _restore_shell(self) -> None:
        ip = self.ip
        for obj, pristine in self.obj_vars:
            d = _dict_of(obj)
            for k in list(d):
                v = d[k]
                if k in pristine:
                    if v is not pristine[k]:
                        d[k] = pristine[k]
                elif _method_like(v) and hasattr(type(obj), k):
                    del d[k]
            for k, v in pristine.items():
                if k not in d:
                    d[k] = v
        for n, v in self.attrs.items():
            if getattr(ip, n, _MISSING) is not v:
                setattr(ip, n, v)
        for n, v in self.tm_lists.items():
            setattr(self.tm, n, list(v))
        if ip.input_transformer_manager is not self.tm:
            ip.input_transformer_manager = self.tm
        ip.ast_transformers = list(self.ast_transformers)
        ip.input_transformers_post = list(self.post)
        self.events.callbacks = {k: list(v) for k, v in self.callbacks.items()}
        if self.kernel is not None:
            if getattr(self.kernel, "shell", ip) is not ip:
                self.kernel.shell = ip
            for n, pristine in self.handlers.items():
                current = getattr(self.kernel, n)
                if current is not None and current != pristine:
                    current.clear()
                    current.update(pristine)

    def _restore_torch(self) -> None:
        state = self.torch_state
        torch = sys.modules.get("torch")
        if state is None or torch is None:
            return
        if torch.get_default_dtype() is not state["dtype"]:
            torch.set_default_dtype(state["dtype"])
        if "function_modes" in state:
            from torch.overrides import _get_current_function_mode_stack
            from torch.utils._python_dispatch import _get_current_dispatch_mode_stack, _pop_mode, _push_mode

            if list(_get_current_function_mode_stack()) != state["function_modes"]:
                while torch._C._len_torch_function_stack():
                    torch._C._pop_torch_function_stack()
                for mode in state["function_modes"]:
                    torch._C._push_on_torch_function_stack(mode)
            if list(_get_current_dispatch_mode_stack()) != state["dispatch_modes"]:
                while torch._C._len_torch_dispatch_stack():
                    _pop_mode()
                for mode in state["dispatch_modes"]:
                    _push_mode(mode)
        mm = sys.modules.get("torch.nn.modules.module")
        if mm is not None:
            for n in dir(mm):
                if n.startswith("_global_") and n.endswith("hooks") and isinstance(getattr(mm, n), dict):
                    getattr(mm, n).clear()

    def _restore_names(self, names, unshadow) -> None:
        ns = self.ip.user_ns
        for n in names:
            v = self.saved_names.get(n, _MISSING)
            if v is not _MISSING and ns.get(n, _MISSING) is not v:
                ns[n] = v
        for obj, d in self.saved_objects.values():
            cur = _dict_of(obj)
            if cur != d:
                cur.clear()
                cur.update(d)
        for n in unshadow:
            if n in ns and n not in self.saved_names:
                del ns[n]
        if ns.get("__builtins__") is not builtins:
            ns["__builtins__"] = builtins

    # ------------------------------------------------------------------ proofs

    def sign(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


def install(key_hex: str, packages, preimport) -> str:
    global GUARD
    GUARD = Guard(bytes.fromhex(key_hex), packages, preimport)
    return GUARD.sign("install")


def snapshot(n: int, names) -> str:
    """Called by the grader through a user expression: no input or AST transformer sees the call."""
    GUARD.snapshot(names)
    return GUARD.sign(f"snapshot:{n}")


def reset(n: int, names, unshadow) -> str:
    GUARD.reset(names, unshadow)
    return GUARD.sign(f"reset:{n}")


def mark(nonce: str, value=None):
    """Called by the last line of a locked cell: the cell ran to its end. Returns ``value`` (displayed as before)."""
    GUARD.marks.add(nonce)
    return value


def proof(nonce: str) -> str:
    return GUARD.sign(f"mark:{nonce}") if nonce in GUARD.marks else ""


def stopped_threads() -> str:
    return "; ".join(GUARD.stopped_names)
