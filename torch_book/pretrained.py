"""Pretrained torchvision weights, cached under the data root, never silently missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from torch_book import modes
from torch_book.paths import data_root


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are not cached and cannot be downloaded (full mode)."""


def hub_dir() -> Path:
    """torch.hub's cache (``<data root>/torch_hub``): weights land in ``checkpoints/`` there."""
    path = data_root() / "torch_hub"
    torch.hub.set_dir(str(path))
    return path


def weights_path(weights) -> Path:
    return hub_dir() / "checkpoints" / Path(weights.url).name


def load_pretrained(builder: Callable[..., nn.Module], weights, **kwargs) -> tuple[nn.Module, bool]:
    """``builder(weights=weights)`` with weights cached under the data root.

    Returns ``(model, loaded)``. Offline and not cached: a loud notice and a randomly
    initialised model with ``loaded=False``, so the mechanics still run. Full mode without
    network: :class:`WeightsUnavailableError` saying where to put the file.
    """
    path = weights_path(weights)
    if path.is_file() or not modes.is_offline():
        try:
            return builder(weights=weights, **kwargs), True
        except (OSError, RuntimeError) as e:  # URLError is an OSError; a bad hash is a RuntimeError
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
    return builder(weights=None, **kwargs), False
