"""The on-device loader yields what the DataLoader path yields, for the same seed."""

import pytest
import torch
import torchvision.transforms as T

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
