"""No LaTeX escape turns into a control character anywhere in data preparation (property test over every
converter): LaTeX written with single backslashes reaches the row intact, and LaTeX that an earlier tool already
decoded (`\\frac` read as form feed + "rac", as in MATH-V's test.jsonl id 2830) gets its backslash back."""

import io
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from specs_verl.data_prep.dataset_spec import ConvertContext
from specs_verl.data_prep.latex_escapes import has_control, repair_escapes
from specs_verl.data_prep.registry import DATASETS
from specs_verl.data_prep.rows import RowSettings, build_row
from specs_verl.generation.prompt import load_instruction
from tests.data_prep.checks import strings_in

# commands whose first letter is an escape in JSON or Python strings (\f \b \v \a \r \t \n)
COMMANDS = ["\\frac{1}{2}", "\\beta", "\\vec{v}", "\\alpha", "\\right)", "\\rho", "\\times", "\\theta", "\\tan x",
            "\\text{cm}", "\\neq", "\\nabla f", "\\sqrt{3}", "\\pi", "\\circ"]
DECODE = {"\\f": "\f", "\\b": "\b", "\\v": "\v", "\\a": "\a", "\\r": "\r", "\\t": "\t", "\\n": "\n"}


def decoded(s: str) -> str:
    """`s` as json.loads / ast.literal_eval read it when it was written with single backslashes."""
    for esc, ch in DECODE.items():
        s = s.replace(esc, ch)
    return s


def _png() -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (20, 16)).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def records(s: str, hand_written_list: bool) -> dict[str, list[tuple[str, dict]]]:
    """Per converter, records carrying `s` in every text field (multiple choice and free form)."""
    png = _png()
    mmmu_options = f"['{s}', 'x']" if hand_written_list else str([s, "x"])
    meta = {"split": "testmini", "source": "x", "subject": "Plane Geometry", "subfield": "Angle"}
    return {
        "virl39k": [("", {"question": "<image>" + s, "answer": "\\boxed{" + s + "}", "image": [png], "qid": "q",
                          "category": s}),
                    ("", {"question": "<image>" + s + "\nA. " + s + "\nB. y", "answer": "\\boxed{A}",
                          "image": [png], "qid": "q"})],
        "geometry3k": [(v, {"problem": "<image>" + s, "answer": s, "images": [png], "id": 1, "choices": [s, "x"],
                            "ground_truth": "A"}) for v in ("free_form", "choice")],
        "mathvista": [("", {"pid": "1", "question": s, "decoded_image": png, "choices": [s, "other"], "answer": s,
                            "question_type": "multi_choice", "unit": s}),
                      ("", {"pid": "2", "question": s, "decoded_image": png, "choices": None, "answer": s,
                            "question_type": "free_form", "answer_type": "float", "precision": 2.0})],
        "mathverse": [("vision_only", {"sample_index": "1", "problem_version": "Vision Only", "question": s,
                                       "image": png, "answer": ans, "question_type": qt, "metadata": meta,
                                       "question_for_eval": f"{s}\nChoices:\nA:{s}\nB:x",
                                       "query_wo": "Please answer. " + s})
                      for ans, qt in (("A", "multi-choice"), (s, "multi-choice"), (s, "free-form"))],
        "mathvision": [("", {"id": "1", "question": s + "\n<image1>", "options": [s, "b", "c", "d", "e"],
                             "answer": "A", "decoded_image": png, "subject": s}),
                       ("", {"id": "2", "question": s + "\n<image1>", "options": [], "answer": s,
                             "decoded_image": png})],
        "mmmu": [("", {"id": "validation_Math_1", "question": "<image 1> " + s, "options": mmmu_options,
                       "answer": "A", "question_type": "multiple-choice", "image_1": png}),
                 ("", {"id": "validation_Math_2", "question": "<image 1> " + s, "options": "[]",
                       "answer": str([s, "y"]), "question_type": "open", "image_1": png})],
    }


def convert_all(s: str, hand_written_list: bool = False) -> list[dict]:
    out = []
    instruction = load_instruction("specs")
    for name, recs in records(s, hand_written_list).items():
        spec = DATASETS[name]
        settings_ = RowSettings(data_source=name, ability="math", split="test", instruction=instruction,
                                choice_instruction=load_instruction("specs", choice=True))
        for row, (variant, record) in enumerate(recs):
            ctx = ConvertContext(split="test", variant=variant or spec.default_variant, config="", row=row)
            out.append(build_row(spec.convert(record, ctx), settings_, index=row, source_row=row))
    return out


latex = st.lists(st.one_of(st.sampled_from(COMMANDS), st.text(string.ascii_letters + string.digits + " +=",
                                                              min_size=1, max_size=6)),
                 min_size=1, max_size=5).map(" ".join).filter(lambda s: any(c in s for c in COMMANDS))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(latex)
def test_latex_survives_every_converter(s):
    rows = convert_all(s)
    for row in rows:
        assert not any(has_control(x) for x in strings_in(row)), row
    commands = [c for c in COMMANDS if c in s]
    for row in rows:  # every question carries `s`: each command is in every prompt as written
        assert all(c in row["prompt"][0]["content"] for c in commands), (commands, row["prompt"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(latex, st.booleans())
def test_latex_read_as_escapes_is_repaired_in_every_converter(s, hand_written_list):
    rows = convert_all(decoded(s), hand_written_list)
    for row in rows:
        assert not any(has_control(x) for x in strings_in(row)), row
    commands = [c for c in COMMANDS if c in s]
    for row in rows:
        assert all(c in row["prompt"][0]["content"] for c in commands), (commands, row["prompt"])


def test_mmmu_hand_written_option_list_with_single_backslashes():
    """`['\\frac{1}{2}', ...]` read with ast.literal_eval holds a form feed: the option comes back as LaTeX."""
    rows = convert_all("\\frac{1}{2}", hand_written_list=True)
    mmmu = next(r for r in rows if r["data_source"] == "mmmu")
    assert list(mmmu["extra_info"]["options"]) == ["\\frac{1}{2}", "x"]


@pytest.mark.parametrize("raw, want", [
    ("\x0crac{36}{13}", "\\frac{36}{13}"), ("a\times b", "a\\times b"), ("x\neq y", "x\\neq y"),
    ("line one\nline two", "line one\nline two"), ("see\ne.g. this", "see\ne.g. this"), ("a\r\nb", "a\nb"),
    ("\right)", "\\right)"), ("tab\tthen", "tab then"), ("\\frac{1}{2}", "\\frac{1}{2}"),
])
def test_repair_escapes(raw, want):
    assert repair_escapes(raw) == want
