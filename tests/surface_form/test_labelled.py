"""Every labelled response gets the verdict written in the table, and the authors' own regexes agree."""

from __future__ import annotations

import pytest

from specs_verl.surface_form import check
from specs_verl.surface_form.reference import REFERENCE_FORMAT

from .labelled_cases import all_cases

CASES = all_cases()


def test_table_is_large_and_varied():
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    # every verdict pattern appears, so no criterion is trivially constant
    assert {c.specs for c in CASES} >= {(True, True, True), (True, True, False), (True, False, False),
                                        (False, False, False)}
    assert {c.geo3k for c in CASES} == {True, False} and {c.r1v for c in CASES} == {True, False}
    assert max(len(c.text) for c in CASES) > 40_000  # long reasoning (about 10k tokens)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verdicts(case):
    specs = check(case.text, "specs", **case.options)
    assert (specs.format_ok, specs.structure_ok, specs.style_ok) == case.specs, specs.violations
    prefilled = case.options.get("think_prefilled", False)
    assert check(case.text, "geo3k", think_prefilled=prefilled).format_ok is case.geo3k
    assert check(case.text, "r1v", think_prefilled=prefilled).format_ok is case.r1v


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_labels_match_the_original_rules(case):
    """The labels are the authors' rules' verdicts: checks the table, and `check`'s fidelity, twice over."""
    text = "<think>" + case.text if case.options.get("think_prefilled") else case.text
    assert REFERENCE_FORMAT["specs"](text) is case.specs[0]
    assert REFERENCE_FORMAT["geo3k"](text) is case.geo3k
    assert REFERENCE_FORMAT["r1v"](text) is case.r1v


def test_failing_responses_say_why():
    for case in CASES:
        report = check(case.text, "specs", **case.options)
        assert bool(report.violations) is not report.style_ok, case.id
