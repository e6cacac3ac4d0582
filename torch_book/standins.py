"""Small, deterministic, *learnable* stand-in datasets written in each dataset's real on-disk format.

Used only in offline mode when the real files are not in the cache, so the real torchvision
readers still run in CI. They live under ``<data root>/standin-v1/``, never beside real data,
so a later full-mode run cannot mistake them for the real thing.
"""

from __future__ import annotations

import csv
import os
import pickle
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock
from PIL import Image, ImageDraw, ImageFont

VERSION = "v1"
SEED = 1234


def standin_root(data_root: Path) -> Path:
    return data_root / f"standin-{VERSION}"


# ----------------------------------------------------------------------------- helpers


def _rng(name: str, split: str) -> np.random.Generator:
    return np.random.default_rng([SEED, sum(map(ord, name)), sum(map(ord, split))])


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def _class_templates(rng: np.random.Generator, n_classes: int, hw: int, channels: int) -> np.ndarray:
    """One smooth random pattern per class: low-frequency noise upsampled to ``hw``."""
    coarse = rng.uniform(0, 1, size=(n_classes, 4, 4, channels))
    up = np.kron(coarse, np.ones((1, hw // 4, hw // 4, 1)))
    # blur a little so the blocks become blobs
    for axis in (1, 2):
        up = (up + np.roll(up, 1, axis) + np.roll(up, -1, axis)) / 3
    return up


def _noisy_samples(rng, templates, labels, shift: int, noise: float) -> np.ndarray:
    out = np.empty((len(labels), *templates.shape[1:]), dtype=np.float64)
    for i, y in enumerate(labels):
        dx, dy = rng.integers(-shift, shift + 1, size=2)
        img = np.roll(templates[y], (dy, dx), axis=(0, 1))
        out[i] = img * rng.uniform(0.7, 1.0) + rng.normal(0, noise, size=img.shape)
    return (np.clip(out, 0, 1) * 255).astype(np.uint8)


def _balanced_labels(rng, n: int, n_classes: int) -> np.ndarray:
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    return labels


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format MNIST uses (magic 0x08, big-endian sizes)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _atomic_dir(final: Path, build) -> Path:
    """Build a directory in a temporary sibling and rename it into place; locked across processes."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock"):
        if final.is_dir():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
        try:
            build(tmp)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            try:  # the lock has done its job; a waiter finds the folder built (no .lock files pile up)
                os.unlink(str(final) + ".lock")
            except OSError:
                pass
    return final


# ----------------------------------------------------------------------------- MNIST family

SPLIT_SIZES = {"train": 2000, "test": 500}


def _digit_images(rng, labels: np.ndarray) -> np.ndarray:
    """Digits drawn with a font, randomly scaled, rotated and shifted: MNIST-like and learnable."""
    out = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    fonts = {s: _font(s) for s in (18, 20, 22, 24)}
    for i, y in enumerate(labels):
        canvas = Image.new("L", (28, 28), 0)
        draw = ImageDraw.Draw(canvas)
        font = fonts[int(rng.choice(list(fonts)))]
        draw.text((14 + rng.integers(-2, 3), 14 + rng.integers(-2, 3)), str(int(y)), fill=255, font=font, anchor="mm")
        canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
        arr = np.asarray(canvas, dtype=np.float64) + rng.normal(0, 12, size=(28, 28))
        out[i] = np.clip(arr, 0, 255).astype(np.uint8)
    return out


def _write_mnist_family(raw: Path, name: str, images_fn) -> None:
    raw.mkdir()
    for split, prefix in (("train", "train"), ("test", "t10k")):
        rng = _rng(name, split)
        labels = _balanced_labels(rng, SPLIT_SIZES[split], 10)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images_fn(rng, labels))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))


def mnist(root: Path) -> Path:
    """``root/MNIST/raw`` in IDX format, readable by ``torchvision.datasets.MNIST(root)``."""
    _atomic_dir(root / "MNIST", lambda tmp: _write_mnist_family(tmp / "raw", "mnist", _digit_images))
    return root


def _fashion_images(rng, labels):
    templates = _class_templates(np.random.default_rng(SEED + 1), 10, 28, 1)[..., 0]
    return _noisy_samples(rng, templates, labels, shift=2, noise=0.12)


def fashion_mnist(root: Path) -> Path:
    """``root/FashionMNIST/raw``, readable by ``torchvision.datasets.FashionMNIST(root)``."""
    _atomic_dir(root / "FashionMNIST", lambda tmp: _write_mnist_family(tmp / "raw", "fashion", _fashion_images))
    return root


# ----------------------------------------------------------------------------- CIFAR-10

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR_BATCH = 400  # per data_batch_i; five of them, as in the real set


def _cifar_images(rng, labels) -> np.ndarray:
    templates = _class_templates(np.random.default_rng(SEED + 2), 10, 32, 3)
    return _noisy_samples(rng, templates, labels, shift=3, noise=0.10)  # N, 32, 32, 3


def _write_cifar(folder: Path) -> None:
    batches = [(f"data_batch_{i}", CIFAR_BATCH) for i in range(1, 6)] + [("test_batch", 500)]
    for fname, n in batches:
        rng = _rng("cifar10", fname)
        labels = _balanced_labels(rng, n, 10)
        data = _cifar_images(rng, labels).transpose(0, 3, 1, 2).reshape(n, -1)  # rows of 3072, channel-major
        entry = {"batch_label": fname, "labels": labels.tolist(), "data": data,
                 "filenames": [f"standin_{fname}_{i}.png" for i in range(n)]}
        with open(folder / fname, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_CLASSES, "num_cases_per_batch": CIFAR_BATCH, "num_vis": 3072}, f)


def cifar10(root: Path) -> Path:
    """``root/cifar-10-batches-py`` as python pickles (see :func:`cifar10_checksums`)."""
    _atomic_dir(root / "cifar-10-batches-py", _write_cifar)
    return root


def cifar10_checksums(root: Path) -> dict[str, str]:
    """MD5 of each stand-in pickle, to give the real CIFAR10 reader in place of the published ones."""
    from torchvision.datasets.utils import calculate_md5

    folder = root / "cifar-10-batches-py"
    return {p.name: calculate_md5(str(p)) for p in sorted(folder.iterdir()) if p.is_file()}


# ----------------------------------------------------------------------------- GTSRB

GTSRB_CLASSES = 43
GTSRB_PER_CLASS = {"train": 20, "test": 6}
_SIGN_COLOURS = [(200, 30, 30), (30, 60, 190), (230, 200, 30), (240, 240, 240)]


def _sign(rng, y: int) -> Image.Image:
    """A sign whose shape, colour and inner number encode the class, on a random background."""
    size = int(rng.integers(28, 49))  # real GTSRB images vary in size too (15–250 px)
    bg = tuple(int(c) for c in rng.integers(40, 160, size=3))
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    m = int(size * rng.uniform(0.08, 0.16))
    box = (m, m, size - m, size - m)
    colour = _SIGN_COLOURS[y % 4]
    shape = (y // 4) % 3
    if shape == 0:
        draw.ellipse(box, fill=colour, outline=(0, 0, 0))
    elif shape == 1:
        draw.polygon([(size / 2, m), (size - m, size - m), (m, size - m)], fill=colour, outline=(0, 0, 0))
    else:
        draw.rectangle(box, fill=colour, outline=(0, 0, 0))
    draw.text((size / 2, size / 2 + 1), str(y), fill=(0, 0, 0), font=_font(max(8, size // 3)), anchor="mm")
    return img


def _write_gtsrb(base: Path) -> None:
    train = base / "GTSRB" / "Training"
    test = base / "GTSRB" / "Final_Test" / "Images"
    rng = _rng("gtsrb", "train")
    for y in range(GTSRB_CLASSES):
        folder = train / f"{y:05d}"
        folder.mkdir(parents=True)
        rows = []
        for i in range(GTSRB_PER_CLASS["train"]):
            name = f"00000_{i:05d}.ppm"
            img = _sign(rng, y)
            img.save(folder / name)
            rows.append([name, img.width, img.height, 0, 0, img.width, img.height, y])
        with open(folder / f"GT-{y:05d}.csv", "w", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"])
            w.writerows(rows)
    test.mkdir(parents=True)
    rng = _rng("gtsrb", "test")
    labels = _balanced_labels(rng, GTSRB_CLASSES * GTSRB_PER_CLASS["test"], GTSRB_CLASSES)
    with open(base / "GT-final_test.csv", "w", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"])
        for i, y in enumerate(labels):
            name = f"{i:05d}.ppm"
            img = _sign(rng, int(y))
            img.save(test / name)
            w.writerow([name, img.width, img.height, 0, 0, img.width, img.height, int(y)])


def gtsrb(root: Path) -> Path:
    """``root/gtsrb`` with ``GTSRB/Training/000NN/*.ppm``, ``GTSRB/Final_Test/Images`` and ``GT-final_test.csv``."""
    _atomic_dir(root / "gtsrb", _write_gtsrb)
    return root


# ----------------------------------------------------------------------------- names (char-RNN)

NAMES_LANGUAGES = [
    "Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek", "Irish",
    "Italian", "Japanese", "Korean", "Polish", "Portuguese", "Russian", "Scottish", "Spanish", "Vietnamese",
]


def _write_names(folder: Path) -> None:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for k, lang in enumerate(NAMES_LANGUAGES):
        rng = _rng("names", lang)
        # each language gets its own syllables and endings, so names are classifiable
        syllables = ["".join(rng.choice(list(letters), size=int(rng.integers(2, 4)))) for _ in range(12)]
        ending = "".join(rng.choice(list(letters), size=2))
        count = 820 if lang == "Russian" else 30 + 3 * k  # Russian dominates (~47 %), as in the real data
        names = set()
        while len(names) < count:
            parts = rng.choice(syllables, size=int(rng.integers(2, 4)))
            names.add(("".join(parts) + ending).capitalize())
        (folder / f"{lang}.txt").write_text("\n".join(sorted(names)) + "\n", encoding="utf-8")


def names(root: Path) -> Path:
    """``root/char_rnn/data/names/<Language>.txt``, one surname per line, as in the tutorial's data.zip."""
    _atomic_dir(root / "char_rnn", lambda tmp: _write_names(_mkdir(tmp / "data" / "names")))
    return root


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


# ----------------------------------------------------------------------------- ants and bees


def _insect(rng, cls: str, size: int = 128) -> Image.Image:
    """Ants: dark elongated bodies on green; bees: yellow-black striped ovals on flowers' colours."""
    bg = (int(rng.integers(60, 120)), int(rng.integers(110, 170)), int(rng.integers(40, 90)))
    if cls == "bees":
        bg = (int(rng.integers(150, 230)), int(rng.integers(90, 160)), int(rng.integers(150, 230)))
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    cx, cy = rng.integers(size // 3, 2 * size // 3, size=2)
    if cls == "ants":
        for k in range(3):
            r = int(rng.integers(8, 14))
            x = cx + (k - 1) * r * 1.6
            draw.ellipse((x - r, cy - r * 0.7, x + r, cy + r * 0.7), fill=(30, 20, 15))
    else:
        w, h = int(rng.integers(28, 40)), int(rng.integers(18, 26))
        draw.ellipse((cx - w, cy - h, cx + w, cy + h), fill=(235, 190, 30))
        for k in range(-2, 3, 2):
            draw.rectangle((cx + k * w // 5 - 3, cy - h + 2, cx + k * w // 5 + 3, cy + h - 2), fill=(20, 20, 20))
    arr = np.asarray(img, dtype=np.float64) + rng.normal(0, 10, size=(size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


HYMENOPTERA_SIZES = {"train": 40, "val": 20}  # per class


def _write_hymenoptera(base: Path) -> None:
    for split, n in HYMENOPTERA_SIZES.items():
        for cls in ("ants", "bees"):
            folder = base / split / cls
            folder.mkdir(parents=True)
            rng = _rng("hymenoptera", split + cls)
            for i in range(n):
                _insect(rng, cls).save(folder / f"standin_{i:03d}.jpg", quality=90)


def hymenoptera(root: Path) -> Path:
    """``root/hymenoptera_data/{train,val}/{ants,bees}/*.jpg``, as in the tutorial's zip."""
    _atomic_dir(root / "hymenoptera_data", _write_hymenoptera)
    return root


# ----------------------------------------------------------------------------- Oxford-IIIT Pet

PET_BREEDS = [  # (name, species: 1 cat, 2 dog) — a few of the real 37 breeds, in the real naming scheme
    ("Abyssinian", 1), ("Bengal", 1), ("Persian", 1), ("beagle", 2), ("boxer", 2), ("pug", 2),
]
PET_SIZES = {"trainval": 16, "test": 6}  # per breed


def _pet(rng, species: int, size: int = 96) -> tuple[Image.Image, Image.Image]:
    """An image with one 'pet' blob and its trimap (1 pet, 2 background, 3 border), as in the real set."""
    bg = rng.integers(60, 200, size=3)
    yy, xx = np.mgrid[0:size, 0:size]
    texture = 25 * np.sin(xx / rng.uniform(3, 8)) * np.cos(yy / rng.uniform(3, 8))
    img = np.clip(bg[None, None, :] + texture[..., None] + rng.normal(0, 8, (size, size, 3)), 0, 255)
    cx, cy = rng.uniform(0.35, 0.65, size=2) * size
    a, b = rng.uniform(0.18, 0.32, size=2) * size
    d = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2
    inside = d <= 1.0
    colour = np.array([200, 140, 60]) if species == 1 else np.array([90, 60, 40])
    img[inside] = np.clip(colour + rng.normal(0, 12, (inside.sum(), 3)), 0, 255)
    trimap = np.full((size, size), 2, dtype=np.uint8)
    trimap[inside] = 1
    trimap[(d > 0.8) & (d < 1.2)] = 3
    return Image.fromarray(img.astype(np.uint8)), Image.fromarray(trimap)


def _write_pets(base: Path) -> None:
    images = base / "images"
    trimaps = base / "annotations" / "trimaps"
    images.mkdir(parents=True)
    trimaps.mkdir(parents=True)
    for split, per_breed in PET_SIZES.items():
        lines = []
        for label, (breed, species) in enumerate(PET_BREEDS, start=1):
            rng = _rng("pets", split + breed)
            for i in range(per_breed):
                image_id = f"{breed}_{(1 if split == 'trainval' else 500) + i}"
                img, tri = _pet(rng, species)
                img.save(images / f"{image_id}.jpg", quality=90)
                tri.save(trimaps / f"{image_id}.png")
                lines.append(f"{image_id} {label} {species} {label}")
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")


def oxford_pets(root: Path) -> Path:
    """``root/oxford-iiit-pet/{images,annotations/trimaps}`` with trainval.txt and test.txt."""
    _atomic_dir(root / "oxford-iiit-pet", _write_pets)
    return root
