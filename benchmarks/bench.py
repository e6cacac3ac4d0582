"""Course benchmarks (not part of the test command): notebook wall times, training-helper overhead,
on-device loader vs DataLoader throughput. Prints a table and writes benchmarks/results.md.

    python benchmarks/bench.py                 # everything (fast + offline notebooks, CPU or GPU)
    python benchmarks/bench.py --skip-notebooks
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TORCH_BOOK_OFFLINE", "1")


def notebook_times() -> list[tuple[str, float]]:
    """Wall time of each lecture and homework source, fast + offline, one at a time, kernel start included."""
    from torch_book import homework, nbclean

    env = dict(os.environ, TORCH_BOOK_FAST="1", TORCH_BOOK_OFFLINE="1", OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    rows = []
    for path in nbclean.course_notebooks(REPO):
        if path.parent.name != "homework" and path.name.endswith("_homework.ipynb"):
            continue  # student copies are not run by the suite
        t0 = time.perf_counter()
        homework.execute(nbclean.read(path), cwd=path.parent, env=env, timeout=600)
        rows.append((path.relative_to(REPO).as_posix(), time.perf_counter() - t0))
        print(f"  {rows[-1][0]:<60} {rows[-1][1]:6.1f} s", flush=True)
    return rows


def _model(device):
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10),
    ).to(device)


def helper_vs_bare(device, batches, repeats=3) -> tuple[float, float]:
    """Images/s of torch_book.train.train_epoch and of a bare hand-written loop on the same model and batches."""
    import torch

    from torch_book.train import train_epoch

    loss_fn = torch.nn.CrossEntropyLoss()

    def bare(model, opt):
        model.train()
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

    def helper(model, opt):
        train_epoch(model, batches, loss_fn, opt, device)

    n = sum(len(y) for _, y in batches)
    rates = {}
    for name, fn in (("bare", bare), ("helper", helper)):
        times = []
        for _ in range(repeats):
            model = _model(device)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn(model, opt)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        rates[name] = n / statistics.median(times)
    return rates["helper"], rates["bare"]


def loader_rates(device, n_images: int, batch_size=256, epochs=3) -> tuple[float, float]:
    """Images/s delivered to ``device`` (with crop+flip augmentation) by DeviceLoader vs DataLoader."""
    import torch
    import torchvision.transforms as T

    from torch_book import data, loaders

    ds = data.cifar10(train=True, transform=T.ToTensor(), fast_size=n_images)
    rates = []
    for on_device in (True, False):
        loader = loaders.make_loader(ds, batch_size, True, device, augment=loaders.random_crop_flip,
                                     on_device=on_device, num_workers=0 if on_device else 2)
        for _ in loader:  # warm-up epoch (workers, caches)
            pass
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        count = 0
        for _ in range(epochs):
            for x, _ in loader:
                count += len(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(count / (time.perf_counter() - t0))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.md")
    args = parser.parse_args()
    import torch

    from torch_book.runtime import device_name, pick_device

    device = pick_device()
    torch.manual_seed(0)
    fast = device.type == "cpu"
    batches = [(torch.randn(128, 3, 32, 32, device=device), torch.randint(0, 10, (128,), device=device))
               for _ in range(10 if fast else 200)]
    lines = ["# torch_book benchmarks\n", f"Machine: {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPU cores, device {device_name(device)}, torch {torch.__version__}.\n"]
    if device.type == "cuda":  # the two loader paths agree on the GPU too (same seed, no augmentation)
        import torchvision.transforms as T

        from torch_book import data, loaders

        ds = data.cifar10(train=True, transform=T.ToTensor())
        kw = dict(batch_size=128, shuffle=True, device=device, seed=1)
        for (x1, y1), (x2, y2) in zip(loaders.make_loader(ds, on_device=False, **kw),
                                      loaders.make_loader(ds, on_device=True, **kw), strict=True):
            assert torch.equal(y1, y2), "different samples"
            torch.testing.assert_close(x1, x2, rtol=0, atol=1e-6)  # CPU and GPU division may differ by an ulp
        lines.append("On-device loader and DataLoader gave the same samples in the same order on this GPU.\n")
    helper, bare = helper_vs_bare(device, batches)
    dev_rate, dl_rate = loader_rates(device, 2000 if fast else 50000)
    lines += ["| measure | value |", "|---|---|",
              f"| training helper, images/s | {helper:,.0f} |", f"| bare hand-written loop, images/s | {bare:,.0f} |",
              f"| helper / bare | {helper / bare:.3f} |",
              f"| on-device loader (crop+flip), images/s | {dev_rate:,.0f} |",
              f"| DataLoader, 2 workers (crop+flip on the device), images/s | {dl_rate:,.0f} |",
              f"| on-device / DataLoader | {dev_rate / dl_rate:.2f} |", ""]
    if not args.skip_notebooks:
        rows = notebook_times()
        lines += ["| notebook (fast + offline, alone, kernel start included) | wall s |", "|---|---|"]
        lines += [f"| {name} | {sec:.1f} |" for name, sec in sorted(rows, key=lambda r: -r[1])]
        lines += [f"| **total (serial)** | **{sum(s for _, s in rows):.1f}** |", ""]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
