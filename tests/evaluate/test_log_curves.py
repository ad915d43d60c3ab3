"""GF curves from a GRPO run's verl `file` logger JSONL (written here by verl's own FileLogger)."""

import csv
import json

import pytest

from specs_verl.evaluate.__main__ import main
from specs_verl.metrics import GFSpec, generalization_factor
from tests.evaluate.png_checks import assert_three_panel_figure

# (step -> (acc per source, format per source)); step 0 is trainer.val_before_train
VALIDATIONS = {
    0: ({"geo3k": 0.30, "chartqa": 0.20, "org/docvqa": 0.40}, {"geo3k": 0.5, "chartqa": 0.5, "org/docvqa": 0.5}),
    2: ({"geo3k": 0.50, "chartqa": 0.30, "org/docvqa": 0.45}, {"geo3k": 0.9, "chartqa": 0.8, "org/docvqa": 0.7}),
    4: ({"geo3k": 0.70, "chartqa": 0.35, "org/docvqa": 0.40}, {"geo3k": 1.0, "chartqa": 0.9, "org/docvqa": 0.9}),
}


def val_metrics(acc, fmt):
    """Metric names as verl's `_val_metrics_update` makes them (acc is the core variable)."""
    out = {}
    for s in acc:
        out[f"val-core/{s}/acc/mean@4"] = acc[s]
        out[f"val-aux/{s}/acc/std@4"] = 0.1
        out[f"val-core/{s}/acc/best@4/mean"] = min(1.0, acc[s] + 0.2)
        out[f"val-aux/{s}/format/mean@4"] = fmt[s]
        out[f"val-aux/{s}/reward/mean@4"] = acc[s] + 0.5 * fmt[s]
    return out


def write_log(path, validations=VALIDATIONS, steps=4, monkeypatch=None):
    from verl.utils.tracking import FileLogger

    monkeypatch.setenv("VERL_FILE_LOGGER_PATH", str(path))
    logger = FileLogger("specs", "grpo")
    if 0 in validations:
        logger.log(data=val_metrics(*validations[0]), step=0)
    for step in range(1, steps + 1):
        data = {"actor/pg_loss": 0.1 * step, "critic/score/mean": 0.2, "training/global_step": step}
        if step in validations:
            data.update(val_metrics(*validations[step]))
        logger.log(data=data, step=step)
    logger.finish()
    return path


def expected_gf(step, metric="acc"):
    i = 0 if metric == "acc" else 1
    now, base = VALIDATIONS[step][i], VALIDATIONS[0][i]
    g_id = 100 * (now["geo3k"] - base["geo3k"])
    g_ood = 100 * ((now["chartqa"] + now["org/docvqa"]) / 2 - (base["chartqa"] + base["org/docvqa"]) / 2)
    return g_id, g_ood, generalization_factor(g_id, g_ood)


def test_gf_from_a_verl_log(tmp_path, monkeypatch, capsys):
    log = write_log(tmp_path / "run.jsonl", monkeypatch=monkeypatch)
    fmt_log = tmp_path / "same_run.jsonl"
    fmt_log.write_text(log.read_text())
    out = tmp_path / "gf"
    assert main(["--jsonl", f"grpo={log}", "--id-sources", "geo3k", "--ood-sources", "chartqa", "org/docvqa",
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "gf.csv").open()))
    assert [(r["run"], int(r["step"])) for r in rows] == [("grpo", 0), ("grpo", 2), ("grpo", 4)]
    for r in rows[1:]:
        g_id, g_ood, gf = expected_gf(int(r["step"]))
        assert float(r["g_id"]) == pytest.approx(g_id, abs=1e-4)
        assert float(r["g_ood"]) == pytest.approx(g_ood, abs=1e-4)
        assert float(r["gf"]) == pytest.approx(gf, abs=1e-4)
    assert float(rows[2]["score/org/docvqa"]) == pytest.approx(40.0)
    payload = json.loads((out / "gf.json").read_text())
    assert payload["units"] == "percent" and payload["logs"][0]["baseline_step"] == 0
    assert_three_panel_figure(out / "gf.png")
    assert "wrote" in capsys.readouterr().out


def test_log_without_step_zero_warns_and_errors_name_the_problem(tmp_path, monkeypatch, capsys):
    late = {k: v for k, v in VALIDATIONS.items() if k}
    log = write_log(tmp_path / "late.jsonl", validations=late, monkeypatch=monkeypatch)
    main(["--jsonl", str(log), "--id-sources", "geo3k", "--ood-sources", "chartqa", "--log-metric", "format",
          "--out", str(tmp_path / "o")])
    assert "baseline is the validation at step 2" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"step 2 has validation metric 'acc' for \['geo3k'\] but not for "
                                         r"\['mathvista'\].*chartqa/acc"):
        main(["--jsonl", str(log), "--id-sources", "geo3k", "--ood-sources", "mathvista",
              "--out", str(tmp_path / "o2")])
    with pytest.raises(ValueError, match=r"no line holds validation metric 'acc' for \['geo', 'mathvista'\]"
                                         r".*chartqa/format"):
        main(["--jsonl", str(log), "--id-sources", "geo", "--ood-sources", "mathvista",
              "--out", str(tmp_path / "o2")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 0, "data": {}}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a verl file-logger line"):
        main(["--jsonl", str(bad), "--id-sources", "a", "--ood-sources", "b", "--out", str(tmp_path / "o3")])


def test_partial_validation_line_is_an_error(tmp_path):
    from specs_verl.evaluate.curves import read_val_log

    log = tmp_path / "partial.jsonl"
    log.write_text(json.dumps({"step": 3, "data": {"val-core/geo3k/acc/mean@1": 0.5}}) + "\n")
    with pytest.raises(ValueError, match=r"partial.jsonl:1: step 3 has validation metric 'acc' for \['geo3k'\] "
                                         r"but not for \['chartqa'\]"):
        read_val_log(log, GFSpec(("geo3k",), ("chartqa",)))
