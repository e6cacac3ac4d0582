"""Small training helpers for later lessons (earlier lessons write the loop by hand first)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from torch_book.runtime import progress


class History(dict):
    """``{"train_loss": [...], "train_acc": [...], "val_loss": [...], "val_acc": [...]}``, one value per epoch."""

    def __missing__(self, key):
        self[key] = value = []
        return value

    def last(self, key: str) -> float:
        return self[key][-1]


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of correct arg-max predictions."""
    return (logits.argmax(dim=1) == targets).float().mean().item()


def _to(batch, device):
    x, y = batch
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def train_mode(model: nn.Module, keep_eval: Iterable[nn.Module] = ()) -> nn.Module:
    """``model.train()``, except the modules in ``keep_eval``, which stay in eval mode.

    What feature extraction with a frozen backbone needs: ``requires_grad_(False)`` stops the
    parameters, but a BatchNorm layer in train mode still updates its running statistics (buffers)
    and normalises by batch statistics; in eval mode it uses the stored ones and changes nothing.
    """
    model.train()
    for module in keep_eval:
        module.eval()
    return model


def batchnorm_layers(model: nn.Module) -> list[nn.Module]:
    """Every BatchNorm layer of ``model`` (1d, 2d, 3d, lazy, SyncBatchNorm): the usual ``keep_eval``."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def train_epoch(model: nn.Module, loader: Iterable, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                device: torch.device, scheduler=None, desc: str = "train",
                keep_eval: Iterable[nn.Module] = ()) -> tuple[float, float]:
    """One pass over ``loader``; returns (mean loss, accuracy). Steps a per-batch ``scheduler`` if given.

    ``keep_eval``: modules left in eval mode while the rest trains (see :func:`train_mode`), e.g.
    ``batchnorm_layers(backbone)`` to keep a frozen backbone's BatchNorm statistics as they are.
    Statistics are kept as detached tensors and reduced once at the end of the epoch, so the loop
    adds no kernel launches and no host-device synchronisation per batch to a bare training loop.
    """
    train_mode(model, keep_eval)
    losses, sizes, logits_seen, targets_seen = [], [], [], []
    for batch in progress(loader, desc=desc):
        x, y = _to(batch, device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.detach())
        sizes.append(x.shape[0])
        if y.dim() == 1 and logits.dim() == 2:  # classification: accuracy from the kept logits
            logits_seen.append(logits.detach())
            targets_seen.append(y)
    if not losses:
        raise ValueError("the loader yielded no batches")
    weights = torch.tensor(sizes, device=losses[0].device, dtype=losses[0].dtype)
    mean_loss = (torch.stack(losses) * weights).sum().item() / sum(sizes)
    acc = float("nan")
    if logits_seen:
        acc = (torch.cat(logits_seen).argmax(1) == torch.cat(targets_seen)).float().mean().item()
    return mean_loss, acc


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: torch.device) -> tuple[float, float]:
    """(mean loss, accuracy) over ``loader`` in eval mode."""
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for batch in loader:
        x, y = _to(batch, device)
        logits = model(x)
        total_loss += loss_fn(logits, y) * x.shape[0]
        correct += (logits.argmax(1) == y).sum()
        seen += x.shape[0]
    return (total_loss / seen).item(), correct.item() / seen


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """All arg-max predictions and targets of ``loader`` (on the CPU)."""
    model.eval()
    preds, targets = [], []
    for batch in loader:
        x, y = _to(batch, device)
        preds.append(model(x).argmax(1).cpu())
        targets.append(y.cpu())
    return torch.cat(preds), torch.cat(targets)


def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable | None, loss_fn: Callable,
        optimizer: torch.optim.Optimizer, epochs: int, device: torch.device, scheduler=None,
        verbose: bool = True, keep_eval: Iterable[nn.Module] = ()) -> History:
    """Train for ``epochs``, evaluating after each; ``scheduler`` is stepped per batch.

    ``keep_eval``: modules that stay in eval mode during training (see :func:`train_mode`).
    """
    history = History()
    keep_eval = list(keep_eval)  # iterated once per epoch
    for epoch in range(1, epochs + 1):
        tl, ta = train_epoch(model, train_loader, loss_fn, optimizer, device, scheduler, desc=f"epoch {epoch}",
                             keep_eval=keep_eval)
        history["train_loss"].append(tl)
        history["train_acc"].append(ta)
        line = f"epoch {epoch:>3}/{epochs}: train loss {tl:.4f}, acc {ta:.3f}"
        if val_loader is not None:
            vl, va = evaluate(model, val_loader, loss_fn, device)
            history["val_loss"].append(vl)
            history["val_acc"].append(va)
            line += f" | val loss {vl:.4f}, acc {va:.3f}"
        if verbose:
            print(line)
    return history


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = ["History", "accuracy", "batchnorm_layers", "train_mode", "train_epoch", "evaluate", "predict", "fit",
           "count_parameters"]
