"""A reward for GRPO smoke runs on a random-weight model: accuracy plus a small text-diversity term.

A random model almost never answers right, so accuracy alone gives every response of a group the same reward
and GRPO zero advantages; the diversity term (distinct characters / length) differs between responses.
"""


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    text = solution_str or ""
    acc = float(str(ground_truth).strip().lower() in text.lower()) if str(ground_truth).strip() else 0.0
    return {"score": acc + 0.1 * len(set(text)) / max(1, len(text)), "acc": acc}
