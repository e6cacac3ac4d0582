"""Run modes, data-root resolution and seeding."""

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_book
from torch_book import modes, paths


def test_defaults_are_full_and_online(monkeypatch):
    monkeypatch.delenv(modes.FAST_VAR, raising=False)
    monkeypatch.delenv(modes.OFFLINE_VAR, raising=False)
    assert modes.current() == modes.Modes(fast=False, offline=False)
    assert modes.current().name == "full"


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_flags_parse(monkeypatch, raw, expected):
    monkeypatch.setenv(modes.FAST_VAR, raw)
    assert modes.is_fast() is expected


def test_bad_flag_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(modes.OFFLINE_VAR, "maybe")
    with pytest.raises(ValueError, match="TORCH_BOOK_OFFLINE"):
        modes.is_offline()


def test_mode_name(monkeypatch):
    monkeypatch.setenv(modes.FAST_VAR, "1")
    monkeypatch.setenv(modes.OFFLINE_VAR, "1")
    assert modes.current().name == "fast+offline"


def test_config_picks_by_mode(monkeypatch, capsys):
    monkeypatch.setenv(modes.FAST_VAR, "1")
    cfg = torch_book.setup(seed=1)
    assert cfg.fast and cfg.epochs(full=10, fast=2) == 2 and cfg.pick(full=512, fast=16) == 16
    banner = capsys.readouterr().out
    assert "mode: fast" in banner and f"torch {torch.__version__}" in banner and str(cfg.data_root) in banner
    monkeypatch.setenv(modes.FAST_VAR, "0")
    cfg = torch_book.setup(seed=1, quiet=True)
    assert not cfg.fast and cfg.epochs(full=10, fast=2) == 10


def test_data_root_env_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(modes.DATA_VAR, str(tmp_path / "d"))
    assert paths.data_root() == (tmp_path / "d").resolve()
    assert (tmp_path / "d").is_dir()


def test_data_root_is_repo_data_inside_repo(monkeypatch):
    monkeypatch.delenv(modes.DATA_VAR, raising=False)
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(repo / "tests")
    assert paths.data_root() == repo / "data"


def test_data_root_outside_repo(monkeypatch, tmp_path):
    monkeypatch.delenv(modes.DATA_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "_PACKAGE_DIR", tmp_path / "site-packages" / "torch_book")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.data_root() == tmp_path / "cache" / "torch_book"
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(paths.Path, "mkdir", lambda *a, **k: None)  # /content is not writable here
    assert paths.data_root() == Path("/content/data")


def test_seeding_is_deterministic():
    def draw():
        torch_book.seed_everything(7)
        return random.random(), np.random.rand(), torch.rand(3)

    a, b = draw(), draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    torch_book.seed_everything(8)
    assert not torch.equal(torch.rand(3), a[2])


def test_device_is_cpu_here_or_an_accelerator():
    assert torch_book.pick_device().type in {"cpu", "cuda", "mps"}


def test_seed_override_and_epoch_cap(monkeypatch, capsys):
    monkeypatch.setenv(modes.FAST_VAR, "0")
    monkeypatch.setenv(modes.SEED_VAR, "7")
    monkeypatch.setenv(modes.MAX_EPOCHS_VAR, "3")
    cfg = torch_book.setup(seed=42)
    assert cfg.seed == 7 and "seed: 7" in capsys.readouterr().out
    assert cfg.epochs(full=20, fast=1) == 3 and cfg.epochs(full=2) == 2 and not cfg.full_run
    monkeypatch.delenv(modes.MAX_EPOCHS_VAR)
    assert cfg.epochs(full=20) == 20 and cfg.full_run
    monkeypatch.setenv(modes.FAST_VAR, "1")
    assert torch_book.setup(quiet=True).epochs(full=20, fast=1) == 1


@pytest.mark.parametrize("var, raw", [("TORCH_BOOK_SEED", "abc"), ("TORCH_BOOK_MAX_EPOCHS", "0"),
                                      ("TORCH_BOOK_MAX_EPOCHS", "-2")])
def test_bad_numbers_are_clear_errors(monkeypatch, var, raw):
    monkeypatch.setenv(var, raw)
    with pytest.raises(ValueError, match=var):
        torch_book.setup(quiet=True)


# ----------------------------------------------------------------------------- one repository address, a pinned package


def test_the_repository_address_lives_in_paths_only():
    import re

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    clones = re.findall(r"git clone (\S+)", readme)
    assert clones == [paths.clone_url()], "README's clone line must be paths.clone_url()"
    from torch_book import download

    assert download.USER_AGENT == paths.user_agent() and paths.REPO_URL in download.USER_AGENT
    pattern = re.compile(r"github\.com/" + re.escape(paths.GITHUB_REPO.split("/")[0]))
    for module in sorted((repo / "torch_book").glob("*.py")):
        if module.name != "paths.py":
            assert not pattern.search(module.read_text(encoding="utf-8")), f"{module.name} repeats the address"


def test_colab_installs_the_release_of_this_version():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    repo = Path(__file__).resolve().parents[1]
    version = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert torch_book.__version__ == version, "torch_book.__version__ and pyproject.toml disagree"
    assert paths.PACKAGE_REF == f"v{version}"
    assert paths.pip_spec() == f"torch_book[lessons] @ git+{paths.REPO_URL}@v{version}"


def test_nbclean_pins_the_setup_cell():
    import nbformat

    from torch_book import nbclean

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        'if "google.colab" in sys.modules:\n    %pip install -q "torch_book[lessons] @ git+https://github.com/x/y@main"')]
    nbclean.fix_links(nb, "1_Basic/1_Basic_lecture.ipynb")
    assert f'"{paths.pip_spec()}"' in nb.cells[0].source


def test_colab_data_on_google_drive_when_asked(monkeypatch, tmp_path):
    monkeypatch.delenv(modes.DATA_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(paths, "_mount_drive", lambda: tmp_path / "drive" / "torch_book_data")
    monkeypatch.setenv(modes.DRIVE_VAR, "1")
    assert paths.data_root() == tmp_path / "drive" / "torch_book_data"
    monkeypatch.setenv(modes.DATA_VAR, str(tmp_path / "mine"))  # an explicit data root still wins
    assert paths.data_root() == (tmp_path / "mine").resolve()


def test_mode_instructions_say_how_inside_jupyter():
    text = modes.how_to_switch()
    assert "%env TORCH_BOOK_OFFLINE=1" in text and "%env TORCH_BOOK_FAST=1" in text
    assert 'os.environ["TORCH_BOOK_OFFLINE"] = "1"' in text and "torch_book.setup()" in text
