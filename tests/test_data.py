"""The data layer: stand-ins in the real formats, real files left alone, clear errors in full mode."""

import dataclasses
import gzip
import hashlib
import io
import os
import threading
import urllib.error
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
import torchvision
import torchvision.transforms as T
from torch import nn

from torch_book import data, download, modes, registry, standins
from torch_book.registry import FileSpec


@pytest.fixture
def offline(monkeypatch, data_root, no_network):
    """fast+offline: the only mode that may use stand-ins."""
    monkeypatch.setenv(modes.OFFLINE_VAR, "1")
    monkeypatch.setenv(modes.FAST_VAR, "1")
    return data_root


@pytest.fixture
def full_offline(monkeypatch, data_root, no_network):
    monkeypatch.setenv(modes.OFFLINE_VAR, "1")
    monkeypatch.setenv(modes.FAST_VAR, "0")
    return data_root


def test_real_torchvision_classes_read_the_standins(offline):
    root = standins.standin_root(offline)
    standins.mnist(root)
    standins.fashion_mnist(root)
    standins.gtsrb(root)
    mn = torchvision.datasets.MNIST(str(root), train=True)
    assert len(mn) == standins.SPLIT_SIZES["train"] and mn.data.shape[1:] == (28, 28)
    assert torchvision.datasets.FashionMNIST(str(root), train=False).targets.unique().numel() == 10
    tr = torchvision.datasets.GTSRB(str(root), split="train")
    te = torchvision.datasets.GTSRB(str(root), split="test")
    assert {y for _, y in tr._samples} == set(range(43)) and len(te) > 0
    assert tr[0][0].mode == "RGB"
    pets = torchvision.datasets.OxfordIIITPet(str(standins.oxford_pets(root)), target_types="segmentation")
    img, mask = pets[0]
    assert img.size == mask.size and set(mask.getdata()) <= {1, 2, 3}


def test_cifar_standin_is_read_by_the_real_reader_code(offline):
    root = standins.standin_root(offline)
    standins.cifar10(root)
    # the published checksums do not match synthetic files, so the plain class refuses them …
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        torchvision.datasets.CIFAR10(str(root))
    # … and the subclass that only swaps the checksums reads them with torchvision's own code
    ds = data.StandInCIFAR10(str(root), train=False)
    assert isinstance(ds, torchvision.datasets.CIFAR10)
    assert ds.data.shape == (500, 32, 32, 3) and ds.classes == standins.CIFAR_CLASSES


def test_helpers_announce_and_mark_standins(offline, capsys):
    data._announced.clear()
    ds = data.mnist(train=True)
    out = capsys.readouterr().out
    assert data.is_standin(ds) and "SYNTHETIC STAND-IN" in out and "СИНТЕТИЧЕСКИЕ" in out
    assert "не найдены: train-images-idx3-ubyte" in out
    assert data.is_standin(data.hymenoptera_dir()) and data.is_standin(data.names_dir())
    names = data.load_names()
    assert len(names) == 18
    share = len(names["Russian"]) / sum(map(len, names.values()))
    assert 0.4 < share < 0.55  # the real data's majority class is ≈ 47 % Russian


def test_standins_are_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    standins.mnist(a)
    standins.mnist(b)
    for f in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert (a / "MNIST/raw" / f).read_bytes() == (b / "MNIST/raw" / f).read_bytes()


def _fit_small_cnn(ds, test, channels, n_classes, size):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        nn.Linear(32 * 16, n_classes),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    for _ in range(3):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    with torch.no_grad():
        x, y = next(iter(torch.utils.data.DataLoader(test, batch_size=len(test))))
        return (model(x).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "gtsrb"])
def test_a_small_cnn_beats_chance_on_the_standins(monkeypatch, offline, name):
    monkeypatch.setenv(modes.FAST_VAR, "1")  # fixed subsets keep this test to seconds
    tf = T.Compose([T.Resize((32, 32)), T.ToTensor()])
    if name == "gtsrb":
        train, test, channels, k = data.gtsrb("train", transform=tf), data.gtsrb("test", transform=tf), 3, 43
    else:
        fn = getattr(data, name)
        channels = 3 if name == "cifar10" else 1
        train, test, k = fn(train=True, transform=tf, fast_size=640), fn(train=False, transform=tf, fast_size=300), 10
    acc = _fit_small_cnn(train, test, channels, k, 32)
    assert acc > 3 / k, f"{name}: accuracy {acc:.2f} is not above chance ({1 / k:.2f})"


def test_real_files_are_used_untouched(full_offline, publisher):
    # lay out "real" MNIST files where torchvision keeps them (their content is the fake publisher's)
    raw = _place(publisher, full_offline, unpacked=True)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.iterdir()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in raw.iterdir()}
    ds = data.mnist(train=True)
    assert not data.is_standin(ds)
    assert not standins.standin_root(full_offline).exists()
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.iterdir()} == before
    assert {p.name: p.stat().st_mtime_ns for p in raw.iterdir()} == mtimes


def test_full_mode_without_data_is_a_clear_error(monkeypatch, data_root):
    monkeypatch.setenv(modes.OFFLINE_VAR, "0")
    monkeypatch.setenv(modes.FAST_VAR, "0")

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(download, "_stream", unreachable)
    monkeypatch.setattr(download.time, "sleep", lambda s: None)  # the retries' backoff
    with pytest.raises(data.DataUnavailableError) as err:
        data.mnist(train=True)
    text = str(err.value)
    assert "MNIST" in text and "ossci-datasets" in text and "no route to host" in text
    assert "TORCH_BOOK_OFFLINE=1" in text and "data/README.md" in text and "%env" in text
    for name in data._IDX:  # every missing file is listed, not only the first
        assert f"{name}.gz" in text
    assert not standins.standin_root(data_root).exists(), "full mode must never fall back to stand-ins"
    assert not list((data_root / "MNIST" / "raw").glob("*.gz")), "nothing partial is left in the cache"


def test_fast_mode_subsets_are_fixed_and_keep_classes(monkeypatch, offline):
    monkeypatch.setenv(modes.FAST_VAR, "1")
    a, b = data.cifar10(train=True, fast_size=100), data.cifar10(train=True, fast_size=100)
    assert len(a) == 100 and a.indices == b.indices and a.classes == standins.CIFAR_CLASSES
    assert len(a.targets) == 100


def test_offline_pretrained_weights_are_announced_not_faked(offline, capsys):
    import torchvision.models as models

    from torch_book.pretrained import load_pretrained

    model, loaded = load_pretrained(models.resnet18, models.ResNet18_Weights.DEFAULT)
    assert not loaded and isinstance(model, nn.Module)
    assert "RANDOMLY INITIALISED" in capsys.readouterr().out


# ----------------------------------------------------------------------------- a fake publisher's MNIST


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def publisher_files(tmp_path_factory):
    """MNIST as its publisher ships it (four .gz files), made of stand-in bytes, with their hashes."""
    src = tmp_path_factory.mktemp("publisher")
    standins.mnist(src)
    raw = src / "MNIST" / "raw"
    files, unpacked = {}, {}
    for name in data._IDX:
        body = (raw / name).read_bytes()
        files[name + ".gz"] = gzip.compress(body, mtime=0)
        unpacked[name] = body
    return files, unpacked


@pytest.fixture
def publisher(monkeypatch, publisher_files):
    """The registry entry of MNIST pointed at the fake publisher (pinned sha256 of archives and unpacked files)."""
    files, unpacked = publisher_files
    specs = tuple(FileSpec(n, (f"http://127.0.0.1:9/{n}",), sha256=_sha(b), size=len(b)) for n, b in files.items())
    pins = {f"MNIST/raw/{n}": (len(b), _sha(b)) for n, b in unpacked.items()}
    monkeypatch.setitem(registry.REGISTRY, "mnist", dataclasses.replace(registry.get("mnist"), files=specs, unpacked=pins))
    return publisher_files


def _place(publisher, root, archives=(), unpacked=()):
    """Put the publisher's .gz archives and/or unpacked files where data/README.md says."""
    files, raw_files = publisher
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in data._IDX if archives is True else archives:
        (raw / (name + ".gz")).write_bytes(files[name + ".gz"])
    for name in data._IDX if unpacked is True else unpacked:
        (raw / name).write_bytes(raw_files[name])
    return raw


def test_full_offline_never_uses_standins_and_lists_every_missing_file(full_offline, publisher):
    _place(publisher, full_offline, unpacked=["train-images-idx3-ubyte"])
    with pytest.raises(data.DataUnavailableError) as err:
        data.mnist(train=True)
    text = str(err.value)
    assert text.splitlines()[0].startswith("MNIST handwritten digits is not available")
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in text
    assert "никогда" in text and "%env TORCH_BOOK_FAST=1" in text and "%env TORCH_BOOK_OFFLINE=1" in text
    assert not standins.standin_root(full_offline).exists()


def test_hand_placed_archives_are_used_in_offline_mode(full_offline, publisher, capsys):
    raw = _place(publisher, full_offline, archives=True)
    ds = data.mnist(train=False)
    assert not data.is_standin(ds) and len(ds) == standins.SPLIT_SIZES["test"]
    assert "SYNTHETIC" not in capsys.readouterr().out
    assert (full_offline / ".manifests" / "mnist.json").is_file()
    assert all((raw / n).is_file() for n in data._IDX)


def test_a_truncated_raw_file_is_repaired_from_its_archive(full_offline, publisher):
    raw = _place(publisher, full_offline, archives=True)
    data.mnist(train=True)  # unpacks, writes the manifest
    victim = raw / "train-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:5000])
    ds = data.mnist(train=True)  # the manifest's sizes catch it; the archive repairs it
    assert victim.stat().st_size == len(publisher[1]["train-images-idx3-ubyte"]) and len(ds) > 0


def test_a_truncated_raw_file_without_archive_is_explained(full_offline, publisher, monkeypatch, capsys):
    raw = _place(publisher, full_offline, unpacked=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(publisher[1]["t10k-images-idx3-ubyte"][:5000])
    with pytest.raises(data.DataUnavailableError) as err:
        data.mnist(train=False)
    assert "повреждён" in str(err.value) and "t10k-images-idx3-ubyte" in str(err.value)
    assert "shape" not in str(err.value)
    monkeypatch.setenv(modes.FAST_VAR, "1")  # fast+offline: a stand-in, and it says why
    data._announced.clear()
    assert data.is_standin(data.mnist(train=False))
    assert "повреждены или не найдены: t10k-images-idx3-ubyte" in capsys.readouterr().out


def test_a_reader_error_is_explained_not_download_true(full_offline):
    def broken():
        raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")

    with pytest.raises(data.DataUnavailableError, match="python -m torch_book.data verify cifar10") as err:
        data._open("cifar10", full_offline, broken)
    assert "download=True" not in str(err.value).split("\n", 1)[1]


def test_damaged_cifar_batches_are_named(full_offline):
    standins.cifar10(full_offline)  # right layout, wrong bytes: not the published batches
    with pytest.raises(data.DataUnavailableError, match="data_batch_1: md5 не совпадает"):
        data.cifar10(train=True)


class _Files(BaseHTTPRequestHandler):
    files: dict = {}
    counts: dict = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        _Files.counts[name] = _Files.counts.get(name, 0) + 1
        body = _Files.files.get(name)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


def test_a_half_unpacked_folder_online_fetches_only_what_is_missing(monkeypatch, data_root, publisher):
    monkeypatch.setenv(modes.OFFLINE_VAR, "0")
    monkeypatch.setenv(modes.FAST_VAR, "1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        info = registry.get("mnist")
        specs = tuple(dataclasses.replace(f, urls=(base + f.filename,)) for f in info.files)
        monkeypatch.setitem(registry.REGISTRY, "mnist", dataclasses.replace(info, files=specs))
        _Files.files, _Files.counts = dict(publisher[0]), {}
        _place(publisher, data_root, archives=["train-images-idx3-ubyte"], unpacked=["train-labels-idx1-ubyte"])
        ds = data.mnist(train=True)
        assert not data.is_standin(ds)
        assert _Files.counts == {"t10k-images-idx3-ubyte.gz": 1, "t10k-labels-idx1-ubyte.gz": 1}
    finally:
        httpd.shutdown()


# ----------------------------------------------------------------------------- GTSRB layouts


def test_gtsrb_official_training_layout_is_mapped_and_train_needs_no_test_csv(full_offline, capsys):
    standins.gtsrb(full_offline)
    base = full_offline / "gtsrb"
    (base / "GTSRB" / "Final_Training").mkdir()
    os.replace(base / "GTSRB" / "Training", base / "GTSRB" / "Final_Training" / "Images")
    (base / "GT-final_test.csv").unlink()  # a train-only copy
    ds = data.gtsrb("train")
    assert not data.is_standin(ds) and len({y for _, y in ds._samples}) == 43
    assert "Final_Training" in capsys.readouterr().out


def test_gtsrb_test_csv_without_class_ids_is_explained(full_offline, monkeypatch):
    standins.gtsrb(full_offline)
    n = len(list((full_offline / "gtsrb" / "GTSRB" / "Final_Test" / "Images").glob("*.ppm")))
    info = registry.get("gtsrb")
    monkeypatch.setitem(registry.REGISTRY, "gtsrb", dataclasses.replace(
        info, layout={"gtsrb/GTSRB/Final_Test/Images": ("*.ppm", n)}))
    csv_path = full_offline / "gtsrb" / "GT-final_test.csv"
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(";".join(row.split(";")[:-1]) for row in lines) + "\n")  # no ClassId column
    with pytest.raises(data.DataUnavailableError, match="ClassId"):
        data.gtsrb("test")


def test_hand_placed_names_zip_is_checked_by_its_unpacked_files(full_offline, monkeypatch, tmp_path):
    src = tmp_path / "src"
    standins.names(src)
    buf = io.BytesIO()
    pins = {}
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted((src / "char_rnn" / "data" / "names").glob("*.txt")):
            zf.writestr(f"data/names/{p.name}", p.read_bytes())
            pins[f"char_rnn/data/names/{p.name}"] = (p.stat().st_size, _sha(p.read_bytes()))
    (full_offline / "char_rnn").mkdir(parents=True)
    (full_offline / "char_rnn" / "data.zip").write_bytes(buf.getvalue())
    monkeypatch.setitem(registry.REGISTRY, "names", dataclasses.replace(registry.get("names"), unpacked=pins))
    assert len(data.load_names()) == 18 and not data.is_standin(data.names_dir())
    first = sorted(pins)[0]
    body = (full_offline / first).read_bytes()
    (full_offline / first).write_bytes(b"Q" + body[1:])  # same size, other content
    (full_offline / ".manifests" / "names.json").unlink()  # a copy placed by hand, never verified
    (full_offline / "char_rnn" / "data.zip").unlink()
    with pytest.raises(data.DataUnavailableError, match="sha256 не совпадает"):
        data.names_dir()


def test_status_and_verify_report_damage(full_offline, publisher, capsys):
    raw = _place(publisher, full_offline, archives=True)
    data.mnist(train=True)
    assert data.main(["status", "mnist"]) == 0
    victim = raw / "t10k-labels-idx1-ubyte"
    victim.write_bytes(b"\xff" + victim.read_bytes()[1:])  # same size, other bytes
    assert data.main(["status", "mnist"]) == 0 and data.main(["verify", "mnist"]) == 1
    assert "DAMAGED  mnist/t10k-labels-idx1-ubyte" in capsys.readouterr().out


def test_full_offline_refuses_random_weights(full_offline):
    import torchvision.models as models

    from torch_book.pretrained import WeightsUnavailableError, load_pretrained

    with pytest.raises(WeightsUnavailableError, match="full\\+offline"):
        load_pretrained(models.resnet18, models.ResNet18_Weights.DEFAULT)


def test_sklearn_bundled_sets_are_noted_as_real(monkeypatch):
    from torch_book import report

    monkeypatch.setattr(report, "_data_used", {})
    bunch = data.sklearn("iris")
    assert bunch.data.shape == (150, 4) and report._data_used == {"sklearn.iris": False}
    with pytest.raises(ValueError, match="load_nothing"):
        data.sklearn("nothing")
