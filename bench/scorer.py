"""Scorer benchmark: our one-pass `check` and `compute_score` against the regex rules they replace.

    python bench/scorer.py [--n 10000] [--reward-n 2000] [--seed 0] [--json out.json]

Side by side, in one run, interleaved per response (so a load spike on a shared machine hits every scorer
alike), it prints responses/s and the worst per-response latency:

- format decision: `specs_verl.surface_form.check` (the full report: format, structure, style, violation
  codes) vs (a) the SPECS authors' format rule as they wrote it (MM-EUREKA's chained-lookahead regex) and
  (b) verl's geo3k rule (`<think>.*</think>.*\\boxed\\{.*\\}.*`, fullmatch);
- whole reward: `specs_verl.reward.compute_score` vs (a) the authors' reward (that regex + math-verify on the
  answer span with their multiple-choice fallback) and (b) verl's `geo3k.compute_score` (regex + mathruler).

Data: `--n` synthetic responses of 200 to 10,000 tokens (log-uniform, about 4 characters a token) with
real-looking reasoning (LaTeX, comparisons with '<', code blocks, CJK), 60 % well formed and the rest with the
paper's pollutions, stray text, duplicate or near-miss tags; final answers are integers, decimals, LaTeX
expressions and option letters, half of them right (the ground truth sometimes in another form); and an adversarial set (1 MB responses, floods of
tags, unclosed boxes, look-alike brackets, long whitespace runs). Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import time
from typing import Callable

from specs_verl.reward import compute_score
from specs_verl.surface_form import POLLUTION_RULES, check, pollute
from specs_verl.surface_form.reference import GEO3K, SPECS_AUTHORS

SENTENCES = [
    "Let me look at the figure again: the angle at $B$ is ${a}^\\circ$ and $AB = {b}$.",
    "Since ${a} < {b}$, the point lies inside the circle, so the distance is less than the radius.",
    "By the Pythagorean theorem, $c^2 = {a}^2 + {b}^2$, which gives $c = \\sqrt{{{a}^2+{b}^2}}$.",
    "Wait, I should double-check this step: $\\frac{{{a}}}{{{b}}}$ is not an integer, so reconsider.",
    "The bar for {a} is higher than the bar for {b}; the difference is {a} - {b}.",
    "Hmm, if $x > {a}$ then $f(x) = {b}x - {a}$ is increasing on the interval.",
    "So the area is $\\frac{{1}}{{2}} \\cdot {a} \\cdot {b} = {c}$ square units.",
    "Option (A) is {a}, option (B) is {b}; neither matches yet, so let me recompute.",
    "首先，计算 {a} 乘以 {b} 等于 {c}。",
    "```python\nprint(sum(range({a})))  # {c}\n```",
    "Therefore $\\angle ACB = 180^\\circ - {a}^\\circ - {b}^\\circ$.",
    "Let me define $S_n = \\sum_{{k=1}}^{{n}} k$ and check $S_{{{a}}} = {c}$.",
]


def reasoning(rng: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        s = rng.choice(SENTENCES).format(a=a, b=b, c=a * b)
        out.append(s)
        size += len(s) + 1
        if rng.random() < 0.15:
            out.append("")
    return "\n".join(out)


def answer_and_gold(rng: random.Random) -> tuple[str, str]:
    """A final answer and a ground truth: half right (sometimes in another form), across answer types."""
    a, b = rng.randint(1, 99), rng.randint(2, 9)
    kind = rng.random()
    if kind < 0.45:  # integers
        answer, right, wrong = str(a * b), str(a * b), str(a * b + 1)
    elif kind < 0.6:  # decimals
        answer, right, wrong = f"{a / 4:g}", f"{a / 4:.2f}", f"{a / 4 + 0.5:g}"
    elif kind < 0.8:  # LaTeX expressions, the ground truth sometimes in another form
        answer = f"\\frac{{{a}}}{{{b}}}" if rng.random() < 0.5 else f"{b}\\sqrt{{{a}}}"
        right = f"{a}/{b}" if "frac" in answer else f"{b}*sqrt({a})"
        wrong = f"\\frac{{{a + 1}}}{{{b}}}"
    else:  # multiple choice
        answer = rng.choice("ABCD")
        right, wrong = answer, rng.choice([c for c in "ABCD" if c != answer])
    return answer, right if rng.random() < 0.5 else wrong


def make_response(rng: random.Random, tokens: int) -> tuple[str, str]:
    answer, gold = answer_and_gold(rng)
    think = reasoning(rng, 4 * tokens)
    text = f"<think>\n{think}\n</think>\n<answer> The answer is $\\boxed{{{answer}}}$ </answer>"
    kind = rng.random()
    if kind < 0.60:
        pass
    elif kind < 0.80:
        text = pollute(text, rng.choice(POLLUTION_RULES))
    elif kind < 0.85:
        text = "Sure! Here is my solution.\n" + text + "\nHope this helps."
    elif kind < 0.90:
        text = text.replace("\n</think>", "\n```xml\n<answer>...</answer>\n```\n</think>")
    elif kind < 0.95:
        text = text.replace("</think>", "< /think>")
    else:
        text = text[len("<think>"):]
    return text, gold


def adversarial() -> dict[str, str]:
    rng = random.Random(1)
    mb = 1_000_000
    return {
        "1MB well formed": f"<think>{reasoning(rng, mb)}</think>\n<answer>The answer is $\\boxed{{7}}$</answer>",
        "1MB no tags": reasoning(rng, mb),
        "1MB of '<'": "<" * mb,
        # verl's geo3k regex is quadratic on repeated tags: two sizes show the growth (1 MB would take minutes)
        "tag flood 50 KB": "<think></think>" * (mb // 300),
        "tag flood 100 KB": "<think></think>" * (mb // 150),
        "100k near-miss tags": "< /think >" * (mb // 10),
        "unclosed boxes": "\\boxed{" * (mb // 7),
        "1MB inside one box": "<think>x</think><answer>\\boxed{" + "{}" * (mb // 2) + "}</answer>",
        "look-alike brackets": "\uff1cthink\uff1e" * (mb // 7),
        "whitespace run between": "<think>a</think>" + " " * mb + "x<answer>b</answer>",
        "1MB answer, no box": "<think>a</think><answer>" + "x " * (mb // 2),
    }


# ------------------------------------------------------------------------------------------------ baselines


def authors_format(text: str) -> float:
    return 0.5 if SPECS_AUTHORS.search(text) else 0.0


def geo3k_format(text: str) -> float:
    return 1.0 if GEO3K.fullmatch(text) else 0.0


def authors_reward() -> Callable[[str, str], float]:
    """The SPECS authors' reward as MM-EUREKA ran it: regex format (0.5) + math-verify accuracy (1.0)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, StringExtractionConfig, parse, verify

    span = re.compile(r"<answer>(.*?)</answer>")

    def score(text: str, gold: str) -> float:
        m = span.search(text)
        content = m.group(0) if m else text.split("<answer>")[-1]
        gold_parsed = parse(f"${gold}$")
        acc = 0.0
        if gold_parsed:
            pred = parse(content, extraction_config=[StringExtractionConfig(), LatexExtractionConfig(),
                                                     ExprExtractionConfig()])
            try:
                acc = float(verify(pred, gold_parsed))
            except Exception:
                acc = 0.0
            if acc == 0.0:  # their multiple-choice fallback
                student = (m.group(1) if m else content).lower()
                for g in gold_parsed:
                    if str(g).lower() in "abcd" and str(g).lower() in student:
                        if all(c not in student for c in "abcd" if c != str(g).lower()):
                            acc = 1.0
        return acc + authors_format(text)

    return score


def verl_geo3k_reward() -> Callable[[str, str], float]:
    try:
        from verl.utils.reward_score.geo3k import compute_score as geo3k_score
    except ImportError:  # verl not installed: the same rule, inline
        from mathruler.grader import extract_boxed_content, grade_answer

        def geo3k_score(text, gold):
            return 0.9 * grade_answer(extract_boxed_content(text), gold) + 0.1 * geo3k_format(text)

    return geo3k_score


def clear_parse_caches() -> None:
    """Empty the parse caches before each reward call (not timed). The scorers run one after the other on the
    same response, and math-verify's LaTeX cache would otherwise hand the second one the first one's parse; our
    caches (a real gain in GRPO, where n samples share a gold) are emptied too, in the grading worker processes
    as well, so every scorer parses everything."""
    import math_verify.parser as mv_parser

    from specs_verl import grading

    for cache in (mv_parser.parse_latex_cached, mv_parser.parse_expr_cached, mv_parser.extract_latex):
        cache.cache_clear()
    if hasattr(grading, "clear_caches"):
        grading.clear_caches()
    else:  # the single-module grader before the worker pool (to time it in the same conditions)
        grading._parse_gold.cache_clear()


# ---------------------------------------------------------------------------------------------------- timing


def run(scorers: dict[str, Callable], inputs: list[tuple], repeats: int = 1,
        prepare: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Per-input latency of every scorer, interleaved input by input; with `repeats`, the best of that many
    back-to-back calls (on a shared machine a load spike then shows as noise in no scorer's figures).
    `prepare()` runs before every call, outside the timing."""
    times: dict[str, list[float]] = {name: [] for name in scorers}
    clock = time.perf_counter
    for args in inputs:
        for name, fn in scorers.items():
            best = math.inf
            for _ in range(repeats):
                if prepare is not None:
                    prepare()
                start = clock()
                fn(*args)
                best = min(best, clock() - start)
            times[name].append(best)
    return times


def summary(ts: list[float]) -> dict[str, float]:
    ordered = sorted(ts)
    return {
        "n": len(ts),
        "per_s": len(ts) / sum(ts) if sum(ts) else math.inf,
        "p50_us": statistics.median(ts) * 1e6,
        "p99_us": ordered[min(len(ts) - 1, int(0.99 * len(ts)))] * 1e6,
        "worst_us": ordered[-1] * 1e6,
    }


def print_table(title: str, buckets: dict[str, dict[str, list[float]]], ours: str, baseline: str) -> dict:
    print(f"\n## {title}")
    names = list(next(iter(buckets.values())))
    print(f"{'bucket':<22}{'n':>6} " + " ".join(f"{n + ' resp/s':>22}" for n in names)
          + f"{'speedup vs ' + baseline:>22}" + " " + " ".join(f"{n + ' worst ms':>22}" for n in names))
    figures = {}
    for bucket, times in buckets.items():
        stats = {name: summary(ts) for name, ts in times.items()}
        figures[bucket] = stats
        speed = stats[ours]["per_s"] / stats[baseline]["per_s"]
        print(f"{bucket:<22}{stats[ours]['n']:>6} "
              + " ".join(f"{stats[n]['per_s']:>22,.0f}" for n in names)
              + f"{speed:>21.2f}x "
              + " ".join(f"{stats[n]['worst_us'] / 1e3:>22.3f}" for n in names))
    return figures


def bucket_of(text: str) -> str:
    n = len(text)
    return "short (<2k chars)" if n < 2000 else ("medium (2k-8k)" if n <= 8000 else "long (>8k chars)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="synthetic responses for the format benchmark")
    parser.add_argument("--reward-n", type=int, default=10_000,
                        help="how many of them also go through the whole reward (math-verify: ms each)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic responses")
    parser.add_argument("--repeats", type=int, default=3,
                        help="format timings are the best of this many back-to-back calls (the reward: one call, "
                             "so that no scorer's cache warms up on a repeat)")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--no-hard-answers", action="store_true",
                        help="skip the exponent towers (to time a grader from before they were refused: it hangs)")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    data = [make_response(rng, int(math.exp(rng.uniform(math.log(200), math.log(10_000))))) for _ in range(args.n)]
    chars = [len(t) for t, _ in data]
    print(f"{len(data)} responses, {min(chars):,}-{max(chars):,} characters (median {statistics.median(chars):,.0f});"
          f" python {sys.version.split()[0]}")

    fmt = {"ours check": check, "authors regex": authors_format, "verl geo3k": geo3k_format}
    for text, _ in data[:50]:  # warm up
        run(fmt, [(text,)])
    fmt_buckets: dict[str, dict[str, list[float]]] = {}
    for text, _ in data:
        for name, ts in run(fmt, [(text,)], repeats=args.repeats).items():
            fmt_buckets.setdefault(bucket_of(text), {n: [] for n in fmt})[name].extend(ts)
    fmt_buckets = dict(sorted(fmt_buckets.items(), key=lambda kv: ["s", "m", "l"].index(kv[0][0])))
    fmt_buckets["all"] = {n: [t for b in fmt_buckets.values() for t in b[n]] for n in fmt}
    figures = {"format": print_table("format decision", fmt_buckets, "ours check", "authors regex")}

    adv = adversarial()
    adv_times = {name: run(fmt, [(text,)], repeats=args.repeats) for name, text in adv.items()}
    print("\n## adversarial set, format decision (ms per response)")
    print(f"{'case':<26}" + "".join(f"{n:>16}" for n in fmt))
    for name, times in adv_times.items():
        print(f"{name:<26}" + "".join(f"{times[n][0] * 1e3:>16.2f}" for n in fmt))
    figures["adversarial_format_ms"] = {c: {n: t[n][0] * 1e3 for n in fmt} for c, t in adv_times.items()}

    reward = {
        "ours compute_score": lambda text, gold: compute_score("bench", text, gold),
        "authors reward": authors_reward(),
        "verl geo3k": verl_geo3k_reward(),
    }
    sample = data[: args.reward_n]
    run(reward, sample[:20], prepare=clear_parse_caches)  # warm up (sympy caches, imports, the grading worker)
    rw_buckets: dict[str, dict[str, list[float]]] = {}
    for text, gold in sample:
        for name, ts in run(reward, [(text, gold)], prepare=clear_parse_caches).items():
            rw_buckets.setdefault(bucket_of(text), {n: [] for n in reward})[name].extend(ts)
    rw_buckets = dict(sorted(rw_buckets.items(), key=lambda kv: ["s", "m", "l"].index(kv[0][0])))
    rw_buckets["all"] = {n: [t for b in rw_buckets.values() for t in b[n]] for n in reward}
    figures["reward"] = print_table("whole reward (format + accuracy)", rw_buckets, "ours compute_score",
                                    "authors reward")

    hard = {"tower 10^{10^{10}}": "10^{10^{10}}", "tower 9^{9^{9^{9}}}": "9^{9^{9^{9}}}",
            "2^{2^{40}}": "2^{2^{40}}", "hedge 2 \\text{ or } 3": "2 \\text{ or } 3"}
    if not args.no_hard_answers:
        print("\n## answers that used to stall or fool the grader: compute_score ms (time_limit 5 s)")
    figures["hard_answers_ms"] = {}
    for name, answer in ({} if args.no_hard_answers else hard).items():
        text = f"<think>a</think><answer>\\boxed{{{answer}}}</answer>"
        ms = run({"c": lambda t: compute_score("bench", t, "2")}, [(text,)])["c"][0] * 1e3
        figures["hard_answers_ms"][name] = ms
        print(f"{name:<26}{ms:>10.2f}")

    mb = adv["1MB well formed"]
    best = min(run({"c": lambda t: compute_score("bench", t, "7")}, [(mb,)] * 5)["c"])
    print(f"\n1 MB well-formed response: compute_score {best * 1e3:.1f} ms, check "
          f"{min(run({'c': check}, [(mb,)] * 5)['c']) * 1e3:.1f} ms (best of 5)")
    figures["one_mb_compute_score_ms"] = best * 1e3
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
