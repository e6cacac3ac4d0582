"""Repository hygiene: lesson layout, clean notebooks, stable ids, badges and setup cells."""

import re
from pathlib import Path

import pytest

from torch_book import nbclean, paths

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = nbclean.course_notebooks(REPO)
LESSON_NOTEBOOKS = [p for p in NOTEBOOKS if p.parent.name in paths.LESSONS]
READABLE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _rel(p):
    return p.relative_to(REPO).as_posix()


def test_lesson_folders_hold_a_lecture_and_a_homework():
    folders = sorted(p.name for p in REPO.iterdir() if re.match(r"^[1-9]_", p.name) and p.is_dir())
    assert set(folders) <= set(paths.LESSONS), f"unexpected lesson folders: {set(folders) - set(paths.LESSONS)}"
    for folder in folders:
        names = sorted(p.name for p in (REPO / folder).glob("*.ipynb"))
        assert names == [f"{folder}_homework.ipynb", f"{folder}_lecture.ipynb"], folder


def test_notebook_names_are_unique():
    names = [p.name for p in LESSON_NOTEBOOKS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_notebook_is_clean(path):
    assert path.read_text(encoding="utf-8") == nbclean.clean_text(path, REPO), (
        f"{_rel(path)} is not normalised: run python -m torch_book.nbclean"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_ids_badge_and_setup_cell(path):
    nb = nbclean.read(path)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    ids = [c.id for c in nb.cells]
    assert all(READABLE_ID.match(i) for i in ids), [i for i in ids if not READABLE_ID.match(i)]
    assert not [i for i in ids if i.startswith("cell-")], "give cells readable ids, not generated ones"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and paths.colab_url(nbclean.published_path(path, REPO)) in first.source
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "torch_book.setup(" in setup.source and '"google.colab" in sys.modules' in setup.source
    assert paths.pip_spec() in setup.source


def test_readme_badges_point_at_their_own_notebooks():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\((https://colab\.research\.google\.com/github/[^)]+)\)", readme)
    assert links, "README has no Colab badges"
    prefix = f"https://colab.research.google.com/github/{paths.GITHUB_REPO}/blob/{paths.GITHUB_BRANCH}/"
    for link in links:
        assert link.startswith(prefix), link
        assert (REPO / link.removeprefix(prefix)).is_file(), f"badge points at a missing notebook: {link}"
    for path in LESSON_NOTEBOOKS:
        assert paths.colab_url(_rel(path)) in readme, f"README lacks a badge for {_rel(path)}"


FIGURE_RE = re.compile(r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[\w.-]+/(?P<path>[\w./-]+\.svg)")
FIGURES = sorted(p for lesson in paths.LESSONS for p in (REPO / lesson).rglob("*.svg"))


def _svg_width(path: Path) -> float:
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), f"{_rel(path)}: not an SVG document"
    view_box = root.get("viewBox")
    assert view_box, f"{_rel(path)}: no viewBox, so it cannot scale to the notebook's width"
    width = root.get("width", view_box.split()[2])
    return float(re.match(r"[\d.]+", width)[0])


def test_figures_exist_are_referenced_and_fit_the_notebook():
    referenced = set()
    for path in NOTEBOOKS:
        for cell in nbclean.read(path).cells:
            for m in FIGURE_RE.finditer(cell.source):
                assert m[0] == paths.raw_url(m["path"]), f"{_rel(path)}: {m[0]} is not from paths.raw_url"
                assert (REPO / m["path"]).is_file(), f"{_rel(path)} shows a missing figure {m['path']}"
                referenced.add(m["path"])
    for fig in FIGURES:
        assert _rel(fig) in referenced, f"{_rel(fig)} is not shown by any notebook"
        assert _svg_width(fig) <= 1000, f"{_rel(fig)} is wider than a notebook (≤ 1000 px)"
