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

    Returns ``(model, loaded)``. fast+offline and not cached: a loud notice and a randomly
    initialised model with ``loaded=False``, so the mechanics still run. Full mode (online or
    offline) without the file: :class:`WeightsUnavailableError` saying where to put it — random
    weights are never used in full mode, as stand-in data never are.
    """
    path = weights_path(weights)
    m = modes.current()
    if not path.is_file() and m.offline and not m.fast:
        raise WeightsUnavailableError(
            f"pretrained weights {weights} are not cached at {path} and the mode is full+offline.\n"
            f"Предобученных весов нет в кэше, а в полном режиме случайные веса не подставляются.\n"
            f"Скачайте {weights.url}\n  и положите как {path}; или запустите с интернетом.\n" + modes.how_to_switch()
        )
    if path.is_file() or not m.offline:
        try:
            if not path.is_file():  # through the course's verified downloader; torchvision then reads the cache
                fetch(weights_spec(weights), path)
            model = builder(weights=weights, **kwargs)
            report.note_weights(str(weights), loaded=True)
            return model, True
        except (OSError, RuntimeError) as e:  # DownloadError is a RuntimeError; URLError an OSError
            raise WeightsUnavailableError(
                f"could not load {weights} ({type(e).__name__}: {e}).\n"
                f"Не удалось загрузить предобученные веса. Скачайте {weights.url}\n  и положите как {path}.\n"
                f"Только для проверки кода (со случайными весами, результаты не те) — быстрый режим без сети.\n"
                + modes.how_to_switch()
            ) from e
    bar = "!" * 78
    print(
        f"{bar}\n!! OFFLINE MODE (fast+offline): pretrained weights {weights} are not cached at {path}.\n"
        f"!! The model is RANDOMLY INITIALISED: the code runs, but it is NOT pretrained.\n"
        f"!! Весов нет в кэше: модель инициализирована СЛУЧАЙНО — код работает, но она НЕ предобучена.\n{bar}"
    )
    report.note_weights(str(weights), loaded=False)
    return builder(weights=None, **kwargs), False
