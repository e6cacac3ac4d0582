"""The on-device loader yields what the DataLoader path yields, for the same seed."""

import pickle

import pytest
import torch
import torchvision.transforms as T

import torch_book
from torch_book import data, loaders, modes


@pytest.fixture
def cifar(monkeypatch, data_root):
    monkeypatch.setenv(modes.OFFLINE_VAR, "1")
    monkeypatch.setenv(modes.FAST_VAR, "1")
    return data.cifar10(train=True, transform=T.ToTensor(), fast_size=300)


def test_same_samples_same_order_for_the_same_seed(cifar):
    kw = dict(batch_size=64, shuffle=True, device="cpu", normalize=((0.5,) * 3, (0.25,) * 3), seed=5)
    dl = loaders.make_loader(cifar, on_device=False, **kw)
    dev = loaders.make_loader(cifar, on_device=True, **kw)
    assert isinstance(dev, loaders.DeviceLoader) and len(dl) == len(dev) == 5
    for _epoch in range(2):  # the second epoch must match too
        pairs = list(zip(dl, dev, strict=True))
        for (x1, y1), (x2, y2) in pairs:
            assert torch.equal(y1, y2)
            torch.testing.assert_close(x1, x2)


def test_shuffle_changes_between_epochs_and_seeds(cifar):
    dev = loaders.make_loader(cifar, 300, True, "cpu", on_device=True, seed=1)
    first, second = next(iter(dev))[1], next(iter(dev))[1]
    other = next(iter(loaders.make_loader(cifar, 300, True, "cpu", on_device=True, seed=2)))[1]
    assert not torch.equal(first, second) and not torch.equal(first, other)
    assert torch.equal(first.sort().values, second.sort().values)  # same samples, new order


def test_as_tensors_follows_nested_subsets(cifar):
    images, targets = loaders.as_tensors(cifar)
    assert images.shape == (300, 3, 32, 32) and images.dtype == torch.uint8
    x, y = cifar[7]
    torch.testing.assert_close(images[7].float() / 255, x)
    assert targets[7].item() == y


def test_random_crop_flip_keeps_shape_and_content():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 32, 32)
    out = loaders.random_crop_flip(x, padding=4, generator=g)
    assert out.shape == x.shape
    same = loaders.random_crop_flip(x, padding=0, flip=False)
    torch.testing.assert_close(same, x)
    # a crop with padding shifts the image: the centre 24×24 block of a sample appears somewhere in its output
    flipped = loaders.random_crop_flip(x, padding=0, flip=True, generator=torch.Generator().manual_seed(1))
    for a, b in zip(flipped, x):
        assert torch.equal(a, b) or torch.equal(a, b.flip(-1))


def test_make_loader_picks_the_dataloader_on_cpu(cifar, monkeypatch):
    monkeypatch.setenv(modes.FAST_VAR, "0")
    assert not isinstance(loaders.make_loader(cifar, 32, False, "cpu"), loaders.DeviceLoader)


def test_worker_count_is_zero_where_workers_are_spawned(monkeypatch):
    import multiprocessing

    from torch_book import loaders

    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "spawn")
    assert loaders.worker_count(2) == 0
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "fork")
    assert loaders.worker_count(2) == 2 and loaders.worker_count(0) == 0


# ----------------------------------------------------------------------------- workers started by "spawn"


def test_dataloader_paths_work_with_spawned_workers(cifar, monkeypatch, data_root):
    """What Windows and macOS do: each worker is a fresh interpreter that gets the dataset by pickling.

    The course's datasets (fast subsets, the stand-in CIFAR reader, torchvision transforms) and the
    DataLoader that make_loader builds must survive that.
    """
    dl = loaders.make_loader(cifar, 100, True, "cpu", on_device=False, num_workers=1, seed=3)
    dl.loader.multiprocessing_context = "spawn"
    reference = loaders.make_loader(cifar, 100, True, "cpu", on_device=False, num_workers=0, seed=3)
    for (x1, y1), (x2, y2) in zip(torch_book.progress(dl), reference, strict=True):
        assert torch.equal(y1, y2) and torch.equal(x1, x2)
    # what a spawned worker does with the other datasets the course hands out: pickle them and read them back
    for ds in (cifar, data.mnist(train=False, transform=T.ToTensor(), fast_size=64)):
        copy = pickle.loads(pickle.dumps(ds))
        assert len(copy) == len(ds) and copy.classes == ds.classes
        assert torch.equal(copy[5][0], ds[5][0]) and copy[5][1] == ds[5][1]


_CHILD_PROCESS_SCRIPT = r"""
import gc, sys
import torch
from torch.utils.data import DataLoader, Dataset


class Collecting(Dataset):  # a worker that runs the garbage collector, as any real one eventually does
    def __len__(self):
        return 8

    def __getitem__(self, i):
        gc.collect()
        return torch.tensor(i)


def abandoned_iterator_then_new_workers():
    gc.disable()
    it = iter(DataLoader(Collecting(), batch_size=2, num_workers=1))
    next(it)
    cycle = [it]
    cycle.append(cycle)  # left in a reference cycle, as a loop stopped in a notebook leaves it
    del it, cycle
    list(DataLoader(Collecting(), batch_size=2, num_workers=1))
    gc.enable()
    gc.collect()


abandoned_iterator_then_new_workers()  # without the package's progress helper: the error appears
print("=== with torch_book.progress ===", file=sys.stderr, flush=True)
import torch_book  # noqa: E402

for i, _ in enumerate(torch_book.progress(DataLoader(Collecting(), batch_size=2, num_workers=1), disable=False)):
    if i == 1:
        break  # leaving early stops the workers at once
abandoned_iterator_then_new_workers()
print("finished", file=sys.stderr)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork start method only")
def test_progress_with_workers_prints_no_child_process_tracebacks(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(_CHILD_PROCESS_SCRIPT)
    err = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300).stderr
    plain, _, with_progress = err.partition("=== with torch_book.progress ===")
    assert "can only test a child process" in plain, "the scenario no longer provokes the error: " + err
    assert "finished" in with_progress
    assert "can only test a child process" not in with_progress, with_progress
