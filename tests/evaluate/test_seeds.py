"""GF over seeds: the mean curve, the spread and each seed's final GF, from per-seed rows."""

import math

import pytest

from specs_verl.evaluate.seeds import final_gf, mean_curves, mean_std, with_seed


def row(run, step, gf, id_score=50.0, ood_score=40.0, hard=None):
    r = {"run": run, "step": step, "metric": "format", "id_score": id_score, "ood_score": ood_score,
         "g_id": 0.0, "g_ood": 0.0, "gf": gf}
    if hard is not None:
        r["score/tiny_total"] = hard
    return r


TABLES = {
    0: [row("dpo", 0, 0.0, hard=0.0), row("dpo", 4, 30.0, hard=10.0), row("sft", 0, 0.0), row("sft", 4, 10.0)],
    1: [row("dpo", 0, 0.0, hard=0.0), row("dpo", 4, 50.0, hard=30.0), row("sft", 0, 0.0), row("sft", 4, 20.0)],
    2: [row("dpo", 0, 0.0, hard=0.0), row("dpo", 4, 40.0, hard=20.0)],  # sft missing for seed 2
}


def test_mean_and_sample_std():
    assert mean_std([30.0, 50.0, 40.0]) == (40.0, 10.0)  # n - 1 in the denominator
    assert mean_std([7.0]) == (7.0, 0.0)


def test_mean_curves_average_each_run_and_step_over_the_seeds_that_have_it():
    curves = {(c["run"], c["step"]): c for c in mean_curves(TABLES)}
    assert curves[("dpo", 4)]["gf"] == pytest.approx(40.0) and curves[("dpo", 4)]["gf_std"] == pytest.approx(10.0)
    assert curves[("dpo", 4)]["seeds"] == 3 and curves[("sft", 4)]["seeds"] == 2
    assert curves[("sft", 4)]["gf"] == pytest.approx(15.0)
    assert curves[("dpo", 4)]["score/tiny_total"] == pytest.approx(20.0)
    assert curves[("dpo", 0)]["gf_std"] == 0.0


def test_final_gf_is_the_last_step_of_each_seed():
    finals = final_gf(TABLES)
    assert finals["dpo"]["seeds"] == {"0": 30.0, "1": 50.0, "2": 40.0}
    assert finals["dpo"]["mean"] == 40.0 and finals["dpo"]["std"] == 10.0 and finals["dpo"]["step"] == 4
    assert finals["sft"]["seeds"] == {"0": 10.0, "1": 20.0}
    assert finals["dpo"]["score/tiny_total"] == {"0": 10.0, "1": 30.0, "2": 20.0}


def test_rows_keep_their_seed():
    rows = with_seed(TABLES)
    assert [r["seed"] for r in rows] == [0] * 4 + [1] * 4 + [2] * 2
    assert not any(math.isnan(r["gf"]) for r in rows)
