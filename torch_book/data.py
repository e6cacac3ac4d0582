"""The course's datasets through torchvision's own classes and on-disk layouts.

Each function makes sure the files are there (cache, else a verified download, else — in
offline mode only — a synthetic stand-in in the real format, announced loudly), then returns
the real torchvision dataset. In fast mode it returns a fixed, seeded subset.

    >>> train = data.mnist(train=True, transform=T.ToTensor())
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch.utils.data import Dataset, Subset

from torch_book import modes, registry, standins
from torch_book.download import DownloadError, extract, fetch, fetch_and_extract
from torch_book.paths import data_root

FAST_SIZES = {"train": 1000, "test": 500}


class DataUnavailableError(RuntimeError):
    """The real data is not in the cache and cannot be fetched; the message says how to get it."""


class FastSubset(Subset):
    """A fixed subset that still answers ``classes``, ``targets`` … of the dataset it wraps."""

    def __getattr__(self, name: str) -> Any:
        if name in ("dataset", "indices"):
            raise AttributeError(name)
        value = getattr(self.dataset, name)
        if name == "targets":
            return [value[i] for i in self.indices]
        return value


def fast_subset(dataset: Dataset, n: int, seed: int = 0) -> Dataset:
    """The same ``n`` samples every run (a seeded permutation); the whole set if it is smaller."""
    if len(dataset) <= n:
        return dataset
    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    return FastSubset(dataset, idx.tolist())


def _maybe_fast(dataset: Dataset, split: str, fast_size: int | None) -> Dataset:
    if not modes.is_fast():
        return dataset
    return fast_subset(dataset, fast_size or FAST_SIZES["train" if split.startswith("train") else "test"])


def is_standin(dataset_or_path: Any) -> bool:
    """True when a dataset (or the dataset a subset wraps), or a data path, is synthetic stand-in data."""
    while isinstance(dataset_or_path, Subset):
        dataset_or_path = dataset_or_path.dataset
    root = dataset_or_path if isinstance(dataset_or_path, (str, Path)) else getattr(dataset_or_path, "root", None)
    return isinstance(root, (str, Path)) and any(part.startswith("standin-") for part in Path(root).parts)


_announced: set[str] = set()


def announce_standin(title: str, where: Path) -> None:
    if title in _announced:
        return
    _announced.add(title)
    bar = "!" * 78
    print(
        f"{bar}\n!! OFFLINE MODE: {title} is not in the cache, so SYNTHETIC STAND-IN data is used\n"
        f"!! (generated at {where}, in the dataset's real file format).\n"
        f"!! Code runs the same, but accuracies are NOT those of the real dataset.\n{bar}"
    )


def _prepare(name: str, ready: Callable[[Path], bool], fetch_fn: Callable[[Path], None],
             standin_fn: Callable[[Path], Path]) -> Path:
    """The root to hand to the torchvision class: the real cache, or (offline) the stand-in root."""
    from torch_book import report

    info = registry.get(name)
    root = data_root()
    if ready(root):
        report.note_data(name, standin=False, root=root)
        return root
    if modes.is_offline():
        sroot = standins.standin_root(root)
        standin_fn(sroot)
        announce_standin(info.title, sroot)
        report.note_data(name, standin=True, root=sroot)
        return sroot
    try:
        fetch_fn(root)
    except DownloadError as e:
        raise DataUnavailableError(
            f"{info.title} is not in {root / info.subdir} and could not be downloaded.\n{e}\n"
            f"Other ways: run this notebook once where there is internet; or copy the files into "
            f"{root} as data/README.md shows; or, for a code-only run, set {modes.OFFLINE_VAR}=1 to use "
            f"synthetic stand-in data (not {info.title}: its accuracies mean nothing)."
        ) from e
    if not ready(root):
        raise DataUnavailableError(f"{info.title}: files were fetched but {root / info.subdir} is still incomplete")
    report.note_data(name, standin=False, root=root)
    return root


# ----------------------------------------------------------------------------- MNIST, Fashion-MNIST

_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _mnist_family(name: str, cls, folder: str, standin_fn, train: bool, fast_size: int | None, **kwargs):
    def ready(root: Path) -> bool:
        return all((root / folder / "raw" / f).is_file() for f in _IDX)

    def get(root: Path) -> None:
        raw = root / folder / "raw"
        for spec in registry.get(name).files:
            gz = fetch(spec, raw / spec.filename)
            if not (raw / spec.filename[:-3]).is_file():
                extract(gz, raw)

    root = _prepare(name, ready, get, standin_fn)
    ds = cls(str(root), train=train, download=False, **kwargs)
    return _maybe_fast(ds, "train" if train else "test", fast_size)


def mnist(train: bool = True, fast_size: int | None = None, **kwargs) -> Dataset:
    """``torchvision.datasets.MNIST``; kwargs go to it (``transform=…``)."""
    return _mnist_family("mnist", torchvision.datasets.MNIST, "MNIST", standins.mnist, train, fast_size, **kwargs)


def fashion_mnist(train: bool = True, fast_size: int | None = None, **kwargs) -> Dataset:
    """``torchvision.datasets.FashionMNIST``; kwargs go to it."""
    return _mnist_family("fashion_mnist", torchvision.datasets.FashionMNIST, "FashionMNIST",
                         standins.fashion_mnist, train, fast_size, **kwargs)


# ----------------------------------------------------------------------------- CIFAR-10

_CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


class StandInCIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR10 reader, told the stand-in files' checksums instead of the published ones.

    Everything else — unpickling, ``classes``, ``__getitem__`` — is the real class's code.
    """

    def __init__(self, root: str, **kwargs) -> None:
        sums = standins.cifar10_checksums(Path(root))
        self.train_list = [[f, sums[f]] for f, _ in torchvision.datasets.CIFAR10.train_list]
        self.test_list = [[f, sums[f]] for f, _ in torchvision.datasets.CIFAR10.test_list]
        self.meta = {**torchvision.datasets.CIFAR10.meta, "md5": sums["batches.meta"]}
        super().__init__(root, download=False, **kwargs)


def cifar10(train: bool = True, fast_size: int | None = None, **kwargs) -> Dataset:
    """``torchvision.datasets.CIFAR10`` (the stand-in through :class:`StandInCIFAR10`)."""
    def ready(root: Path) -> bool:
        return all((root / "cifar-10-batches-py" / f).is_file() for f in _CIFAR_FILES)

    def get(root: Path) -> None:
        fetch_and_extract(registry.get("cifar10").files[0], root, root)

    root = _prepare("cifar10", ready, get, standins.cifar10)
    if root.name.startswith("standin-"):
        ds = StandInCIFAR10(str(root), train=train, **kwargs)
    else:
        ds = torchvision.datasets.CIFAR10(str(root), train=train, download=False, **kwargs)
    return _maybe_fast(ds, "train" if train else "test", fast_size)


# ----------------------------------------------------------------------------- GTSRB


def gtsrb(split: str = "train", fast_size: int | None = None, **kwargs) -> Dataset:
    """``torchvision.datasets.GTSRB`` (43 classes of German traffic signs)."""
    def ready(root: Path) -> bool:
        base = root / "gtsrb"
        return ((base / "GTSRB" / "Training").is_dir() and (base / "GTSRB" / "Final_Test" / "Images").is_dir()
                and (base / "GT-final_test.csv").is_file())

    def get(root: Path) -> None:
        for spec in registry.get("gtsrb").files:
            fetch_and_extract(spec, root / "gtsrb", root / "gtsrb")

    root = _prepare("gtsrb", ready, get, standins.gtsrb)
    ds = torchvision.datasets.GTSRB(str(root), split=split, download=False, **kwargs)
    return _maybe_fast(ds, split, fast_size)


GTSRB_CLASSES = [
    "20 km/h", "30 km/h", "50 km/h", "60 km/h", "70 km/h", "80 km/h", "end of 80 km/h", "100 km/h",
    "120 km/h", "no passing", "no passing for trucks", "right of way at next intersection",
    "priority road", "yield", "stop", "no vehicles", "no trucks", "no entry", "general caution",
    "dangerous curve left", "dangerous curve right", "double curve", "bumpy road", "slippery road",
    "road narrows on the right", "road work", "traffic signals", "pedestrians", "children crossing",
    "bicycles crossing", "beware of ice/snow", "wild animals crossing", "end of all limits",
    "turn right ahead", "turn left ahead", "ahead only", "go straight or right", "go straight or left",
    "keep right", "keep left", "roundabout mandatory", "end of no passing", "end of no passing for trucks",
]


# ----------------------------------------------------------------------------- names (lesson 5)


def names_dir() -> Path:
    """The folder of ``<Language>.txt`` files (one surname per line) of the char-RNN tutorial."""
    def ready(root: Path) -> bool:
        return len(list((root / "char_rnn" / "data" / "names").glob("*.txt"))) >= 18

    def get(root: Path) -> None:
        fetch_and_extract(registry.get("names").files[0], root / "char_rnn", root / "char_rnn")

    return _prepare("names", ready, get, standins.names) / "char_rnn" / "data" / "names"


def to_ascii(text: str) -> str:
    """Drop accents (``Ślusàrski`` → ``Slusarski``), as the PyTorch tutorial does."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def load_names() -> dict[str, list[str]]:
    """``{language: [surname, …]}``, ASCII-folded, in a fixed order; the whole set in every mode."""
    folder = names_dir()
    return {
        path.stem: [to_ascii(line.strip()) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for path in sorted(folder.glob("*.txt"))
    }


# ----------------------------------------------------------------------------- ants and bees (lesson 6)


def hymenoptera_dir() -> Path:
    """``…/hymenoptera_data`` with ``train/`` and ``val/``, each with ``ants/`` and ``bees/`` (ImageFolder)."""
    def ready(root: Path) -> bool:
        base = root / "hymenoptera_data"
        return all((base / s / c).is_dir() for s in ("train", "val") for c in ("ants", "bees"))

    def get(root: Path) -> None:
        fetch_and_extract(registry.get("hymenoptera").files[0], root, root)

    return _prepare("hymenoptera", ready, get, standins.hymenoptera) / "hymenoptera_data"


# ----------------------------------------------------------------------------- Oxford-IIIT Pet (lesson 9)


def oxford_pets(split: str = "trainval", fast_size: int | None = None, **kwargs) -> Dataset:
    """``torchvision.datasets.OxfordIIITPet``; pass ``target_types="segmentation"`` for trimaps."""
    def ready(root: Path) -> bool:
        base = root / "oxford-iiit-pet"
        return ((base / "images").is_dir() and (base / "annotations" / "trimaps").is_dir()
                and (base / "annotations" / "test.txt").is_file())

    def get(root: Path) -> None:
        for spec in registry.get("oxford_pets").files:
            fetch_and_extract(spec, root / "oxford-iiit-pet", root / "oxford-iiit-pet")

    root = _prepare("oxford_pets", ready, get, standins.oxford_pets)
    ds = torchvision.datasets.OxfordIIITPet(str(root), split=split, download=False, **kwargs)
    return _maybe_fast(ds, "train" if split == "trainval" else "test", fast_size)
