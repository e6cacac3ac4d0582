"""Batches for training: an on-device loader for datasets that fit in GPU memory, else a DataLoader.

On a GPU a small model trained on MNIST or CIFAR-10 waits for the DataLoader (PIL decoding and
collation on a few CPU cores). :class:`DeviceLoader` keeps the whole split as one uint8 tensor on
the device and does shuffling, simple augmentation and normalisation there, batch by batch.
:func:`make_loader` picks it in full mode on CUDA and falls back to the ordinary DataLoader
elsewhere; both paths yield the same samples in the same order for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from torch_book import modes

Batch = tuple[torch.Tensor, torch.Tensor]


def as_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N×C×H×W, targets int64 N) from a torchvision MNIST-/CIFAR-style dataset (or a subset of one).

    Reads the dataset's in-memory ``data``/``targets`` arrays, not its transform.
    """
    indices = None
    while isinstance(dataset, Subset):
        idx = torch.as_tensor(dataset.indices)
        indices = idx if indices is None else idx[indices]
        dataset = dataset.dataset
    if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
        raise TypeError(f"{type(dataset).__name__} has no in-memory .data/.targets: use a DataLoader")
    images = torch.as_tensor(dataset.data)
    if images.dim() == 3:  # MNIST: N×H×W
        images = images.unsqueeze(1)
    elif images.shape[-1] in (1, 3):  # CIFAR: N×H×W×C
        images = images.permute(0, 3, 1, 2)
    targets = torch.as_tensor(dataset.targets, dtype=torch.long)
    if indices is not None:
        images, targets = images[indices], targets[indices]
    return images.contiguous(), targets


def shuffled_order(n: int, shuffle: bool, generator: torch.Generator | None) -> torch.Tensor:
    """The index order a DataLoader with the same ``shuffle`` and ``generator`` would use for one epoch."""
    if not shuffle:
        return torch.arange(n)
    # run the sampler to exhaustion, as an epoch of the DataLoader does: it draws from the generator at the end too
    return torch.cat(list(DataLoader(range(n), batch_size=n, shuffle=True, generator=generator)))


def random_crop_flip(x: torch.Tensor, padding: int = 4, flip: bool = True,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Batched RandomCrop(padding) + RandomHorizontalFlip on the tensor's own device."""
    n, c, h, w = x.shape
    dev = x.device
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(dev)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(dev)
    rows = (oy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, None, :]
    out = padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                 rows, cols]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(dev)[:, None, None, None]
        out = torch.where(mask, out.flip(-1), out)
    return out


def _postprocess(device: torch.device, augment, normalize) -> Callable[[torch.Tensor], torch.Tensor]:
    """Augment, then normalise, a float batch on ``device``: what both loader paths apply."""
    mean = std = None
    if normalize is not None:
        mean = torch.tensor(normalize[0], device=device).view(1, -1, 1, 1)
        std = torch.tensor(normalize[1], device=device).view(1, -1, 1, 1)

    def apply(x: torch.Tensor) -> torch.Tensor:
        if augment is not None:
            x = augment(x)
        return x if mean is None else (x - mean) / std

    return apply


class DeviceLoader:
    """Iterate over (images, targets) held on ``device``: float images in [0, 1], then ``augment``, then normalise."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, batch_size: int, shuffle: bool = False,
                 device: torch.device | str = "cpu", augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 normalize: tuple[Sequence[float], Sequence[float]] | None = None,
                 generator: torch.Generator | None = None, drop_last: bool = False) -> None:
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.targets = targets.to(self.device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = generator
        self.post = _postprocess(self.device, augment, normalize)

    def __len__(self) -> int:
        n = len(self.targets)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.targets)
        order = shuffled_order(n, self.shuffle, self.generator).to(self.device)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images[idx]
            x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
            yield self.post(x), self.targets[idx]


class _OnDevice:
    """A DataLoader whose batches are moved to ``device`` and augmented/normalised there, like DeviceLoader's."""

    def __init__(self, loader: DataLoader, device, augment, normalize) -> None:
        self.loader, self.device = loader, torch.device(device)
        self.post = _postprocess(self.device, augment, normalize)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        for x, y in self.loader:
            yield self.post(x.to(self.device, non_blocking=True)), y.to(self.device, non_blocking=True)


def worker_count(requested: int) -> int:
    """``requested`` DataLoader workers where they can start, else 0 (load in the main process).

    Windows and macOS (and Linux from Python 3.14 on) start workers by "spawn"/"forkserver": a worker
    gets the dataset by pickling, and classes or functions defined in a notebook cannot be pickled, so
    such a DataLoader crashes there. With the "fork" start method (Linux, Colab) workers just work.
    """
    import multiprocessing

    if requested <= 0:
        return 0
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_context().get_start_method()
    return requested if method == "fork" else 0


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, device: torch.device | str,
                augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                normalize: tuple[Sequence[float], Sequence[float]] | None = None, seed: int = 0,
                on_device: bool | None = None, num_workers: int = 0, drop_last: bool = False):
    """Batches of ``dataset`` on ``device``, augmented (batched, e.g. :func:`random_crop_flip`) and normalised there.

    ``dataset`` must be an MNIST-/CIFAR-style torchvision dataset whose transform is ``ToTensor()``
    (or a subset of one). ``on_device=None`` means: the on-device path on CUDA in full mode,
    the DataLoader path otherwise.
    """
    device = torch.device(device)
    if on_device is None:
        on_device = device.type == "cuda" and not modes.is_fast()
    generator = torch.Generator().manual_seed(seed)
    if on_device:
        images, targets = as_tensors(dataset)
        return DeviceLoader(images, targets, batch_size, shuffle, device, augment, normalize, generator, drop_last)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last,
                        num_workers=num_workers, pin_memory=device.type == "cuda", persistent_workers=num_workers > 0)
    return _OnDevice(loader, device, augment, normalize)
