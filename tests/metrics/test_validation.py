"""GFSpec: per-source scores out of verl's flat validation metric names, and the GF metrics derived from them."""

import pytest

from specs_verl.metrics import GFSpec, generalization_factor, validation_scores

VAL = {
    "val-core/tiny_count/acc/mean@4": 0.75,
    "val-aux/tiny_count/acc/std@4": 0.1,
    "val-aux/tiny_count/acc/mean@2": 0.1,       # a smaller N for the same source: ignored
    "val-aux/tiny_count/format/mean@4": 0.5,
    "val-core/org/chart-qa/acc/mean@1": 0.25,    # a source name with a slash
    "val-aux/org/chart-qa/format/mean@1": 0.5,
    "val-core/tiny_shapes/acc/mean@4": 0.5,
    "val-aux/tiny_shapes/format/mean@4": 1.0,
    "val-core/specs/gf": 123.0,                  # our own metrics are not a source
    "val-aux/num_turns/mean": 2.0,
}


def test_validation_scores():
    s = validation_scores(VAL)
    assert s[("tiny_count", "acc")] == 0.75
    assert s[("org/chart-qa", "format")] == 0.5
    assert not any(src == "specs" for src, _ in s)


def test_gf_metrics_on_acc_and_format():
    spec = GFSpec(id_sources=("tiny_count",), ood_sources=("org/chart-qa", "tiny_shapes"))
    scores = spec.scores(VAL)
    assert scores == {"tiny_count": 0.75, "org/chart-qa": 0.25, "tiny_shapes": 0.5}
    base = {"tiny_count": 0.25, "org/chart-qa": 0.0, "tiny_shapes": 0.25}
    m = spec.metrics(scores, base)
    assert m["val-core/specs/g_id"] == pytest.approx(0.5)
    assert m["val-core/specs/g_ood"] == pytest.approx(0.25)
    assert m["val-core/specs/gf"] == pytest.approx(generalization_factor(0.5, 0.25))
    assert m["val-core/specs/score/org/chart-qa"] == 0.25
    assert m["val-aux/specs/base/tiny_shapes"] == 0.25
    assert m["val-core/specs/id_score"] == 0.75 and m["val-core/specs/ood_score"] == pytest.approx(0.375)

    fmt = GFSpec.from_mapping({"id_sources": "tiny_count", "ood_sources": ["org/chart-qa", "tiny_shapes"],
                               "metric": "format", "ood_weights": {"org/chart-qa": 1, "tiny_shapes": 3},
                               "beta": 1})
    assert fmt.ood_weights == (1.0, 3.0) and fmt.id_sources == ("tiny_count",)
    assert fmt.evaluate(fmt.scores(VAL), {s: 0.0 for s in fmt.sources}).ood_score == pytest.approx(0.875)


def test_errors_name_the_problem():
    with pytest.raises(KeyError, match=r"no validation metric 'acc' for sources \['nope'\].*tiny_count/format"):
        GFSpec(("tiny_count",), ("nope",)).scores(VAL)
    with pytest.raises(KeyError, match=r"baseline has no score for sources \['tiny_shapes'\]"):
        GFSpec(("tiny_count",), ("tiny_shapes",)).evaluate({"tiny_count": 1, "tiny_shapes": 1}, {"tiny_count": 0})
    with pytest.raises(ValueError, match="both ID and OOD"):
        GFSpec(("a",), ("a",))
    with pytest.raises(ValueError, match="2 OOD sources but 1 ood_weights"):
        GFSpec(("a",), ("b", "c"), ood_weights=(1.0,))
    with pytest.raises(ValueError, match=r"specs.gf.id_sources is not set"):
        GFSpec.from_mapping({"ood_sources": ["b"]})
