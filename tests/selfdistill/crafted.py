"""Crafted RL data and sample files for the `pair` tests: each question stops at one branch of the pipeline."""

import json

import pandas as pd


def formatted(reasoning, answer):
    return f"<think>\n{reasoning}\n</think>\n<answer> The answer is $\\boxed{{{answer}}}$ </answer>"


def plain(reasoning, answer):
    return f"{reasoning} So the answer is \\boxed{{{answer}}}."


def two_boxes(reasoning, answer):  # passes format, grades correct, but the supplement refuses it
    return f"<think>\n{reasoning}\n</think>\n<answer> \\boxed{{{answer}}} or maybe \\boxed{{{answer}}} </answer>"


def wrong_of(gt):
    return "B" if gt == "A" else "A" if gt.isalpha() else str(int(gt) + 10)


def build_crafted(tiny_data_dir, d):
    """11 questions (10 tiny_count, 1 tiny_choice), each built to stop at one branch, and their sample files.

    q0 pairs; q1 judged no; q2 judge garbage; q3 wrong answer; q4 correct but unformatted; q5 rejected answer
    wrong; q6 no rejected sample; q7 no chosen sample; q8 two boxes (supplement refuses); q9 (tiny_choice)
    two consistent, one inconsistent, one wrong chosen and three rejected; q10 no ground truth.
    """
    count = pd.read_parquet(tiny_data_dir / "rl_train.parquet").head(11).to_dict("records")
    choice = pd.read_parquet(tiny_data_dir / "rl_val_ood_choice.parquet").head(1).to_dict("records")
    count[10] = {**count[10], "reward_model": {"style": "rule", "ground_truth": None}}  # q10: no ground truth
    rows = count[:9] + choice + count[10:]
    pd.DataFrame(rows).to_parquet(d / "rl.parquet")
    q = [r["extra_info"]["qid"] for r in rows]
    gt = [r["reward_model"]["ground_truth"] for r in rows]
    gt[10] = "3"  # its samples still answer something
    ok, bad = "JUDGE_YES I count.", "I count."
    scenarios = [  # question: (chosen texts, rejected texts)
        (0, [formatted(ok, gt[0])], [plain(bad, gt[0])]),
        (1, [formatted("JUDGE_NO I count.", gt[1])], [plain(bad, gt[1])]),
        (2, [formatted("JUDGE_GARBAGE I count.", gt[2])], [plain(bad, gt[2])]),
        (3, [formatted(ok, wrong_of(gt[3]))], [plain(bad, gt[3])]),
        (4, [plain(ok, gt[4])], [plain(bad, gt[4])]),
        (5, [formatted(ok, gt[5])], [plain(bad, wrong_of(gt[5]))]),
        (6, [formatted(ok, gt[6])], []),
        (7, [], [plain(bad, gt[7])]),
        (8, [two_boxes(ok, gt[8])], [plain(bad, gt[8])]),
        (9, [formatted("JUDGE_YES one", gt[9]), formatted("JUDGE_YES two", gt[9]), formatted("JUDGE_NO three", gt[9]),
             formatted("JUDGE_YES four", wrong_of(gt[9]))],
         [plain("A.", gt[9]), plain("B.", gt[9]), formatted("C.", gt[9])]),
        (10, [formatted(ok, gt[10])], [plain(bad, gt[10])]),
    ]
    C = [(i, t) for i, chosen, _ in scenarios for t in chosen]
    R = [(i, t) for i, _, rejected in scenarios for t in rejected]
    with open(d / "chosen.jsonl", "w") as f:
        for i, text in C:
            f.write(json.dumps({"qid": q[i], "text": text, "model": "zero", "n_tokens": len(text) // 4}) + "\n")
        f.write("this is not json\n")
        f.write(json.dumps({"qid": q[0]}) + "\n")  # no text
        f.write(json.dumps({"qid": "not-in-the-data", "text": "x"}) + "\n")
    rdir = d / "rejected"
    rdir.mkdir()
    with open(rdir / "base.jsonl", "w") as f:
        for i, text in R:
            f.write(json.dumps({"qid": q[i], "text": text}) + "\n")  # no model id: named after the file
        f.write(json.dumps({"qid": "not-in-the-data-either", "text": "y"}) + "\n")
    return {"dir": d, "data": d / "rl.parquet", "chosen": d / "chosen.jsonl", "rejected": rdir, "rows": rows}
