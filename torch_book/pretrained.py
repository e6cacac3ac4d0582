"""Pretrained torchvision weights, cached under the data root, never silently missing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from torch_book import modes, report
from torch_book.download import fetch
from torch_book.paths import data_root
from torch_book.registry import FileSpec


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are not cached and cannot be downloaded (full mode)."""


def hub_dir() -> Path:
    """torch.hub's cache (``<data root>/torch_hub``): weights land in ``checkpoints/`` there."""
    path = data_root() / "torch_hub"
    torch.hub.set_dir(str(path))
    return path


def weights_path(weights) -> Path:
    return hub_dir() / "checkpoints" / Path(weights.url).name


def weights_spec(weights) -> FileSpec:
    """A downloader spec for torchvision weights: ``name-<sha256 prefix>.pth`` is checked against its prefix."""
    name = Path(weights.url).name
    m = re.search(r"-([0-9a-f]{8,})\.pth$", name)
    return FileSpec(name, (weights.url,), sha256_prefix=m[1] if m else None)


def load_pretrained(builder: Callable[..., nn.Module], weights, **kwargs) -> tuple[nn.Module, bool]:
    """``builder(weights=weights)`` with weights cached under the data root.

    Returns ``(model, loaded)``. Offline and not cached: a loud notice and a randomly
    initialised model with ``loaded=False``, so the mechanics still run. Full mode without
    network: :class:`WeightsUnavailableError` saying where to put the file.
    """
    path = weights_path(weights)
    if path.is_file() or not modes.is_offline():
        try:
            if not path.is_file():  # through the course's verified downloader; torchvision then reads the cache
                fetch(weights_spec(weights), path)
            model = builder(weights=weights, **kwargs)
            report.note_weights(str(weights), loaded=True)
            return model, True
        except (OSError, RuntimeError) as e:  # DownloadError is a RuntimeError; URLError an OSError
            raise WeightsUnavailableError(
                f"could not load {weights} ({type(e).__name__}: {e}).\n"
                f"Download {weights.url}\n  and save it as {path}, or set {modes.OFFLINE_VAR}=1 to run "
                f"with random weights (results will not be those of a pretrained model)."
            ) from e
    bar = "!" * 78
    print(
        f"{bar}\n!! OFFLINE MODE: pretrained weights {weights} are not cached at {path}.\n"
        f"!! The model is RANDOMLY INITIALISED: the code runs, but it is NOT pretrained.\n{bar}"
    )
    report.note_weights(str(weights), loaded=False)
    return builder(weights=None, **kwargs), False
