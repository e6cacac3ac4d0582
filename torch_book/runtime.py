"""Notebook set-up: seeding, device choice, the one-line banner and the run configuration."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from torch_book import modes as _modes
from torch_book.paths import data_root

T = TypeVar("T")


def seed_everything(seed: int = 42, deterministic: bool = True) -> None:
    """Seed python, NumPy and torch (all devices); optionally make cuDNN deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def pick_device() -> torch.device:
    """CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class Config:
    """What a notebook needs to know about the run: modes, device, data root, seed."""

    modes: _modes.Modes
    device: torch.device
    data_root: Path
    seed: int

    @property
    def fast(self) -> bool:
        return self.modes.fast

    @property
    def offline(self) -> bool:
        return self.modes.offline

    def pick(self, full: T, fast: T) -> T:
        """``full`` in full mode, ``fast`` in fast mode: sizes, epochs, subset lengths."""
        return fast if self.fast else full

    def epochs(self, full: int, fast: int = 1) -> int:
        """Epochs of this run: ``fast`` in fast mode, else ``full`` cut to ``TORCH_BOOK_MAX_EPOCHS`` if set."""
        if self.fast:
            return fast
        cap = _modes.max_epochs()
        return full if cap is None else min(full, cap)

    @property
    def full_run(self) -> bool:
        """Full mode with the full schedule (no epoch cap): the run that full-mode targets are measured on."""
        return not self.fast and _modes.max_epochs() is None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def banner(cfg: Config) -> str:
    from importlib.metadata import PackageNotFoundError, version

    from torch_book import __version__

    try:
        tv = version("torchvision")
    except PackageNotFoundError:
        tv = "not installed"
    cap = _modes.max_epochs()
    mode = cfg.modes.name + (f" (epochs ≤ {cap})" if cap is not None and not cfg.fast else "")
    return (
        f"torch_book {__version__} | mode: {mode} | device: {device_name(cfg.device)} | "
        f"torch {torch.__version__}, torchvision {tv} | "
        f"data: {cfg.data_root} | seed: {cfg.seed}"
    )


def setup(seed: int = 42, deterministic: bool = True, quiet: bool = False) -> Config:
    """Seed everything, pick the device, print one banner line and return the run's Config.

    ``TORCH_BOOK_SEED`` (when set) replaces ``seed``: the instructor's calibration runs use it.
    """
    from torch_book import report

    override = _modes.seed_override()
    seed = seed if override is None else override
    seed_everything(seed, deterministic)
    cfg = Config(modes=_modes.current(), device=pick_device(), data_root=data_root(), seed=seed)
    report.emit("setup", mode=cfg.modes.name, device=device_name(cfg.device), seed=seed,
                max_epochs=_modes.max_epochs(), torch=torch.__version__)
    if not quiet:
        print(banner(cfg))
    return cfg


_fork_hook_installed = False


def _install_fork_hook() -> None:
    """Make forked children (DataLoader workers) leave the objects they inherit to their parent.

    A DataLoader iterator abandoned in a reference cycle (a loop left by ``break`` or by Stop in a
    notebook, with the progress bar holding it) is garbage the parent has not collected yet. A worker
    forked at that moment inherits it; when the worker's garbage collector frees it, the iterator's
    ``__del__`` tries to stop workers that are not its children and prints "AssertionError: can only
    test a child process". Freezing the inherited objects in the child (``gc.freeze``) means the child
    never collects them; the parent still does.
    """
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        import gc

        os.register_at_fork(after_in_child=gc.freeze)
        _fork_hook_installed = True


class Progress:
    """A tqdm bar over an iterable that lets go of a DataLoader's iterator as soon as the loop ends.

    Iterate over it like over tqdm; ``set_postfix``, ``set_description`` … go to the bar (``.bar``).
    """

    def __init__(self, iterable: Iterable[T], **kwargs) -> None:
        if "total" not in kwargs:
            try:
                kwargs["total"] = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                pass
        self.iterable = iterable
        self.bar = tqdm(**kwargs)

    def __len__(self) -> int:
        return len(self.iterable)  # type: ignore[arg-type]

    def __getattr__(self, name: str):
        if name in ("bar", "iterable"):
            raise AttributeError(name)
        return getattr(self.bar, name)

    def __iter__(self):
        it = iter(self.iterable)
        try:
            for item in it:
                yield item
                self.bar.update(1)
        finally:
            self.bar.close()
            # a DataLoader's own (non-persistent) iterator: stop its workers now, not whenever it is collected
            loader = getattr(it, "_dataset", None) is not None and not getattr(it, "_persistent_workers", False)
            shutdown = getattr(it, "_shutdown_workers", None)
            if loader and callable(shutdown):
                shutdown()
            del it


def progress(iterable: Iterable[T], **kwargs) -> Progress:
    """A tqdm progress bar (``tqdm.auto``: a widget in Jupyter) that stays silent in fast mode (CI, nbval).

    Safe with DataLoader workers: leaving the loop early stops the workers at once, and forked
    workers never print "can only test a child process" for an iterator they inherited.
    """
    _install_fork_hook()
    kwargs.setdefault("disable", _modes.is_fast())
    kwargs.setdefault("leave", False)
    return Progress(iterable, **kwargs)
