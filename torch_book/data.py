"""The course's datasets through torchvision's own classes and on-disk layouts.

Each function makes sure the real files are there, then returns the real torchvision dataset (in
fast mode a fixed, seeded subset). "There" means, for every part of the dataset it needs:

1. the unpacked files, checked cheaply against the manifest written when they were first
   verified (every file's size; ``python -m torch_book.data verify`` re-hashes them);
2. else an archive in the cache — downloaded earlier or placed by hand, in any mode — verified
   and extracted safely;
3. else (online) a verified download, extracted;
4. else: in fast+offline mode only, a synthetic stand-in in the real format, announced loudly;
   in every other mode a :class:`DataUnavailableError` that lists every missing or damaged file
   and says how to get it (Russian, with an English first line).

    >>> train = data.mnist(train=True, transform=T.ToTensor())
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch.utils.data import Dataset, Subset

from torch_book import modes, registry, standins
from torch_book.download import (
    DownloadError,
    clean_stale,
    extract,
    fetch_and_extract,
    file_digest,
    manual_hint,
    verify,
)
from torch_book.paths import data_root

FAST_SIZES = {"train": 1000, "test": 500}
MANIFEST_DIR = ".manifests"  # under the data root: one JSON file per dataset
MANIFEST_VERSION = 1


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


def announce_standin(title: str, where: Path, reason: str = "") -> None:
    if title in _announced:
        return
    _announced.add(title)
    bar = "!" * 78
    print(
        f"{bar}\n!! OFFLINE MODE (fast+offline): SYNTHETIC STAND-IN data instead of {title}\n"
        f"!! Настоящих данных «{title}» нет в кэше{f' ({reason})' if reason else ''},\n"
        f"!! поэтому используются СИНТЕТИЧЕСКИЕ данные-заменители в настоящем формате набора\n"
        f"!! (папка {where}). Код работает так же, но точности — НЕ те, что на настоящем наборе.\n"
        f"!! Настоящие данные: запустите с интернетом или положите файлы вручную (data/README.md).\n{bar}"
    )


# ----------------------------------------------------------------------------- parts, checks, manifest


@dataclass(frozen=True)
class Part:
    """One archive of a dataset and what it provides once extracted (paths relative to the data root).

    ``provides`` lists files, and folders written with a trailing ``/``. ``alternatives`` are other
    archive names accepted when placed by hand (no published checksum: checked by the layout only).
    """

    key: str
    spec: registry.FileSpec | None
    archive_dir: str
    extract_to: str
    provides: tuple[str, ...]
    alternatives: tuple[str, ...] = ()


def _files_under(folder: Path) -> list[Path]:
    """Regular files below ``folder`` (not hidden, no symlinks followed), sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def _part_files(root: Path, part: Part) -> list[Path]:
    files: list[Path] = []
    for rel in part.provides:
        path = root / rel
        files.extend(_files_under(path) if rel.endswith("/") else [path])
    return files


def _covers(part: Part, rel: str) -> bool:
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in part.provides)


@dataclass(frozen=True)
class Problem:
    """A missing or damaged file or folder of a dataset, and what is wrong with it (Russian)."""

    path: Path
    text: str
    missing: bool = False

    def __str__(self) -> str:
        return self.text


def _missing(path: Path, folder: bool = False) -> Problem:
    return Problem(path, f"нет {'папки' if folder else 'файла'} {path}", missing=True)


def _damaged(path: Path, why: str) -> Problem:
    return Problem(path, f"повреждён {path}: {why}")


def _layout_problems(root: Path, info: registry.DatasetInfo, part: Part) -> list[Problem]:
    """What is missing or wrong in ``part``'s unpacked files (empty: all there and as pinned)."""
    problems = []
    for rel in part.provides:
        path = root / rel
        if rel.endswith("/"):
            if not path.is_dir() or not any(path.iterdir()):
                problems.append(_missing(path, folder=True))
        elif not path.is_file():
            problems.append(_missing(path))
    if problems:
        return problems
    for rel, (size, sha256) in info.unpacked.items():
        if not _covers(part, rel):
            continue
        path = root / rel
        if not path.is_file():
            problems.append(_missing(path))
        elif path.stat().st_size != size:
            problems.append(_damaged(path, f"{path.stat().st_size} байт, ожидалось {size}"))
        elif file_digest(path, "sha256") != sha256:
            problems.append(_damaged(path, "sha256 не совпадает с опубликованным"))
    for rel, (pattern, count) in info.layout.items():
        if _covers(part, rel + "/"):
            folder = root / rel
            got = len([p for p in folder.glob(pattern) if p.is_file()]) if folder.is_dir() else 0
            if got != count:
                problems.append(_damaged(folder, f"{got} файлов {pattern}, ожидалось {count}"))
    check = _EXTRA_CHECKS.get(info.name)
    if check is not None:
        problems += check(root, part)
    return problems


def manifest_path(root: Path, name: str) -> Path:
    return root / MANIFEST_DIR / f"{name}.json"


def _load_manifest(root: Path, name: str) -> dict:
    try:
        data = json.loads(manifest_path(root, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": MANIFEST_VERSION, "parts": {}}
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION or not isinstance(data.get("parts"), dict):
        return {"version": MANIFEST_VERSION, "parts": {}}
    return data


def _save_manifest(root: Path, name: str, manifest: dict) -> None:
    path = manifest_path(root, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data root: every use then checks the layout again, which is slower but right


def _record_part(root: Path, info: registry.DatasetInfo, part: Part) -> None:
    """Write ``part``'s files (relative path, size, sha256) into the dataset's manifest."""
    manifest = _load_manifest(root, info.name)
    files = {p.relative_to(root).as_posix(): [p.stat().st_size, file_digest(p, "sha256")]
             for p in _part_files(root, part)}
    manifest["parts"][part.key] = {"files": files, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    _save_manifest(root, info.name, manifest)


def _manifest_problems(root: Path, entry: dict, full: bool = False) -> list[Problem]:
    """Missing or resized files of a manifest entry (``full``: also re-hash every file)."""
    problems = []
    for rel, (size, sha256) in entry["files"].items():
        path = root / rel
        try:
            got = path.stat().st_size
        except OSError:
            problems.append(_missing(path))
            continue
        if got != size:
            problems.append(_damaged(path, f"{got} байт, ожидалось {size} (размер при первой проверке)"))
        elif full and file_digest(path, "sha256") != sha256:
            problems.append(_damaged(path, "sha256 изменился с момента первой проверки"))
    return problems


def _local_archives(root: Path, part: Part) -> Iterable[tuple[Path, str | None]]:
    """Archives of ``part`` already in the cache: (path, why it is unusable or None)."""
    folder = root / part.archive_dir
    if part.spec is not None:
        path = folder / part.spec.filename
        if path.exists():
            yield path, verify(path, part.spec)
    for name in part.alternatives:
        path = folder / name
        if path.is_file():
            yield path, None


def _ensure_part(root: Path, info: registry.DatasetInfo, part: Part, online: bool) -> tuple[list[Problem], list[str]]:
    """Make ``part`` present and verified; return what is still missing or wrong (empty: ready) and what was tried."""
    manifest = _load_manifest(root, info.name)
    entry = manifest["parts"].get(part.key)
    if entry is not None:
        if not _manifest_problems(root, entry):
            return [], []
    else:
        _NORMALISE.get(info.name, lambda r: None)(root)
        if not _layout_problems(root, info, part):
            _record_part(root, info, part)
            return [], []
    notes: list[str] = []
    for archive, unusable in _local_archives(root, part):
        if unusable:
            notes.append(f"архив {archive} не прошёл проверку ({unusable})")
            continue
        try:
            extract(archive, root / part.extract_to)
        except DownloadError as e:
            notes.append(f"архив {archive} не распаковался: {e}")
            continue
        if _repaired(root, info, part, entry):
            return [], []
        notes.append(f"архив {archive} распакован, но проверка не прошла")
    if online and part.spec is not None:
        try:
            fetch_and_extract(part.spec, root / part.archive_dir, root / part.extract_to)
        except DownloadError as e:
            notes.append(str(e))
        else:
            if _repaired(root, info, part, entry):
                return [], []
            notes.append(f"{part.spec.filename} скачан и распакован, но проверка не прошла")
    _NORMALISE.get(info.name, lambda r: None)(root)
    problems = _manifest_problems(root, entry) if entry is not None else []
    return problems + [p for p in _layout_problems(root, info, part) if p not in problems], notes


def _repaired(root: Path, info: registry.DatasetInfo, part: Part, entry: dict | None) -> bool:
    _NORMALISE.get(info.name, lambda r: None)(root)
    if entry is not None and _manifest_problems(root, entry):
        return False
    if _layout_problems(root, info, part):
        return False
    _record_part(root, info, part)
    return True


def _unavailable(info: registry.DatasetInfo, root: Path, parts: list[Part], problems: dict[str, list[Problem]],
                 notes: list[str]) -> str:
    """The message of DataUnavailableError: English first line, then Russian, listing everything."""
    m = modes.current()
    listed = [p for key in problems for p in problems[key]]
    lines = [
        f"{info.title} is not available in {root} (missing or damaged: {', '.join(p.path.name for p in listed)}); "
        f"mode {m.name}.",
        f"Набора «{info.title}» нет в кэше {root} или он повреждён:",
        *(f"  • {p}" for p in listed),
    ]
    if notes:
        lines += ["Что пробовали:", *(f"  {n}" for n in notes)]
    if m.offline:
        lines.append(f"Включён режим без сети ({modes.OFFLINE_VAR}=1), поэтому ничего не скачивалось.")
        if not m.fast:
            lines.append("В полном режиме синтетические данные не подставляются никогда: нужны настоящие файлы.")
    hints = [manual_hint(p.spec, root / p.archive_dir / p.spec.filename) for p in parts
             if p.key in problems and p.spec is not None]
    lines += [
        "Что можно сделать:",
        "  1. запустить ноутбук там, где есть интернет, без режима offline: файлы скачаются и проверятся сами;",
        "  2. положить файлы вручную (архивы проверяются и распаковываются при следующем запуске в любом режиме):",
        *hints,
        "     или уже распакованные файлы — как показано в data/README.md;",
        "  3. только проверить, что код работает (без настоящих данных): быстрый режим без сети, "
        "с синтетическими заменителями.",
        modes.how_to_switch(),
    ]
    return "\n".join(lines)


def _prepare(name: str, parts: list[Part], standin_fn: Callable[[Path], Path]) -> Path:
    """The root to hand to the torchvision class: the real cache, or (fast+offline) the stand-in root."""
    from torch_book import report

    info = registry.get(name)
    root = data_root()
    m = modes.current()
    for folder in {root / p.archive_dir for p in parts} | {root / p.extract_to for p in parts}:
        clean_stale(folder)
    problems: dict[str, list[Problem]] = {}
    notes: list[str] = []
    for part in parts:
        left, tried = _ensure_part(root, info, part, online=not m.offline)
        notes += tried
        if left:
            problems[part.key] = left
    if not problems:
        report.note_data(name, standin=False, root=root)
        return root
    if m.offline and m.fast:
        sroot = standins.standin_root(root)
        standin_fn(sroot)
        listed = [p for ps in problems.values() for p in ps]
        what = ", ".join(p.path.name for p in listed[:6]) + (" …" if len(listed) > 6 else "")
        damaged = not all(p.missing for p in listed)
        announce_standin(info.title, sroot, ("повреждены или не найдены: " if damaged else "не найдены: ") + what)
        report.note_data(name, standin=True, root=sroot)
        return sroot
    raise DataUnavailableError(_unavailable(info, root, parts, problems, notes))


def _open(name: str, root: Path, factory: Callable[[], Dataset]) -> Dataset:
    """Build the torchvision dataset; a reader error on real files becomes a clear DataUnavailableError."""
    try:
        return factory()
    except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError, KeyError, IndexError) as e:
        if is_standin(root):
            raise
        info = registry.get(name)
        raise DataUnavailableError(
            f"{info.title}: the files in {root} could not be read ({type(e).__name__}: {e}).\n"
            f"Файлы набора «{info.title}» в {root} не читаются: они повреждены или это не тот набор.\n"
            f"Проверьте их: python -m torch_book.data verify {name}\n"
            f"Удалите повреждённые файлы (или всю папку набора) — при следующем запуске они скачаются заново "
            f"или распакуются из архива в кэше. Подробности — в data/README.md."
        ) from e


# ----------------------------------------------------------------------------- MNIST, Fashion-MNIST

_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_parts(name: str, folder: str) -> list[Part]:
    specs = {s.filename: s for s in registry.get(name).files}
    return [Part(f, specs[f + ".gz"], f"{folder}/raw", f"{folder}/raw", (f"{folder}/raw/{f}",)) for f in _IDX]


def _mnist_family(name: str, cls, folder: str, standin_fn, train: bool, fast_size: int | None, **kwargs):
    root = _prepare(name, _idx_parts(name, folder), standin_fn)
    ds = _open(name, root, lambda: cls(str(root), train=train, download=False, **kwargs))
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


def _cifar_check(root: Path, part: Part) -> list[Problem]:
    """The unpacked batches against torchvision's published md5 list."""
    cls = torchvision.datasets.CIFAR10
    sums = {f: md5 for f, md5 in cls.train_list + cls.test_list} | {cls.meta["filename"]: cls.meta["md5"]}
    folder = root / cls.base_folder
    return [_damaged(folder / f, "md5 не совпадает с опубликованным") for f, md5 in sums.items()
            if (folder / f).is_file() and file_digest(folder / f, "md5") != md5]


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
    spec = registry.get("cifar10").files[0]
    part = Part("batches", spec, ".", ".", tuple(f"cifar-10-batches-py/{f}" for f in _CIFAR_FILES))
    root = _prepare("cifar10", [part], standins.cifar10)
    if root.name.startswith("standin-"):
        ds = StandInCIFAR10(str(root), train=train, **kwargs)
    else:
        ds = _open("cifar10", root,
                   lambda: torchvision.datasets.CIFAR10(str(root), train=train, download=False, **kwargs))
    return _maybe_fast(ds, "train" if train else "test", fast_size)


# ----------------------------------------------------------------------------- GTSRB

GTSRB_TRAINING_ALTERNATIVE = "GTSRB_Final_Training_Images.zip"  # the official full training set (39 209 images)


def _gtsrb_parts(split: str) -> list[Part]:
    specs = {s.filename: s for s in registry.get("gtsrb").files}
    training = Part("training", specs["GTSRB-Training_fixed.zip"], "gtsrb", "gtsrb", ("gtsrb/GTSRB/Training/",),
                    alternatives=(GTSRB_TRAINING_ALTERNATIVE,))
    test_images = Part("test-images", specs["GTSRB_Final_Test_Images.zip"], "gtsrb", "gtsrb",
                       ("gtsrb/GTSRB/Final_Test/Images/",))
    test_gt = Part("test-gt", specs["GTSRB_Final_Test_GT.zip"], "gtsrb", "gtsrb", ("gtsrb/GT-final_test.csv",))
    return [training] if split == "train" else [test_images, test_gt]


def _has_class_ids(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "ClassId" in f.readline()
    except OSError:
        return False


def _gtsrb_normalise(root: Path) -> None:
    """Map the widely distributed official layouts onto the one torchvision reads.

    ``GTSRB/Final_Training/Images/000NN`` (GTSRB_Final_Training_Images.zip) becomes ``GTSRB/Training/000NN``;
    a ``GT-final_test.csv`` with class ids found beside the test images is copied to where it is read.
    """
    base = root / "gtsrb"
    official = base / "GTSRB" / "Final_Training" / "Images"
    training = base / "GTSRB" / "Training"
    if official.is_dir() and not official.is_symlink() and not training.exists():
        os.replace(official, training)
        print(f"[torch_book] GTSRB: {official} перенесена в {training} (раскладка, которую читает torchvision)")
    target = base / "GT-final_test.csv"
    if not target.is_file():
        for candidate in (base / "GTSRB" / "GT-final_test.csv", base / "GTSRB" / "Final_Test" / "GT-final_test.csv",
                          base / "GTSRB" / "Final_Test" / "Images" / "GT-final_test.csv"):
            if candidate.is_file() and _has_class_ids(candidate):
                shutil.copyfile(candidate, target)
                break


def _gtsrb_check(root: Path, part: Part) -> list[Problem]:
    if part.key == "training":
        folder = root / "gtsrb" / "GTSRB" / "Training"
        classes = [d for d in folder.iterdir() if d.is_dir()] if folder.is_dir() else []
        empty = [d.name for d in classes if not any(d.glob("*.ppm"))]
        if len(classes) != 43 or empty:
            return [_damaged(folder, f"{len(classes)} папок классов, {len(empty)} из них без .ppm; ожидалось 43 с изображениями")]
    if part.key == "test-gt":
        csv_path = root / "gtsrb" / "GT-final_test.csv"
        if not _has_class_ids(csv_path):
            return [_damaged(csv_path, "нет столбца ClassId — нужен файл из GTSRB_Final_Test_GT.zip, "
                             "а не GT-final_test.test.csv из архива изображений")]
        with open(csv_path, encoding="utf-8", errors="replace") as f:
            rows = sum(1 for _ in csv.reader(f, delimiter=";")) - 1
        if rows != 12630:
            return [_damaged(csv_path, f"{rows} строк, ожидалось 12630")]
    return []


def gtsrb(split: str = "train", fast_size: int | None = None, **kwargs) -> Dataset:
    """``torchvision.datasets.GTSRB`` (43 classes of German traffic signs); a train-only load needs only the training set."""
    root = _prepare("gtsrb", _gtsrb_parts(split), standins.gtsrb)
    ds = _open("gtsrb", root, lambda: torchvision.datasets.GTSRB(str(root), split=split, download=False, **kwargs))
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
    part = Part("names", registry.get("names").files[0], "char_rnn", "char_rnn", ("char_rnn/data/names/",))
    return _prepare("names", [part], standins.names) / "char_rnn" / "data" / "names"


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


def _hymenoptera_check(root: Path, part: Part) -> list[Problem]:
    expected = registry.get("hymenoptera").extra.get("total_bytes")
    total = sum(p.stat().st_size for p in _part_files(root, part))
    if expected and total != expected:
        print(f"[torch_book] ants and bees: {total} B of files, the reference copy has {expected} B "
              f"(same number of files; using them)")
    return []


def hymenoptera_dir() -> Path:
    """``…/hymenoptera_data`` with ``train/`` and ``val/``, each with ``ants/`` and ``bees/`` (ImageFolder)."""
    part = Part("images", registry.get("hymenoptera").files[0], ".", ".",
                tuple(f"hymenoptera_data/{s}/{c}/" for s in ("train", "val") for c in ("ants", "bees")))
    return _prepare("hymenoptera", [part], standins.hymenoptera) / "hymenoptera_data"


# ----------------------------------------------------------------------------- Oxford-IIIT Pet (lesson 9)


def oxford_pets(split: str = "trainval", fast_size: int | None = None, **kwargs) -> Dataset:
    """``torchvision.datasets.OxfordIIITPet``; pass ``target_types="segmentation"`` for trimaps."""
    specs = {s.filename: s for s in registry.get("oxford_pets").files}
    parts = [
        Part("images", specs["images.tar.gz"], "oxford-iiit-pet", "oxford-iiit-pet", ("oxford-iiit-pet/images/",)),
        Part("annotations", specs["annotations.tar.gz"], "oxford-iiit-pet", "oxford-iiit-pet",
             ("oxford-iiit-pet/annotations/trimaps/", "oxford-iiit-pet/annotations/trainval.txt",
              "oxford-iiit-pet/annotations/test.txt")),
    ]
    root = _prepare("oxford_pets", parts, standins.oxford_pets)
    ds = _open("oxford_pets", root,
               lambda: torchvision.datasets.OxfordIIITPet(str(root), split=split, download=False, **kwargs))
    return _maybe_fast(ds, "train" if split == "trainval" else "test", fast_size)


_NORMALISE: dict[str, Callable[[Path], None]] = {"gtsrb": _gtsrb_normalise}
_EXTRA_CHECKS: dict[str, Callable[[Path, Part], list[Problem]]] = {
    "cifar10": _cifar_check, "gtsrb": _gtsrb_check, "hymenoptera": _hymenoptera_check,
}

# ----------------------------------------------------------------------------- scikit-learn's bundled sets (lessons 2-3)


def sklearn(name: str, **kwargs):
    """``sklearn.datasets.load_<name>(**kwargs)`` (``"breast_cancer"``, ``"iris"``, ``"digits"`` …).

    These small real datasets ship inside scikit-learn: no download, the same data in every mode. Going
    through here records them as real data in the readiness report.
    """
    import sklearn.datasets

    from torch_book import report

    loader = getattr(sklearn.datasets, f"load_{name}", None)
    if loader is None:
        raise ValueError(f"scikit-learn has no bundled dataset load_{name}()")
    bunch = loader(**kwargs)
    report.note_data(f"sklearn.{name}", standin=False)
    return bunch


# ----------------------------------------------------------------------------- status and verification


def parts_of(name: str) -> list[Part]:
    """Every part of a registered dataset (all splits)."""
    reg = {s.filename: s for s in registry.get(name).files}
    if name == "mnist":
        return _idx_parts(name, "MNIST")
    if name == "fashion_mnist":
        return _idx_parts(name, "FashionMNIST")
    if name == "cifar10":
        return [Part("batches", reg["cifar-10-python.tar.gz"], ".", ".",
                     tuple(f"cifar-10-batches-py/{f}" for f in _CIFAR_FILES))]
    if name == "gtsrb":
        return _gtsrb_parts("train") + _gtsrb_parts("test")
    if name == "names":
        return [Part("names", reg["data.zip"], "char_rnn", "char_rnn", ("char_rnn/data/names/",))]
    if name == "hymenoptera":
        return [Part("images", reg["hymenoptera_data.zip"], ".", ".",
                     tuple(f"hymenoptera_data/{s}/{c}/" for s in ("train", "val") for c in ("ants", "bees")))]
    if name == "oxford_pets":
        return [Part("images", reg["images.tar.gz"], "oxford-iiit-pet", "oxford-iiit-pet", ("oxford-iiit-pet/images/",)),
                Part("annotations", reg["annotations.tar.gz"], "oxford-iiit-pet", "oxford-iiit-pet",
                     ("oxford-iiit-pet/annotations/trimaps/", "oxford-iiit-pet/annotations/trainval.txt",
                      "oxford-iiit-pet/annotations/test.txt"))]
    raise KeyError(name)


def status(name: str, root: Path, full: bool = False) -> dict[str, list[Problem]]:
    """``{part: problems}`` of a dataset in ``root`` without changing anything (``full``: re-hash every file)."""
    info = registry.get(name)
    manifest = _load_manifest(root, name)
    result = {}
    for part in parts_of(name):
        entry = manifest["parts"].get(part.key)
        result[part.key] = (_manifest_problems(root, entry, full=full) if entry is not None
                            else _layout_problems(root, info, part))
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m torch_book.data",
                                     description="Show or verify the course's datasets in the data root.")
    parser.add_argument("command", choices=["status", "verify"],
                        help="status: sizes against the manifest (fast); verify: re-hash every file")
    parser.add_argument("names", nargs="*", help=f"datasets (default: all): {', '.join(registry.REGISTRY)}")
    args = parser.parse_args(argv)
    root = data_root()
    print(f"data root: {root}")
    bad = 0
    for name in args.names or list(registry.REGISTRY):
        for key, problems in status(name, root, full=args.command == "verify").items():
            state = "ok" if not problems else "MISSING" if all(p.missing for p in problems) else "DAMAGED"
            bad += state == "DAMAGED"
            print(f"{state:<8} {name}/{key}")
            for p in problems[:10]:
                print(f"           {p}")
            if len(problems) > 10:
                print(f"           … ещё {len(problems) - 10}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
