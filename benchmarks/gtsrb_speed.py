"""Where the GTSRB homework reference spends its time (issue 13, item 4), measured on this machine.

Times, per training image, on the same N images of the real GTSRB training split (TORCH_BOOK_DATA must point
at real data; full mode is forced):

* ``pil``    — what a DataLoader worker does each epoch in the first reference: decode the PPM and run
  ``train_tf`` (Resize, RandomAffine, ColorJitter, …) on the PIL image;
* ``cached`` — ``train_tf`` on images decoded and resized to 32×32 once (uint8 tensors kept in memory);
* ``chunks`` — ``train_tf`` on whole batches of cached images, in chunks of 16 (each chunk its own parameters);
* ``step``   — one forward/backward/AdamW step of the reference CNN (width 32 and 16, batch 128);
* ``loader`` — the current reference: ``DeviceLoader`` over the cached images, batched ``train_tf``, width 16;
* ``plain``  — a plain BN-CNN step on the cached tensors without augmentation: the speed the issue compares with.

Run it with ``OMP_NUM_THREADS=1`` too: the test run (conftest.py) uses one thread per notebook.

    TORCH_BOOK_DATA=/path/to/real python benchmarks/gtsrb_speed.py [N]
"""

from __future__ import annotations

import os
import sys
import time

os.environ["TORCH_BOOK_FAST"] = "0"
os.environ.setdefault("TORCH_BOOK_OFFLINE", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.transforms import v2 as T  # noqa: E402

from torch_book import data  # noqa: E402
from torch_book.loaders import DeviceLoader  # noqa: E402

MEAN, STD = (0.34, 0.31, 0.32), (0.27, 0.26, 0.27)


def transforms(size=32):
    train_tf = T.Compose([T.ToImage(), T.Resize((size, size), antialias=True),
                          T.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5),
                          T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.3),
                          T.ToDtype(torch.float32, scale=True), T.Normalize(MEAN, STD)])
    return train_tf


def model(width=32, classes=43):
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    w = width
    return nn.Sequential(*block(3, w), *block(w, 2 * w), *block(2 * w, 4 * w), nn.Flatten(), nn.Dropout(0.3),
                         nn.Linear(4 * w * 16, 4 * w), nn.ReLU(), nn.Dropout(0.3), nn.Linear(4 * w, classes))


def plain_model(classes=43):
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 8 * 8, classes))


def per_image(seconds, n):
    return f"{seconds / n * 1e3:7.3f} ms/image  ({n / seconds:8.0f} images/s)"


def in_batches(x, y, batch=128):
    """Consecutive full batches of the tensors ``x``, ``y``."""
    for i in range(0, len(x) - batch + 1, batch):
        yield x[i:i + batch], y[i:i + batch]


def steps(net, batches):
    """Seconds of AdamW training steps over ``batches`` and the number of images they held."""
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    net.train()
    start, seen = time.perf_counter(), 0
    for x, y in batches:
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(y)
    return time.perf_counter() - start, seen


def main(n: int) -> None:
    ds = data.gtsrb(split="train")
    assert not data.is_standin(ds), "point TORCH_BOOK_DATA at the real GTSRB"
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:n].tolist()
    train_tf = transforms()
    torch.manual_seed(0)

    start = time.perf_counter()
    pil = [ds[i] for i in idx]
    decode = time.perf_counter() - start
    start = time.perf_counter()
    for img, _ in pil:
        train_tf(img)
    tf_pil = time.perf_counter() - start
    print(f"threads {torch.get_num_threads()}, N = {n}")
    print("decode PPM              ", per_image(decode, n))
    print("train_tf on PIL         ", per_image(tf_pil, n))

    resize = T.Compose([T.ToImage(), T.Resize((32, 32), antialias=True)])
    cached = torch.stack([resize(img) for img, _ in pil])
    targets = torch.tensor([t for _, t in pil])
    start = time.perf_counter()
    xs = torch.stack([train_tf(img) for img in cached])
    tf_cached = time.perf_counter() - start
    print("train_tf on cached 32×32", per_image(tf_cached, n))

    start = time.perf_counter()
    torch.cat([train_tf(chunk) for chunk in cached.split(16)])
    tf_chunks = time.perf_counter() - start
    print("train_tf, chunks of 16  ", per_image(tf_chunks, n))

    step, m = steps(model(), in_batches(xs, targets))
    print("reference CNN step, w=32", per_image(step, m))
    step16, m = steps(model(16), in_batches(xs, targets))
    print("reference CNN step, w=16", per_image(step16, m))
    loader = DeviceLoader(cached, targets, 128, shuffle=True, drop_last=True,
                          augment=lambda x: torch.cat([train_tf(chunk) for chunk in x.split(16)]),
                          generator=torch.Generator().manual_seed(0))
    for _ in loader:  # one untimed warm-up epoch
        pass
    current, seen = steps(model(16), loader)
    print("current reference (loader + train_tf + w=16 step)", per_image(current, seen))
    plain_x = T.Normalize(MEAN, STD)(cached.float() / 255)
    plain, m = steps(plain_model(), in_batches(plain_x, targets))
    print("plain BN-CNN step       ", per_image(plain, m))
    first = decode / n + tf_pil / n + step / m
    print(f"one process, per image: first reference (PIL path, w=32) {first * 1e3:.3f} ms, current "
          f"{current / seen * 1e3:.3f} ms, plain {plain / m * 1e3:.3f} ms; first/plain ×{first / (plain / m):.1f}, "
          f"current/plain ×{current / seen / (plain / m):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4096)
