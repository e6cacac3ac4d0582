"""Every homework check kills its task's plausible wrong solutions and accepts other right ones.

The variants are data in ``tests/mutants/<lesson>.py``; ``tests/mutation.py`` runs them (see its docstring).
"""

import mutation
import pytest

from torch_book import modes

LESSONS = mutation.lessons_with_mutants()


def test_every_homework_has_mutants():
    sources = sorted(p.stem.removesuffix("_homework") for p in mutation.SOURCES_DIR.glob("*_homework.ipynb"))
    assert LESSONS == sources


@pytest.mark.parametrize("lesson", LESSONS)
def test_checks_kill_mutants_and_pass_alternatives(lesson):
    if not modes.is_fast():
        pytest.skip("mutation tests run in fast mode (as the graders' tool does)")
    variants = mutation.mutants_of(lesson)
    tasks = {cid for cid in variants}
    assert all(any(v.expect == "killed" for v in vs) for vs in variants.values()), "a task without mutants"
    assert all(any(v.expect == "pass" for v in vs) for vs in variants.values()), "a task without an alternative"
    outcomes = mutation.run(lesson)
    bad = [o for o in outcomes if not o.ok]
    assert not bad, "\n".join(
        f"{o.task}/{o.variant} ({o.why}): expected {o.expect}, got {o.result}: {o.message}" for o in bad)
    assert {o.task for o in outcomes} >= tasks
