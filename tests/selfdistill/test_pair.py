"""`pair` on crafted sample files: every branch, exact counts in the report, every output pair checked."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from specs_verl.grading import grade
from specs_verl.selfdistill.__main__ import main
from specs_verl.selfdistill.pair_command import PairOptions, run_pair
from specs_verl.selfdistill.pair_builder import DROPS, NO_PAIR_REASONS, STAGES, UNCHANGED_RULE, PairConfig
from specs_verl.selfdistill.pairs_file import EXTRA_INFO_KEYS
from specs_verl.surface_form import POLLUTION_RULES, check, pollute

from .chat_server import ChatServer
from .crafted import formatted


def _pair(crafted, out, *extra):
    return ["pair", "--chosen", str(crafted["chosen"]), "--rejected", str(crafted["rejected"]), "--data",
            str(crafted["data"]), "--out", str(out), "--prompt-template", "none", "--no-progress", *extra]


def _table(values, keys):
    return {k: values.get(k, 0) for k in keys}


def check_pairs(path, crafted, mode):
    """What every pair must satisfy, whatever the branch that produced it."""
    rows = {r["extra_info"]["qid"]: r for r in crafted["rows"]}
    pairs = pq.read_table(path).to_pylist()
    assert len({p["pair_id"] for p in pairs}) == len(pairs)
    for p in pairs:
        src = rows[p["extra_info"]["qid"]]
        truth = src["reward_model"]["ground_truth"]
        assert set(p["extra_info"]) == set(EXTRA_INFO_KEYS) and p["extra_info"]["mode"] == mode
        assert p["prompt"] == list(src["prompt"]) and p["data_source"] == src["data_source"]
        assert [im["bytes"] for im in p["images"]] == [im["bytes"] for im in src["images"]]
        assert p["prompt"][0]["content"].count("<image>") == len(p["images"]) == 1
        chosen, rejected = check(p["chosen"]), check(p["rejected"])
        assert chosen.format_ok and chosen.style_ok, p["chosen"]
        assert not rejected.format_ok, p["rejected"]
        assert grade(p["chosen"], truth).correct
        assert grade(p["rejected"], truth).correct == (mode == "decoupled")
        rule = p["extra_info"]["pollution_rule"]
        assert rule in POLLUTION_RULES or rule == UNCHANGED_RULE
        assert (p["rejected"] == pollute(p["rejected"], POLLUTION_RULES[0])) if rule == UNCHANGED_RULE else True
        assert p["extra_info"]["chosen_model"] == "zero" and p["extra_info"]["rejected_model"] == "base"
    return pairs


EXPECTED_COUNT = {  # tiny_count, decoupled, judge on, K = 2 (see `crafted` for which question stops where)
    "questions": 10, "chosen_samples": 9, "chosen_correct": 7, "chosen_form_ok": 6, "chosen_judged": 4,
    "chosen_consistent": 2, "chosen_supplemented": 1, "rejected_samples": 9, "rejected_selected": 7,
    "rejected_polluted": 7, "rejected_changed": 4, "rejected_already_unformatted": 3,
    "questions_with_pair": 1, "pairs": 1, "chosen_judge_skipped": 2, "chosen_inconsistent": 1, "chosen_unparseable": 1, "chosen_supplement_failed": 1,
}
EXPECTED_CHOICE = {
    "questions": 1, "chosen_samples": 4, "chosen_correct": 3, "chosen_form_ok": 3, "chosen_judged": 3,
    "chosen_consistent": 2, "chosen_supplemented": 2, "rejected_samples": 3, "rejected_selected": 3,
    "rejected_polluted": 3, "rejected_changed": 1, "rejected_already_unformatted": 2, "questions_with_pair": 1,
    "pairs": 2, "chosen_inconsistent": 1,
}
EXPECTED_NO_PAIR = {"no_ground_truth": 1, "no_chosen_samples": 1, "no_rejected_samples": 1, "no_correct_chosen": 1,
                    "no_chosen_form_ok": 1, "no_selected_rejected": 1, "no_consistent_chosen": 2,
                    "no_supplemented_chosen": 1}


def test_decoupled_with_judge(crafted, tmp_path, capsys):
    out = tmp_path / "pairs.parquet"
    with ChatServer() as server:
        code = main(_pair(crafted, out, "--judge", "openai", "--judge-url", server.url, "--judge-model", "m",
                          "--pairs-per-question", "2", "--judge-retries", "0"))
        assert code == 0, capsys.readouterr().err
        assert server.total == 7  # only chosen candidates of questions that can still form a pair
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    keys = STAGES + DROPS
    assert report["stages"]["tiny_count"] == _table(EXPECTED_COUNT, keys)
    assert report["stages"]["tiny_choice"] == _table(EXPECTED_CHOICE, keys)
    assert report["stages"]["all"] == {k: EXPECTED_COUNT.get(k, 0) + EXPECTED_CHOICE.get(k, 0) for k in keys}
    assert report["no_pair"]["all"] == _table(EXPECTED_NO_PAIR, NO_PAIR_REASONS)
    assert report["no_pair"]["tiny_choice"] == _table({}, NO_PAIR_REASONS)
    assert report["pairs"] == 3 and report["pairs_per_question"] == {"0": 9, "1": 1, "2": 1}
    assert sum(report["pollution_rules"].values()) == 3
    assert report["problems"]["malformed_lines"] == {"chosen": 2, "rejected": 0}
    assert report["problems"]["samples_unknown_question"] == {"chosen": 1, "rejected": 1}
    examples = report["problems"]["malformed_examples"] + report["problems"]["unknown_question_examples"]
    assert [e.split("/")[-1] for e in examples] == [
        "chosen.jsonl:14: Expecting value: line 1 column 1 (char 0)",
        "chosen.jsonl:15: missing or non-string 'text'",
        "chosen.jsonl:16: question id 'not-in-the-data' is not in the data",
        "base.jsonl:13: question id 'not-in-the-data-either' is not in the data"]
    assert report["judge"]["unparseable"] == 1 and report["judge"]["requests"] == 7
    assert report["lengths"]["chosen_chars"]["min"] > 0 and report["lengths"]["chosen_tokens"] is not None
    assert "chosen_judged" in printed and "no_consistent_chosen" in printed and "wrote 3 pairs" in printed
    pairs = check_pairs(out, crafted, "decoupled")
    assert sorted(p["pair_id"] for p in pairs) == ["tiny_choice-val-0-0", "tiny_choice-val-0-1", "tiny_count-train-0-0"]
    assert {p["extra_info"]["judge"] for p in pairs} == {"consistent"}
    choice = [p for p in pairs if p["data_source"] == "tiny_choice"]
    assert sorted("one" in p["chosen"] or "two" in p["chosen"] for p in choice) == [True, True]
    assert len({p["rejected"] for p in choice}) == 2  # no response used twice

    # a rerun pays the judge nothing and writes the same pairs
    with ChatServer() as server:
        assert main(_pair(crafted, tmp_path / "again.parquet", "--judge", "openai", "--judge-url", server.url,
                          "--judge-model", "m", "--pairs-per-question", "2", "--judge-cache",
                          str(tmp_path / "judge_cache.jsonl"))) == 0
        assert server.total == 0
    assert pq.read_table(tmp_path / "again.parquet").to_pylist() == pq.read_table(out).to_pylist()


def test_coupled_with_judge(crafted, tmp_path):
    out = tmp_path / "coupled.parquet"
    with ChatServer() as server:
        assert main(_pair(crafted, out, "--judge", "openai", "--judge-url", server.url, "--judge-model", "m",
                          "--pairs-per-question", "2", "--mode", "coupled")) == 0
        assert server.total == 1
    report = json.loads((tmp_path / "report.json").read_text())
    stages = report["stages"]["all"]
    assert (stages["rejected_selected"], stages["chosen_judged"], stages["chosen_judge_skipped"], report["pairs"]) == (
        1, 1, 8, 1)
    assert report["no_pair"]["all"] == _table({"no_ground_truth": 1, "no_chosen_samples": 1, "no_rejected_samples": 1,
                                               "no_correct_chosen": 1, "no_chosen_form_ok": 1,
                                               "no_selected_rejected": 5}, NO_PAIR_REASONS)
    (pair,) = check_pairs(out, crafted, "coupled")
    assert pair["extra_info"]["qid"] == "tiny_count-train-5"


def test_without_judge(crafted, tmp_path):
    report = run_pair(PairConfig(pairs_per_question=2),
                      PairOptions(chosen=[str(crafted["chosen"])], rejected=[str(crafted["rejected"])],
                                  data=str(crafted["data"]), out=str(tmp_path / "p.parquet"), prompt_template="none",
                                  progress=False))
    # q1 and q2 (judged no / garbage above) now pair; on q9 the inconsistent sample becomes a candidate too
    assert report["pairs"] == 5 and report["stages"]["all"]["chosen_judged"] == 0 and report["judge"] is None
    assert report["stages"]["all"]["chosen_supplemented"] == 6
    pairs = check_pairs(tmp_path / "p.parquet", crafted, "decoupled")
    assert {p["extra_info"]["judge"] for p in pairs} == {"not_judged"}


@pytest.mark.parametrize("rule", POLLUTION_RULES)
def test_each_pollution_rule(crafted, tmp_path, rule):
    """Formatted rejected samples, so every rule changes them; an unboxed answer is lost by the rules that drop
    its answer tags, and that candidate is dropped, not paired."""
    d = tmp_path
    rows = crafted["rows"][:3]
    pd.DataFrame(rows).to_parquet(d / "rl.parquet")
    gts = [r["reward_model"]["ground_truth"] for r in rows]
    qids = [r["extra_info"]["qid"] for r in rows]
    rejected_texts = [formatted("I count.", gts[0]), formatted("Counting.", gts[1]),
                      f"<think>\nCounting.\n</think>\n<answer> {gts[2]} </answer>"]
    (d / "c.jsonl").write_text("".join(json.dumps({"qid": q, "text": formatted("x", g), "model": "zero"}) + "\n"
                                       for q, g in zip(qids, gts)))
    (d / "r.jsonl").write_text("".join(json.dumps({"qid": q, "text": t, "model": "base"}) + "\n"
                                       for q, t in zip(qids, rejected_texts)))
    report = run_pair(PairConfig(pollution_rules=(rule,)),
                      PairOptions(chosen=[str(d / "c.jsonl")], rejected=[str(d / "r.jsonl")],
                                  data=str(d / "rl.parquet"), out=str(d / "p.parquet"), prompt_template="none",
                                  progress=False))
    loses_unboxed = rule != "strip_think_tags"
    assert report["stages"]["all"]["rejected_pollution_changed_grade"] == int(loses_unboxed)
    assert report["pairs"] == 3 - loses_unboxed and report["pollution_rules"] == {rule: 3 - loses_unboxed}
    pairs = check_pairs(d / "p.parquet", {"rows": rows}, "decoupled")
    for p in pairs:
        assert p["rejected"] == pollute(rejected_texts[qids.index(p["extra_info"]["qid"])], rule)


def test_strict_mode_stops_and_writes_nothing(crafted, tmp_path, capsys):
    out = tmp_path / "strict.parquet"
    assert main(_pair(crafted, out, "--strict")) == 2
    err = capsys.readouterr().err
    assert f"{crafted['chosen']}:14: Expecting value" in err
    assert not out.exists() and not (tmp_path / "report.json").exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_unreachable_judge_is_a_clear_error(crafted, tmp_path, capsys):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    out = tmp_path / "p.parquet"
    assert main(_pair(crafted, out, "--judge", "openai", "--judge-url", f"http://127.0.0.1:{port}/v1",
                      "--judge-model", "m", "--judge-retries", "0")) == 2
    assert "error: cannot reach the judge endpoint" in capsys.readouterr().err
    assert not out.exists()
    report = json.loads((tmp_path / "report.json").read_text())  # the report is written when a run stops early
    assert report["stopped_early"].startswith("judge unavailable: cannot reach the judge endpoint")
    assert report["stages"]["all"]["chosen_correct"] > 0 and report["inputs"]["out"] is None


def test_missing_inputs(crafted, tmp_path, capsys):
    assert main(["pair", "--chosen", str(tmp_path / "nope"), "--rejected", str(crafted["rejected"]),
                 "--data", str(crafted["data"]), "--out", str(tmp_path / "p.parquet"), "--no-progress"]) == 2
    assert "nope: no such file or directory" in capsys.readouterr().err


def test_show_prints_pairs_side_by_side(crafted, tmp_path, capsys):
    out = tmp_path / "p.parquet"
    assert main(_pair(crafted, out)) == 0
    capsys.readouterr()
    assert main(["show", str(out), "--n", "2", "--width", "120"]) == 0
    shown = capsys.readouterr().out
    assert shown.count("CHOSEN") == 2 and "| REJECTED" in shown and "rule " in shown
    assert "(2 of 4 pairs in" in shown  # K = 1: q0, q1, q2 and q9


def test_pairs_load_in_the_dpo_dataset(crafted, tiny_model_dir, tmp_path):
    from transformers import AutoProcessor

    from specs_verl.dpo.data import PreferenceDataset

    out = tmp_path / "p.parquet"
    assert main(_pair(crafted, out)) == 0
    ds = PreferenceDataset(str(out), AutoProcessor.from_pretrained(tiny_model_dir), max_length=4096,
                           show_progress=False)
    assert len(ds) == 4 and ds.report.kept == 4
    item = ds[0]
    assert item["pair_id"] == pq.read_table(out).column("pair_id")[0].as_py()
    assert set(item) >= {"chosen", "rejected"}


def test_noop_pollutions_duplicates_warning_and_think_prefilled(crafted, tmp_path, capsys):
    """Tag-less rejected responses are not changed by most rules: counted apart, labelled, never as the rule;
    duplicate sample lines give one pair; no judge is named as the paper's ablation; --think-prefilled."""
    d = tmp_path
    rows = crafted["rows"][:2]
    pd.DataFrame(rows).to_parquet(d / "rl.parquet")
    gts = [r["reward_model"]["ground_truth"] for r in rows]
    qids = [r["extra_info"]["qid"] for r in rows]
    chosen = [formatted("x", g)[len("<think>"):] for g in gts]  # the prompt ended in <think>
    bare = [f"I count them: {g}. So \\boxed{{{g}}}" for g in gts]  # no tags at all: already unformatted
    (d / "c.jsonl").write_text("".join(json.dumps({"qid": q, "text": t, "model": "zero"}) + "\n"
                                       for q, t in zip(qids, chosen)) * 2)  # every line twice
    (d / "r.jsonl").write_text("".join(json.dumps({"qid": q, "text": t, "model": "base"}) + "\n"
                                       for q, t in zip(qids, bare)) * 2)
    out = d / "p.parquet"
    args = ["pair", "--chosen", str(d / "c.jsonl"), "--rejected", str(d / "r.jsonl"), "--data", str(d / "rl.parquet"),
            "--out", str(out), "--prompt-template", "none", "--no-progress", "--pairs-per-question", "4",
            "--pollution-rules", "strip_answer_tags,strip_think_tags"]
    assert main(args) == 0  # without --think-prefilled the chosen responses fail the format
    assert pq.read_table(out).num_rows == 0
    assert main(args + ["--think-prefilled"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((d / "report.json").read_text())
    st = report["stages"]["all"]
    assert st["chosen_duplicates"] == 2 and st["rejected_duplicates"] == 2
    assert st["rejected_already_unformatted"] == 2 and st["rejected_changed"] == 0
    assert report["pollution_rules"] == {UNCHANGED_RULE: 2} and report["pairs"] == 2
    assert "really changed by their pollution rule: 0 of 2" in printed
    assert "no-judge ablation (48.13 vs 50.02" in printed and any("ablation" in w for w in report["warnings"])
    pairs = pq.read_table(out).to_pylist()
    assert sorted(p["rejected"] for p in pairs) == sorted(bare)
    assert all(p["extra_info"]["pollution_rule"] == UNCHANGED_RULE for p in pairs)


def test_multiple_choice_rows_are_graded_with_their_option_texts(crafted, tmp_path):
    """A chosen sample that boxes the correct option's text is correct, as the reward grades it; one boxing
    another option's text is not."""
    d = tmp_path
    row = dict(crafted["rows"][0])
    text = str(row["reward_model"]["ground_truth"])
    row["reward_model"] = {"style": "rule", "ground_truth": "B"}
    row["extra_info"] = {**row["extra_info"], "options": ["100", text, "200"], "answer_type": "choice"}
    pd.DataFrame([row]).to_parquet(d / "rl.parquet")
    qid = row["extra_info"]["qid"]
    (d / "c.jsonl").write_text("".join(json.dumps({"qid": qid, "text": formatted(r, a), "model": "zero"}) + "\n"
                                       for r, a in (("I count.", text), ("Let me see.", "200"))))
    (d / "r.jsonl").write_text(json.dumps({"qid": qid, "text": formatted("Counting.", "B"), "model": "base"}) + "\n")
    report = run_pair(PairConfig(), PairOptions(chosen=[str(d / "c.jsonl")], rejected=[str(d / "r.jsonl")],
                                                data=str(d / "rl.parquet"), out=str(d / "p.parquet"),
                                                prompt_template="none", progress=False))
    assert report["stages"]["all"]["chosen_correct"] == 1 and report["pairs"] == 1
