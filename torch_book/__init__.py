"""torch_book: the helper package of the course «Введение в нейронные сети» (PyTorch).

One import in every notebook: ``cfg = torch_book.setup()`` seeds everything, picks the device,
prints the run mode and returns the run's :class:`~torch_book.runtime.Config`.
``torch_book.record(name, value, target=…)`` records a metric against its full-mode target, and
``torch_book.caption(text, dataset)`` marks a title or a printed metric «(синтетика)» on stand-in data.

Importing the package is cheap (torch is imported on first use of a name below), so its
command-line tools (nbclean, homework, grade) start quickly.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

_LAZY = {
    "Modes": "torch_book.modes", "is_fast": "torch_book.modes", "is_offline": "torch_book.modes",
    "Config": "torch_book.runtime", "pick_device": "torch_book.runtime", "progress": "torch_book.runtime",
    "seed_everything": "torch_book.runtime", "setup": "torch_book.runtime",
    "record": "torch_book.report", "caption": "torch_book.report",
}

if TYPE_CHECKING:
    from torch_book.modes import Modes, is_fast, is_offline
    from torch_book.report import caption, record
    from torch_book.runtime import Config, pick_device, progress, seed_everything, setup


_SUBMODULES = {"data", "download", "grade", "gradebook", "guard", "homework", "kernelrun", "loaders", "modes",
               "nbclean", "paths", "plots", "pretrained", "registry", "report", "runtime", "sandbox", "standins",
               "submissions", "train"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:  # ``torch_book.data.mnist(...)`` works after a plain ``import torch_book``
        return importlib.import_module(f"torch_book.{name}")
    raise AttributeError(f"module 'torch_book' has no attribute {name!r}")


__all__ = ["Config", "Modes", "caption", "is_fast", "is_offline", "pick_device", "progress", "record",
           "seed_everything", "setup"]
