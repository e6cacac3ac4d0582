"""The data layer: stand-ins in the real formats, real files left alone, clear errors in full mode."""

import hashlib
import urllib.error

import pytest
import torch
import torchvision
import torchvision.transforms as T
from torch import nn

from torch_book import data, download, modes, standins


@pytest.fixture
def offline(monkeypatch, data_root, no_network):
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
    ds = data.mnist(train=True)
    assert data.is_standin(ds) and "SYNTHETIC STAND-IN" in capsys.readouterr().out
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


def test_real_files_are_used_untouched(offline):
    # lay out "real" MNIST files where torchvision keeps them (their content is ours, the layout is real)
    standins.mnist(offline)
    raw = offline / "MNIST" / "raw"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.iterdir()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in raw.iterdir()}
    ds = data.mnist(train=True)
    assert not data.is_standin(ds)
    assert not standins.standin_root(offline).exists()
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.iterdir()} == before
    assert {p.name: p.stat().st_mtime_ns for p in raw.iterdir()} == mtimes


def test_full_mode_without_data_is_a_clear_error(monkeypatch, data_root):
    monkeypatch.setenv(modes.OFFLINE_VAR, "0")

    def unreachable(url, part, timeout, show_progress):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(download, "_stream", unreachable)
    monkeypatch.setattr(download.time, "sleep", lambda s: None)  # the retries' backoff
    with pytest.raises(data.DataUnavailableError) as err:
        data.mnist(train=True)
    text = str(err.value)
    assert "MNIST" in text and "ossci-datasets" in text and "no route to host" in text
    assert "TORCH_BOOK_OFFLINE=1" in text and "data/README.md" in text
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
