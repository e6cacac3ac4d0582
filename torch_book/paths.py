"""Where things live: the data root, the repository and its GitHub location.

The GitHub location is configured here and nowhere else: badges, the Colab setup cell, figure
addresses, README's clone line and the downloader's User-Agent all derive from ``GITHUB_REPO``;
``tests/test_hygiene.py`` and ``tests/test_modes.py`` check them and ``python -m torch_book.nbclean``
rewrites the notebooks from it.

The Colab setup cell installs the package at ``PACKAGE_REF``, the release tag of this package's
version (``v`` + ``torch_book.__version__``), so a notebook always gets the package it was written
for, never whatever ``main`` holds that day. Releasing: bump the version (``torch_book/__init__.py``
and ``pyproject.toml``), run ``python -m torch_book.nbclean``, commit, ``git tag v<version>``, push the tag.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from torch_book import __version__
from torch_book.modes import DATA_VAR, DRIVE_VAR, _flag

GITHUB_REPO = "torch-book/torch_book"
GITHUB_BRANCH = "main"  # what badges open and figures are shown from
PACKAGE_REF = f"v{__version__}"  # what the Colab setup cell installs: the release tag of this version
REPO_URL = f"https://github.com/{GITHUB_REPO}"
DRIVE_DATA = Path("/content/drive/MyDrive/torch_book_data")  # the data root on Google Drive (Colab)

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


def _mount_drive() -> Path:
    """Mount Google Drive in Colab (asks the student once per session) and return the data folder on it."""
    if not (DRIVE_DATA.parent).is_dir():
        from google.colab import drive  # only on Colab

        drive.mount("/content/drive")
    return DRIVE_DATA


def data_root() -> Path:
    """``$TORCH_BOOK_DATA``, else the repo's ``data/``, else on Colab Google Drive (``TORCH_BOOK_DRIVE=1``)
    or ``/content/data``, else a user cache."""
    env = os.environ.get(DATA_VAR, "").strip()
    if env:
        root = Path(env).expanduser().resolve()
    elif on_colab() and _flag(DRIVE_VAR):
        root = _mount_drive()
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
    """What the Colab setup cell installs: this package with the lessons' extras, at its release tag."""
    return f"torch_book[lessons] @ git+{REPO_URL}@{PACKAGE_REF}"


def clone_url() -> str:
    """What README's quick start clones."""
    return f"{REPO_URL}.git"


def user_agent() -> str:
    """The downloader's User-Agent: the package and where it comes from."""
    return f"torch_book-course/{__version__} (+{REPO_URL})"
