"""The local `hf` judge on the tiny random model: it runs, its garbage is counted as unparseable, and it caches."""

import json

from specs_verl.selfdistill.__main__ import main
from specs_verl.selfdistill.judge import CONSISTENT, INCONSISTENT, UNPARSEABLE, JudgeItem, load_judge

from .test_pair import _pair


def test_local_judge_verdicts_are_cached(tiny_model_dir, tmp_path):
    items = [JudgeItem(f"<image>How many? {i}", f"<think>I count {i}.</think><answer>\\boxed{{{i}}}</answer>", str(i))
             for i in range(3)]
    opts = dict(model_path=str(tiny_model_dir), batch_size=2, max_tokens=8, device="cpu", threads=1,
                cache_path=tmp_path / "cache.jsonl")
    judge = load_judge("hf", **opts)
    first = judge.judge(items)
    judge.close()
    assert {v.label for v in first} <= {CONSISTENT, INCONSISTENT, UNPARSEABLE}
    assert judge.transport.stats["requests"] == 3
    again = load_judge("hf", **opts)
    second = again.judge(items)
    again.close()
    assert [v.cached for v in second] == [True] * 3 and [v.raw for v in second] == [v.raw for v in first]
    assert again.transport.stats["requests"] == 0


def test_pair_with_the_local_judge(crafted, tiny_model_dir, tmp_path):
    out = tmp_path / "p.parquet"
    assert main(_pair(crafted, out, "--judge", "hf", "--judge-model", str(tiny_model_dir), "--judge-max-tokens",
                      "8", "--judge-batch-size", "4")) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    stages = report["stages"]["all"]
    assert stages["chosen_judged"] == 7 and report["judge"]["requests"] == 7
    judged = stages["chosen_consistent"] + stages["chosen_inconsistent"] + stages["chosen_unparseable"]
    assert judged == 7 and report["pairs"] <= 2
