"""The hostile and broken submissions the graders' tool must survive, as data.

Two homeworks: a tiny demo homework (no torch: process-level attacks are cheap to run) and the real
1_Basic and 3_Activation_Optimiz, whose notebooks are built at test time from the current student copy
and reference solution by replacing task cells (:mod:`corpus`), so edits of check cells do not break them.
Every entry says what it must score and with which status. ``MARK`` is in the command line of every
process a submission starts, so the test can prove none of them is left running.
"""

from __future__ import annotations

import copy
import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

MARK = "tbhostile"
SECRETS = {  # put into the grader's environment by the test; none may appear in any output
    "WANDB_API_KEY": "wandb-fake-0f9a8b7c",
    "GITHUB_TOKEN": "ghp_fake-1e2d3c4b",
    "DB_PASSWORD": "hunter2-fake-5a6b",
    "DATABASE_URL": "postgres://user:pass-fake-7c8d@db.example:5432/course",
    "MY_SERVICE_CREDS": "creds-fake-9e0f",
}

# ----------------------------------------------------------------------------- the demo homework

DEMO_SPEC = [
    ("intro", "md", "# ДЗ 0\nДемонстрационное задание.", []),
    ("setup", "code", "import math", []),
    ("task-1-statement", "md", "## Задание 1 (4 балла)\nНапишите square.", []),
    ("task-1", "code", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION", ["solution"]),
    ("task-1-check", "code", "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n"
                             "### END HIDDEN TESTS\nprint('Задание 1: ok')", ["check", "points-4"]),
    ("task-1-answer", "md", "### BEGIN SOLUTION\nКвадрат — это произведение числа на себя.\n### END SOLUTION",
     ["solution"]),
    ("task-2-statement", "md", "## Задание 2 (6 баллов)\nНапишите cube.", []),
    ("task-2", "code", "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION", ["solution"]),
    ("task-2-check", "code", "assert cube(2) == 8\nprint('Задание 2: ok')", ["check", "points-6"]),
    ("task-2-answer", "md", "Потому что.", ["solution"]),
]
SQUARE_OK = "def square(x):\n    return x * x"
CUBE_OK = "def cube(x):\n    return x ** 3"


def demo_source(setup: str = "import math") -> nbformat.NotebookNode:
    nb = new_notebook()
    for cid, kind, src, tags in DEMO_SPEC:
        cell = (new_code_cell if kind == "code" else new_markdown_cell)(setup if cid == "setup" else src)
        cell.id = cid
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def _daemon(code: str) -> str:
    """Python source that starts ``code`` as a detached process in a new session (MARK in its command line)."""
    return (f"import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', {code!r} + '  # {MARK}'], start_new_session=True)\n")


SPAWN_REPORT_WRITER = _daemon(  # rewrites this run's report.csv (its path given) for a minute
    "import time\n"
    "for _ in range(300):\n"
    "    try:\n        open('{OUT}/report.csv', 'w').write('hacked,10\\n')\n    except OSError:\n        pass\n"
    "    time.sleep(0.2)\n")
HOLD_STDOUT = ("import subprocess\n"
               f"subprocess.Popen(['sh', '-c', 'sleep 600; true {MARK}'], start_new_session=True)\n"
               f"subprocess.Popen(['sh', '-c', 'sleep 600; true {MARK}'])\n")
READ_SECRETS = (  # its own environment and that of every process above it, up to the grader (no others)
    "import os\n"
    "print(dict(os.environ))\n"
    "pid = os.getpid()\n"
    "while pid > 1:\n"
    "    pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
    "    try:\n        print('ANCESTOR', pid, open(f'/proc/{pid}/environ', 'rb').read()[:20000])\n"
    "    except OSError as e:\n        print('ANCESTOR', pid, e)\n"
    "    if b'torch_book.grade' in open(f'/proc/{pid}/cmdline', 'rb').read():\n        break\n"
)
PROGRESS_AND_KILL = (
    "import json, os, signal\n"
    "fake = {'cells': {f'task-{n}-check': {'ok': True, 'error': ''} for n in (1, 2)}, 'timeout': False}\n"
    "for name in ('progress.json', '../progress.json', '/tmp/progress.json'):\n"
    "    try:\n        open(name, 'w').write(json.dumps(fake))\n    except OSError:\n        pass\n"
    "for pid in (os.getppid(), os.getpgid(0)):\n"
    "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
    "os.kill(os.getpid(), signal.SIGKILL)\n"
)
REWRITE_PACKAGE = (  # the attack of the issue: make the NEXT student's untouched notebook score full marks
    "import os, torch_book\n"
    "pkg = os.path.dirname(torch_book.__file__)\n"
    "for name in ('grade.py', 'kernelrun.py', 'guard.py', '__init__.py', 'runtime.py'):\n"
    "    try:\n"
    "        with open(os.path.join(pkg, name), 'a') as f:\n"
    "            f.write('\\nraise SystemExit(\"tampered\")\\n')\n"
    "        print('REWROTE', name)\n"
    "    except OSError as e:\n"
    "        print('cannot write', name, type(e).__name__)\n"
)
PACKAGE_PROBE = (  # the same attack, harmless to the repository: a new module in the package folder
    "import os, torch_book\n"
    "try:\n"
    "    open(os.path.join(os.path.dirname(torch_book.__file__), 'zz_tamper_probe.py'), 'w').write('X = 1\\n')\n"
    "except OSError as e:\n"
    "    print('cannot write', type(e).__name__)\n"
)
FORGE_TRANSFORMER = (  # every check cell becomes its own success message
    "import re\n"
    "def forge(lines):\n"
    "    m = re.search(r\"print\\('(Задание \\d+: ok)'\\)\", ''.join(lines))\n"
    "    return [f'print({m[1]!r})\\n'] if m else lines\n"
    "get_ipython().input_transformers_cleanup.append(forge)\n"
)
HIJACK_EXECUTE = (  # every later cell "succeeds" without running
    "k = get_ipython().kernel\n"
    "async def fake(*args, **kwargs):\n"
    "    return {'status': 'ok', 'execution_count': 1, 'user_expressions': {}, 'payload': []}\n"
    "k.do_execute = fake\n"
)
FORGE_EVENTS = (  # a failing check reported as a success: errors cleared after the cell, traceback hidden
    "ip = get_ipython()\n"
    "def clear(result):\n"
    "    result.error_in_exec = None\n"
    "ip.events.register('post_run_cell', clear)\n"
    "ip.showtraceback = lambda *a, **k: None\n"
    "def square(x):\n    return x + 1\n"
)
FORK_MANY = ("import subprocess\n"
             f"procs = [subprocess.Popen(['sh', '-c', 'sleep 600; true {MARK}']) for _ in range(100)]\n"
             "import time; time.sleep(3)\n")
FILL_DISK = ("import time\n"
             "with open('big.bin', 'wb') as f:\n"
             "    for _ in range(24):\n        f.write(b'x' * (5 << 20))\n"
             "time.sleep(5)\n" + CUBE_OK)

# name: (cells to replace in the solved handed-out copy (None: delete the cell), expected (task-1, task-2, status))
DEMO = {
    "ivanov_correct": ({}, (4, 6, "ok")),
    "petrov_partial": ({"task-2": "def cube(x):\n    return 0"}, (4, 0, "failed")),
    "edited_check": ({"task-1": "raise NotImplementedError()", "task-1-check": "print('Задание 1: ok')"},
                     (0, 6, "failed")),
    "deleted_check": ({"task-2-check": None}, (4, 6, "ok")),
    "infinite_loop": ({"task-1": SQUARE_OK + "\n\nwhile True:\n    pass"}, (4, 6, "timeout")),
    "memory_hog": ({"task-1": "hog = []\nwhile True:\n    hog.append(b'x' * (50 << 20))"}, (0, 0, "memory limit")),
    "import_error": ({"task-1": "import no_such_module_xyz\n\n" + SQUARE_OK}, (0, 6, "failed")),
    "prints_megabytes": ({"task-1": "print('x' * 20_000_000)\n\n" + SQUARE_OK}, (4, 6, "ok")),
    "kills_kernel": ({"task-1": "import os, signal\n\nos.kill(os.getpid(), signal.SIGKILL)"}, (0, 0, "crashed")),
    "progress_json_kill": ({"task-1": PROGRESS_AND_KILL}, (0, 0, "crashed")),
    "daemon_rewrites_report": ({"task-1": SPAWN_REPORT_WRITER + SQUARE_OK}, (4, 6, "ok")),
    "stdout_holder": ({"task-1": HOLD_STDOUT + SQUARE_OK}, (4, 6, "ok")),
    "secrets_reader": ({"task-1": READ_SECRETS + SQUARE_OK}, (4, 6, "ok")),
    "rewrites_package": ({"task-1": REWRITE_PACKAGE + SQUARE_OK}, (4, 6, "ok")),
    "forges_with_transformer": ({"task-1": FORGE_TRANSFORMER + "def square(x):\n    return 0",
                                 "task-2": "def cube(x):\n    return 0"}, (0, 0, "failed")),
    "forges_with_events": ({"task-1": FORGE_EVENTS}, (0, 6, "failed")),
    "hijacks_execution": ({"task-1": HIJACK_EXECUTE}, (0, 0, "tampering")),
    "forks_many": ({"task-1": FORK_MANY + SQUARE_OK}, (0, 0, "crashed")),
    "fills_disk": ({"task-2": FILL_DISK}, (4, 0, "crashed")),
    "report.csv": ({}, (4, 6, "ok")),  # the file report.csv.ipynb: its folder must not clash with the report
    "dup": ({}, (4, 6, "ok")),  # dup.ipynb, dup-2.ipynb, a/dup.ipynb: three students, three folders
}
DEMO_FILES = {  # extra file names for one entry (relative paths in the submissions folder)
    "dup": ["dup.ipynb", "dup-2.ipynb", "a/dup.ipynb"],
}
FALLBACK = ["ivanov_correct", "kills_kernel", "progress_json_kill", "daemon_rewrites_report", "stdout_holder",
            "secrets_reader", "forges_with_transformer", "package_probe"]
FALLBACK_EXTRA = {"package_probe": ({"task-1": PACKAGE_PROBE + SQUARE_OK}, (0, 0, "tampering"))}


def demo_submission(student_nb, replace: dict[str, str], out: str = "") -> str:
    """The handed-out demo copy with both tasks solved, then ``replace`` applied; as JSON text."""
    nb = copy.deepcopy(student_nb)
    for cell in nb.cells:
        if cell.id == "task-1":
            cell.source = SQUARE_OK
        elif cell.id == "task-2":
            cell.source = CUBE_OK
        if replace.get(cell.id) is not None:
            cell.source = replace[cell.id].replace("{OUT}", out)
    nb.cells = [c for c in nb.cells if not (c.id in replace and replace[c.id] is None)]  # None: the cell deleted
    return nbformat.writes(nb)


def colab_copy(student_nb) -> str:
    """A Colab save: nbformat 4.0 without ids, Colab metadata, an added cell; both tasks solved."""
    d = json.loads(demo_submission(student_nb, {}))
    d["nbformat_minor"] = 0
    d["metadata"] = {"colab": {"name": "hw.ipynb", "provenance": []}, "kernelspec": {"name": "python3"}}
    for c in d["cells"]:
        c.pop("id")
        c["metadata"] = {"id": "x1", "colab": {"base_uri": "https://localhost/"}, "executionInfo": {"user": "me"}}
    d["cells"].insert(4, {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
                          "source": "print(square(5))"})
    return json.dumps(d)


# ----------------------------------------------------------------------------- 1_Basic and 3_Activation_Optimiz

# Wrong code that passes the checks only if the checks' names can be rebound (the issue: 8/10 on lesson 1).
BASIC_REBINDS = {
    "task-1": (
        "import torch, torch.testing\n"
        "def f(x):\n    return x\n\n"
        "def df_manual(x):\n    return torch.ones_like(x)\n\n"
        "assert_close = lambda *a, **k: None\n"
        "torch.testing.assert_close = assert_close\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.autograd.gradcheck = lambda *a, raise_exception=True, **k: raise_exception\n"
    ),
    "task-2": ("def derivative(fn, x):\n    return x.detach()\n\n"
               "def second_derivative(fn, x):\n    return x.detach()\n"),
    "task-3": ("def central_difference(fn, x, h):\n    return torch.zeros_like(x)\n\n"
               "class ManualGrad(torch.autograd.Function):\n"
               "    @staticmethod\n    def forward(ctx, x, fn, dfn):\n        return fn(x)\n\n"
               "    @staticmethod\n    def backward(ctx, grad_output):\n        return grad_output, None, None\n\n"
               "def with_manual_grad(fn, dfn):\n    return lambda x: ManualGrad.apply(x, fn, dfn)\n"),
    "task-4": ("def g(x):\n    return torch.stack([x[0], x[1]])\n\ndef phi(x):\n    return x.sum()\n\n"
               "def jacobian_manual(x):\n    return torch.zeros(2, 3, dtype=x.dtype)\n\n"
               "def hessian_manual(x):\n    return torch.zeros(3, 3, dtype=x.dtype)\n\n"
               "def jacobian_by_rows(fn, x):\n    return torch.zeros(2, 3, dtype=x.dtype)\n"),
}
# The same wrong code with IPython's machinery instead: transformers, AST transformers, events, tracebacks.
BASIC_IPYTHON = {
    "task-1": BASIC_REBINDS["task-1"].split("assert_close = ")[0] + (
        "import ast, re\n"
        "ip = get_ipython()\n"
        "def forge(lines):\n"
        "    m = re.search(r'print\\(\"(Задание [12]: проверки пройдены ✓)\"\\)', ''.join(lines))\n"
        "    return [f'print({m[1]!r})\\n'] if m else lines\n"
        "ip.input_transformers_cleanup.append(forge)\n"
        "class NoAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n        return ast.Pass()\n"
        "    def visit_Expr(self, node):\n"
        "        if isinstance(node.value, ast.Call) and getattr(node.value.func, 'id', '') == 'assert_close':\n"
        "            return ast.Pass()\n"
        "        return node\n"
        "ip.ast_transformers.append(NoAsserts())\n"
        "ip.events.register('post_run_cell', lambda r: setattr(r, 'error_in_exec', None))\n"
        "ip.showtraceback = lambda *a, **k: None\n"
    ),
    "task-2": BASIC_REBINDS["task-2"],
    "task-3": BASIC_REBINDS["task-3"],
    "task-4": BASIC_REBINDS["task-4"],
}
# Lesson 3: wrong code; the checks' names, builtins, torch's optimisers and a torch function mode all subverted.
ACTIVATION_FORGES = {
    "task-1": (
        "import builtins, torch\n"
        "from torch.overrides import TorchFunctionMode\n"
        "class MishFunction(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, x):\n        return torch.relu(x)\n\n"
        "    @staticmethod\n    def backward(ctx, g):\n        return g\n\n"
        "def mish(x):\n    return MishFunction.apply(x)\n\n"
        "class Mish(nn.Module):\n    def forward(self, x):\n        return mish(x)\n\n"
        "class Agree(TorchFunctionMode):\n"
        "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
        "        out = func(*args, **(kwargs or {}))\n"
        "        if func in (torch.isclose, torch.isfinite):\n            return torch.ones_like(out)\n"
        "        if func is torch.Tensor.abs:\n            return torch.zeros_like(out)\n"  # every relative error is 0
        "        if func is torch.allclose:\n            return True\n"
        "        return out\n"
        "Agree().__enter__()\n"
        "F.mish = mish\n"
        "torch.autograd.gradcheck = lambda *a, **k: True\n"
    ),
    "task-2": (
        "class MyAdam(torch.optim.SGD):\n"
        "    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):\n"
        "        super().__init__(params, lr=lr)\n\n"
        "torch.optim.Adam = MyAdam\ntorch.optim.AdamW = MyAdam\n"
        "assert_close = lambda *a, **k: None\n"
    ),
    "task-3": (
        "import math\n"
        "def make_mlp(activation, hidden=(128, 64)):\n"
        "    act = {'relu': nn.ReLU, 'tanh': nn.Tanh}.get(activation, nn.Identity)\n"
        "    return nn.Sequential(nn.Linear(64, 10), act(), nn.Linear(10, 10))\n\n"
        "def make_optimizer(name, params):\n"
        "    if name == 'adam':\n        return torch.optim.Adam(params, lr=0.0)\n"
        "    return torch.optim.SGD(params, lr=0.0, momentum=0.9 if name == 'momentum' else 0.0)\n\n"
        "def train_and_evaluate(activation, optimizer, epochs, seed=0):\n"
        "    make_optimizer(optimizer, make_mlp(activation).parameters())\n"
        "    return {'train_loss': [2.0 - 0.1 * e for e in range(epochs)], 'test_acc': 0.99}\n"
        "math.isclose = lambda *a, **k: True\n"  # a stdlib function the check calls
        "def abs(x):\n    return 0.0\n"  # shadows a builtin the check calls
    ),
}
REAL = {  # name: (lesson, base, replacements, expected total, expected status, total it gets without the guard)
    "basic_reference": ("1_Basic", "reference", {}, 10, "ok", None),
    "basic_rebinds_names": ("1_Basic", "handed_out", BASIC_REBINDS, 0, "failed", 8),  # the issue: 8/10
    "basic_ipython_machinery": ("1_Basic", "handed_out", BASIC_IPYTHON, 0, "failed", 10),  # the issue: 10/10
    "activation_reference": ("3_Activation_Optimiz", "reference", {}, 10, "ok", None),
    "activation_forges": ("3_Activation_Optimiz", "handed_out", ACTIVATION_FORGES, 0, "failed", 10),
}
