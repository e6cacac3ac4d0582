"""Plot helpers: learning curves, image grids with class names, decision boundaries, confusion matrices."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap


def plot_history(history: Mapping[str, Sequence[float]], title: str = "Обучение") -> plt.Figure:
    """Loss and accuracy per epoch, train and validation on one axis each."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric, label in ((axes[0], "loss", "функция потерь"), (axes[1], "acc", "точность")):
        for split, name in (("train", "обучение"), ("val", "валидация")):
            values = history.get(f"{split}_{metric}")
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
        ax.set_xlabel("эпоха")
        ax.set_ylabel(label)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def denormalize(img: torch.Tensor, mean, std) -> torch.Tensor:
    """Undo ``Normalize(mean, std)`` on a C×H×W (or N×C×H×W) tensor, for display."""
    img = torch.as_tensor(img).detach().cpu().float()
    shape = (-1, 1, 1) if img.dim() == 3 else (1, -1, 1, 1)
    return img * torch.as_tensor(std).view(shape) + torch.as_tensor(mean).view(shape)


def _to_hwc(img: torch.Tensor | np.ndarray, mean=None, std=None) -> np.ndarray:
    img = torch.as_tensor(img).detach().cpu().float()
    if img.dim() == 3 and img.shape[0] in (1, 3):
        if mean is not None and std is not None:
            img = denormalize(img, mean, std)
        img = img.permute(1, 2, 0)
    img = img.squeeze(-1) if img.dim() == 3 and img.shape[-1] == 1 else img
    return img.clamp(0, 1).numpy() if img.max() <= 1.0 + 1e-6 else (img / 255).clamp(0, 1).numpy()


def show_images(images, labels=None, classes: Sequence[str] | None = None, preds=None, ncols: int = 8,
                title: str | None = None, mean=None, std=None, size: float = 1.6) -> plt.Figure:
    """A grid of images titled by class name (and prediction, red when wrong)."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = _to_hwc(images[i], mean, std)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        if labels is not None:
            name = lambda k: classes[int(k)] if classes is not None else str(int(k))  # noqa: E731
            text = name(labels[i])
            color = "black"
            if preds is not None:
                text = f"{name(preds[i])}\n(верно: {text})" if int(preds[i]) != int(labels[i]) else text
                color = "red" if int(preds[i]) != int(labels[i]) else "green"
            ax.set_title(text, fontsize=8, color=color)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_decision_boundary(predict: Callable[[torch.Tensor], torch.Tensor], X, y, ax=None,
                           title: str | None = None, resolution: int = 200, n_classes: int | None = None,
                           cmap: str | None = None) -> plt.Axes:
    """Colour the plane by ``predict`` (class indices or probabilities of class 1) and scatter the points.

    With ``n_classes`` (``predict`` returns class indices 0…K−1), each class gets its own colour band of
    ``cmap`` (default ``"tab10"``), the same for the regions and the points: decision regions of K classes.
    """
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y)
    ax = ax or plt.subplots(figsize=(5, 4))[1]
    pad = 0.5
    x0, x1 = X[:, 0].min().item() - pad, X[:, 0].max().item() + pad
    y0, y1 = X[:, 1].min().item() - pad, X[:, 1].max().item() + pad
    gx, gy = torch.meshgrid(torch.linspace(x0, x1, resolution), torch.linspace(y0, y1, resolution), indexing="xy")
    with torch.no_grad():
        z = predict(torch.stack([gx.ravel(), gy.ravel()], dim=1)).reshape(gx.shape)
    if n_classes is not None:
        base = plt.get_cmap(cmap or "tab10")
        listed = getattr(base, "colors", None)
        colors = listed[:n_classes] if listed is not None and len(listed) >= n_classes else base(np.linspace(0, 1, n_classes))
        cmap = ListedColormap(colors)
        bounds = dict(vmin=-0.5, vmax=n_classes - 0.5)
        ax.contourf(gx, gy, z.float(), levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.3, **bounds)
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, edgecolors="k", s=18, **bounds)
    else:
        cmap = cmap or "RdBu_r"
        ax.contourf(gx, gy, z.float(), levels=20 if z.is_floating_point() else None, cmap=cmap, alpha=0.35)
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, edgecolors="k", s=18)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_confusion_matrix(y_true, y_pred, classes: Sequence[str], title: str = "Матрица ошибок",
                          normalize: str | None = None, ax=None):
    """scikit-learn's ConfusionMatrixDisplay, sized for the number of classes."""
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(classes)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, n * 0.45), max(4, n * 0.45)))
    disp = ConfusionMatrixDisplay.from_predictions(
        np.asarray(y_true), np.asarray(y_pred), labels=list(range(n)), display_labels=classes,
        normalize=normalize, include_values=n <= 12, ax=ax, colorbar=False, xticks_rotation=90,
    )
    ax.set_title(title)
    return disp
