"""Where things live: the data root, the repository and its GitHub location.

The GitHub location is configured here and nowhere else: badges, the Colab setup cell and
README links are checked against it by ``tests/test_hygiene.py`` and rewritten from it by
``python -m torch_book.nbclean --links``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from torch_book.modes import DATA_VAR

GITHUB_REPO = "torch-book/torch_book"
GITHUB_BRANCH = "main"

LESSONS = (
    "1_Basic",
    "2_Perceptron",
    "3_Activation_Optimiz",
    "4_SimpleConv",
    "5_RNN",
    "6_TL",
    "7_Visualization",
    "8_GAN",
    "9_Segm",
)

_PACKAGE_DIR = Path(__file__).resolve().parent


def _is_repo(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "torch_book" / "__init__.py").is_file()


def repo_root() -> Path | None:
    """The course repository we run inside (from the working directory or the package), if any."""
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if _is_repo(candidate):
            return candidate
    if _is_repo(_PACKAGE_DIR.parent):
        return _PACKAGE_DIR.parent
    return None


def on_colab() -> bool:
    return "google.colab" in sys.modules


def data_root() -> Path:
    """``$TORCH_BOOK_DATA``, else the repo's ``data/``, else ``/content/data`` on Colab, else a user cache."""
    env = os.environ.get(DATA_VAR, "").strip()
    if env:
        root = Path(env).expanduser().resolve()
    elif (repo := repo_root()) is not None:
        root = repo / "data"
    elif on_colab():
        root = Path("/content/data")
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "torch_book"
    root.mkdir(parents=True, exist_ok=True)
    return root


def github_blob_path(notebook: str) -> str:
    """``OWNER/REPO/blob/BRANCH/<notebook>`` for a repository-relative notebook path."""
    return f"{GITHUB_REPO}/blob/{GITHUB_BRANCH}/{notebook}"


def colab_url(notebook: str) -> str:
    return f"https://colab.research.google.com/github/{github_blob_path(notebook)}"


def colab_badge(notebook: str) -> str:
    """The Markdown Open-in-Colab badge for a repository-relative notebook path."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(notebook)})"
    )


def raw_url(path: str) -> str:
    """The address of a committed repository file (a lesson's SVG figure) that GitHub, Colab and Jupyter can all show."""
    return f"https://raw.githubusercontent.com/{GITHUB_REPO}/{GITHUB_BRANCH}/{path}"


def pip_spec() -> str:
    """What the Colab setup cell installs: this package with the lessons' extras, from GitHub."""
    return f"torch_book[lessons] @ git+https://github.com/{GITHUB_REPO}@{GITHUB_BRANCH}"
