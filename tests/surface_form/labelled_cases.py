"""A labelled table of responses with the verdict every profile must give.

Each case is a real-looking reasoning (BASES) put through one edit (EDITS) whose verdicts are written by hand:
(specs format, specs structure, specs style, geo3k format, r1v format). The bases keep their think text free
of tags and braces-balanced, so an edit's verdicts do not depend on the base. HANDWRITTEN adds responses that
do not fit the base x edit mould (model outputs as they come, adversarial strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

T, F = True, False


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    specs: tuple[bool, bool, bool]  # format_ok, structure_ok, style_ok under profile "specs"
    geo3k: bool  # format_ok under "geo3k"
    r1v: bool  # format_ok under "r1v"
    options: dict = field(default_factory=dict)


GEOMETRY = """Let me look at the figure. Triangle ABC is right-angled at C, with AC = 6 and BC = 8.
By the Pythagorean theorem, AB^2 = AC^2 + BC^2 = 36 + 64 = 100, so AB = 10.
The median from C to the hypotenuse has length half of the hypotenuse, which is 5.
Wait, the question asks for the altitude from C instead. The area is (1/2)(6)(8) = 24,
and also (1/2)(AB)(h) = 5h, so h = 24/5 = 4.8.
Let me double-check: 5 * 4.8 = 24. Yes."""

ALGEBRA = r"""We need to solve $x^2 - 5x + 6 = 0$.
Factoring: $(x-2)(x-3) = 0$, so $x = 2$ or $x = 3$.
The problem says $x > 2$, so we take $x = 3$.
Check: $3^2 - 5 \cdot 3 + 6 = 9 - 15 + 6 = 0$. Correct.
Hmm, but let me make sure about the constraint $x > 2$: it is strict, so $x = 2$ is excluded."""

CHART = """The bar chart shows sales for 2019 through 2023.
2019: 120, 2020: 95, 2021: 140, 2022: 160, 2023: 155.
The question asks in which year the increase over the previous year was largest.
2020: -25; 2021: +45; 2022: +20; 2023: -5.
The largest increase is +45, in 2021.

So the year is 2021."""

CHOICE = """The options are:
(A) 15 degrees (B) 30 degrees (C) 45 degrees (D) 60 degrees
The angle subtends a semicircle... no wait, the angle at the center is 60 degrees,
so the inscribed angle on the same arc is half of it: 30 degrees.
That matches option (B)."""

CODE = """I can count the cubes with a quick program in my head:

```python
count = 0
for layer in range(3):
    count += (layer + 1) ** 2
print(count)  # 1 + 4 + 9 = 14
```

So there are 14 cubes in the stack."""

CHINESE = """首先，圆的半径是 3，所以面积是 9π。
正方形的边长是 6，面积是 36。
阴影部分 = 正方形面积 - 圆面积 = 36 - 9π ≈ 7.73。
Let me double check: 9 × 3.1416 = 28.27, 36 - 28.27 = 7.73."""

MULTILINE_MATH = r"""Let $f(x) = \frac{2x+1}{x-1}$.
We want $f^{-1}(3)$, i.e. the $x$ with $f(x) = 3$:
\[
\frac{2x+1}{x-1} = 3 \implies 2x + 1 = 3x - 3 \implies x = 4.
\]
Verify: $f(4) = \frac{9}{3} = 3$. Good."""

SHORT = "6 * 7 = 42"

LONG = "\n".join(
    f"Step {i}: consider the partial sum S_{i} = S_{i - 1} + {i} = {i * (i + 1) // 2}; "
    "keep going until the pattern is clear, since each term adds the index to the previous sum."
    for i in range(1, 801)
) + "\nThe sum of the first 800 integers is 320400."

BASES: dict[str, tuple[str, str]] = {
    "geometry": (GEOMETRY, "4.8"),
    "algebra": (ALGEBRA, "3"),
    "chart": (CHART, "2021"),
    "choice": (CHOICE, "B"),
    "code": (CODE, "14"),
    "chinese": (CHINESE, "36 - 9\\pi"),
    "multiline_math": (MULTILINE_MATH, "4"),
    "short": (SHORT, "42"),
    "long": (LONG, "320400"),
}


def canonical(think: str, x: str, between: str = "\n", answer: str | None = None) -> str:
    answer = f"The answer is $\\boxed{{{x}}}$" if answer is None else answer
    return f"<think>{think}</think>{between}<answer>{answer}</answer>"


# name -> (edit(think, x) -> text, specs verdicts, geo3k, r1v, options)
Edit = Callable[[str, str], str]
EDITS: dict[str, tuple[Edit, tuple[bool, bool, bool], bool, bool, dict]] = {
    "canonical": (canonical, (T, T, T), T, T, {}),
    # the five pollutions of the paper
    "pollute_strip_all_tags": (
        lambda t, x: f"{t}\nThe answer is $\\boxed{{{x}}}$", (F, F, F), F, F, {}),
    "pollute_strip_answer_tags": (
        lambda t, x: f"<think>{t}</think>\nThe answer is $\\boxed{{{x}}}$", (F, F, F), T, F, {}),
    "pollute_strip_think_tags": (
        lambda t, x: f"{t}\n<answer>The answer is $\\boxed{{{x}}}$</answer>", (F, F, F), F, F, {}),
    "pollute_move_think_close": (
        lambda t, x: f"<think>{t}\nThe answer is $\\boxed{{{x}}}$</think>", (F, F, F), F, F, {}),
    "pollute_answer_prefix": (
        lambda t, x: f"<think>{t}</think>\nAnswer: The answer is $\\boxed{{{x}}}$", (F, F, F), T, F, {}),
    # text and whitespace around the blocks
    "preamble": (lambda t, x: "Sure, let me solve this.\n" + canonical(t, x), (T, F, F), F, F, {}),
    "leading_newline": (lambda t, x: "\n" + canonical(t, x), (T, T, T), F, F, {}),
    "trailing_text": (lambda t, x: canonical(t, x) + "\nHope this helps!", (T, F, F), T, F, {}),
    "trailing_newline": (lambda t, x: canonical(t, x) + "\n", (T, T, T), T, F, {}),
    "trailing_im_end_text": (lambda t, x: canonical(t, x) + "<|im_end|>", (T, F, F), T, F, {}),
    "no_space_between": (lambda t, x: canonical(t, x, between=""), (T, T, T), T, T, {}),
    "blank_lines_between": (lambda t, x: canonical(t, x, between="\n\n \t\n"), (T, T, T), T, T, {}),
    "nbsp_between": (lambda t, x: canonical(t, x, between="\u00a0\u2003"), (T, T, T), T, T, {}),
    "text_between": (lambda t, x: canonical(t, x, between="\nSo:\n"), (F, F, F), T, F, {}),
    # empty and whitespace blocks
    "empty_think": (lambda t, x: canonical("", x), (F, F, F), T, T, {}),
    "blank_think": (lambda t, x: canonical(" \n", x), (T, T, T), T, T, {}),
    "empty_answer": (lambda t, x: canonical(t, x, answer=""), (F, F, F), F, T, {}),
    "blank_answer": (lambda t, x: canonical(t, x, answer="  "), (T, F, F), F, T, {}),
    # tag counts and order
    "duplicate_think_open": (lambda t, x: canonical("<think>" + t, x), (F, F, F), T, T, {}),
    "duplicate_think_close": (lambda t, x: canonical(t + "</think>\nmore thoughts", x), (F, F, F), T, T, {}),
    "duplicate_answer_close": (lambda t, x: canonical(t, x) + "</answer>", (F, F, F), T, T, {}),
    "duplicate_answer_block": (
        lambda t, x: canonical(t, x) + f"\n<answer>The answer is $\\boxed{{{x}}}$</answer>", (F, F, F), T, T, {}),
    "answer_before_think": (
        lambda t, x: f"<answer>The answer is $\\boxed{{{x}}}$</answer>\n<think>{t}</think>", (F, F, F), F, F, {}),
    "answer_inside_think": (
        lambda t, x: f"<think>{t}\n<answer>The answer is $\\boxed{{{x}}}$</answer></think>", (F, F, F), F, F, {}),
    "missing_think_open": (lambda t, x: canonical(t, x)[len("<think>"):], (F, F, F), F, F, {}),
    "missing_think_close": (lambda t, x: canonical(t, x).replace("</think>", "\n"), (F, F, F), F, F, {}),
    "missing_answer_open": (lambda t, x: canonical(t, x).replace("<answer>", ""), (F, F, F), T, F, {}),
    "truncated_answer": (lambda t, x: canonical(t, x)[: -len("</answer>")], (F, F, F), T, F, {}),
    "truncated_in_think": (lambda t, x: "<think>" + t[: len(t) // 2], (F, F, F), F, F, {}),
    # near misses: never tags
    "near_miss_space_slash": (lambda t, x: canonical(t, x).replace("</think>", "< /think>"), (F, F, F), F, F, {}),
    "near_miss_answer_spaces": (lambda t, x: canonical(t, x).replace("</answer>", "</ answer >"), (F, F, F), T, F, {}),
    "near_miss_capital_think": (lambda t, x: canonical(t, x).replace("<think>", "<Think>"), (F, F, F), F, F, {}),
    "near_miss_upper_answer": (lambda t, x: canonical(t, x).replace("<answer>", "<ANSWER>"), (F, F, F), T, F, {}),
    "near_miss_thinking": (
        lambda t, x: canonical(t, x).replace("<think>", "<thinking>").replace("</think>", "</thinking>"),
        (F, F, F), F, F, {}),
    "near_miss_fullwidth": (lambda t, x: canonical(t, x).replace("<answer>", "\uff1canswer\uff1e"), (F, F, F), T, F, {}),
    "cyrillic_lookalike": (lambda t, x: canonical(t, x).replace("<think>", "<th\u0456nk>"), (F, F, F), F, F, {}),
    "near_miss_in_reasoning": (lambda t, x: canonical(t + "\n(I should close with < /think>.)", x), (T, F, F), T, T, {}),
    # tags quoted inside the reasoning (a code block about the format)
    "tags_in_code_block": (
        lambda t, x: canonical(t + "\n```xml\n<answer>...</answer>\n```", x), (F, F, F), T, T, {}),
    "think_tag_in_inline_code": (lambda t, x: canonical(t + "\nThe format wants `<think>` first.", x),
                                 (F, F, F), T, T, {}),
    # the answer's box
    "answer_unboxed": (lambda t, x: canonical(t, x, answer=x), (T, F, F), F, T, {}),
    "answer_two_boxes": (
        lambda t, x: canonical(t, x, answer=f"$\\boxed{{{x}}}$ or $\\boxed{{{x}0}}$"), (T, F, F), T, T, {}),
    "answer_nested_box": (
        lambda t, x: canonical(t, x, answer=f"The answer is $\\boxed{{\\boxed{{{x}}}}}$"), (T, T, T), T, T, {}),
    "answer_empty_box": (lambda t, x: canonical(t, x, answer="The answer is $\\boxed{}$"), (T, F, F), T, T, {}),
    "answer_unclosed_box": (
        lambda t, x: canonical(t, x, answer=f"The answer is $\\boxed{{{x}$"), (T, F, F), None, T, {}),
    "box_in_think_only": (
        lambda t, x: canonical(t + f"\nSo it is \\boxed{{{x}}}.", x, answer=x), (T, F, F), F, T, {}),
    # the answer's wording (style)
    "answer_plain_box": (lambda t, x: canonical(t, x, answer=f"\\boxed{{{x}}}"), (T, T, F), T, T, {}),
    "answer_prefix_word": (lambda t, x: canonical(t, x, answer=f"Answer: $\\boxed{{{x}}}$"), (T, T, F), T, T, {}),
    "answer_period": (lambda t, x: canonical(t, x, answer=f"The answer is \\boxed{{{x}}}."), (T, T, T), T, T, {}),
    "answer_spaces_newlines": (
        lambda t, x: canonical(t, x, answer=f"\n The answer is $\\boxed{{{x}}}$ \n"), (T, T, T), T, T, {}),
    "answer_paren_math": (lambda t, x: canonical(t, x, answer=f"The answer is \\(\\boxed{{{x}}}\\)"), (T, T, T), T, T, {}),
    "answer_display_math": (
        lambda t, x: canonical(t, x, answer=f"The answer is $$\\boxed{{{x}}}$$"), (T, T, T), T, T, {}),
    "answer_unmatched_dollar": (
        lambda t, x: canonical(t, x, answer=f"The answer is $\\boxed{{{x}}}"), (T, T, F), T, T, {}),
    "answer_lowercase_wrapper": (
        lambda t, x: canonical(t, x, answer=f"the answer is $\\boxed{{{x}}}$"), (T, T, T), T, T, {}),
    "answer_extra_words": (
        lambda t, x: canonical(t, x, answer=f"The answer is $\\boxed{{{x}}}$ because of the figure"),
        (T, T, F), T, T, {}),
    # chat templates that pre-fill <think>
    "prefilled": (lambda t, x: canonical(t, x)[len("<think>"):], (T, T, T), T, T, {"think_prefilled": True}),
    "prefilled_repeated_tag": (canonical, (F, F, F), T, T, {"think_prefilled": True}),
    "prefilled_preamble_inside": (
        lambda t, x: "Okay, " + canonical(t, x)[len("<think>"):], (T, T, T), T, T, {"think_prefilled": True}),
    # style bounds
    "think_too_short": (lambda t, x: canonical("ok", x), (T, T, F), T, T, {"min_think_chars": 5}),
    "answer_too_long": (canonical, (T, T, F), T, T, {"max_answer_chars": 10}),
}


HANDWRITTEN: list[Case] = [
    Case("qwen_style_ok",
         "<think>\nThe image shows a right triangle with legs 3 and 4.\nSo the hypotenuse is 5.\n</think>\n"
         "<answer> The answer is $\\boxed{5}$ </answer>", (T, T, T), T, T),
    Case("qwen_base_no_tags",
         "The hypotenuse is $\\sqrt{3^2+4^2} = 5$.\n\nTherefore, the answer is $\\boxed{5}$.", (F, F, F), F, F),
    Case("r1_style_answer_plain",
         "<think>3^2+4^2=25</think> <answer>5</answer>", (T, F, F), F, T),
    Case("geo3k_style_only",
         "<think>3^2+4^2=25</think> The hypotenuse is \\boxed{5}.", (F, F, F), T, F),
    Case("single_char_blocks", "<think>a</think><answer>b</answer>", (T, F, F), F, T),
    Case("only_tags", "<think></think><answer></answer>", (F, F, F), F, T),
    Case("empty_string", "", (F, F, F), F, F),
    Case("whitespace_only", " \n\t ", (F, F, F), F, F),
    Case("tags_only_closing", "</think></answer>", (F, F, F), F, F),
    Case("many_think_tags", "<think>" * 2000 + "x</think><answer>The answer is \\boxed{1}</answer>", (F, F, F), T, T),
    Case("many_near_misses", "<think>" + "< /think>" * 500 + "</think><answer>The answer is \\boxed{1}</answer>",
         (T, F, F), T, T),
    Case("unbalanced_braces_think",
         "<think>{{{{ not closed</think>\n<answer>The answer is $\\boxed{7}$</answer>", (T, T, T), T, T),
    Case("unclosed_box_in_think",
         "<think>maybe \\boxed{7 </think>\n<answer>The answer is $\\boxed{7}$</answer>", (T, T, T), T, T),
    Case("boxed_with_fraction",
         "<think>half of 3</think>\n<answer>The answer is $\\boxed{\\frac{3}{2}}$</answer>", (T, T, T), T, T),
    Case("boxed_with_set",
         "<think>roots</think>\n<answer>The answer is $\\boxed{\\{1, 2\\}}$</answer>", (T, T, T), T, T),
    Case("boxed_space_before_brace",
         "<think>x</think>\n<answer>The answer is $\\boxed {7}$</answer>", (T, T, T), F, T),
    Case("crlf_newlines",
         "<think>line one\r\nline two</think>\r\n<answer>The answer is $\\boxed{2}$</answer>\r\n", (T, T, T), T, F),
    Case("think_selfclosing",
         "<think/>reasoning</think>\n<answer>The answer is $\\boxed{2}$</answer>", (F, F, F), F, F),
    Case("answer_tag_in_answer_text",
         "<think>x</think>\n<answer>The answer is $\\boxed{2}$ (in <answer> tags)</answer>", (F, F, F), T, T),
    Case("emoji_and_rtl",
         "<think>\U0001F914 \u05e9\u05dc\u05d5\u05dd 2+2</think>\n<answer>The answer is $\\boxed{4}$</answer>",
         (T, T, T), T, T),
    Case("prefilled_but_not_declared",
         "The triangle has legs 3 and 4.</think>\n<answer>The answer is $\\boxed{5}$</answer>", (F, F, F), F, F),
    Case("null_bytes", "<think>\x00\x00</think><answer>The answer is \\boxed{0}</answer>", (T, T, T), T, T),
]


def all_cases() -> list[Case]:
    cases = []
    for base, (think, x) in BASES.items():
        for edit, (fn, specs, geo3k, r1v, options) in EDITS.items():
            text = fn(think, x)
            if geo3k is None:  # depends on the base: geo3k only needs some "}" after "\boxed{"
                geo3k = "}" in text[text.index("\\boxed{"):]
            cases.append(Case(f"{base}-{edit}", text, specs, geo3k, r1v, options))
    return cases + HANDWRITTEN
