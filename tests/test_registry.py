"""The registry and data/README.md agree; every entry is well formed."""

from pathlib import Path

import pytest

from torch_book import registry

REPO = Path(__file__).resolve().parents[1]


def test_data_readme_shows_the_registry():
    text = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    assert registry.readme_section(text) == registry.markdown_table(), (
        "data/README.md is out of date: paste the output of python -m torch_book.registry between its markers"
    )


@pytest.mark.parametrize("info", registry.REGISTRY.values(), ids=list(registry.REGISTRY))
def test_entries_are_complete(info):
    assert info.files and info.licence and info.homepage.startswith("http") and info.lessons
    for f in info.files:
        assert f.urls or f.gdrive_id
        assert all(u.startswith(("http://", "https://")) for u in f.urls)
        assert f.md5 or f.sha256 or info.notes, f"{f.filename}: no checksum and no note on how it is verified"
