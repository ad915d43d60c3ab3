"""Each converter on a local copy laid out like the real dataset: rows, placeholders, ground truth, options, and
every skipped record counted under its reason."""

from collections import Counter

import pytest

from specs_verl.data_prep import DataPrepError, prepare
from specs_verl.templates import template

from . import fixtures as fx
from .checks import by_qid, check_rows, report


def _prepare(name, source, out, **kw):
    return prepare(name, out, source=str(source), progress=False, **kw)


def test_virl39k(tmp_path):
    result = _prepare("virl39k", fx.make_virl39k(tmp_path / "src"), tmp_path / "out")
    assert result.out_path.name == "virl39k_train.parquet"
    assert (result.read, result.written) == (9, 4)
    assert result.skipped == fx.SKIPS_VIRL and not result.excluded
    rows = by_qid(check_rows(result.out_path, "virl39k", "train"))
    assert set(rows) == {"q0", "q1", "q2", "q7"}
    # \boxed{} answers are unwrapped; a capital letter is a choice whose options stay in the question text
    assert rows["q0"]["reward_model"]["ground_truth"] == "3" and rows["q0"]["extra_info"]["answer"] == "\\boxed{3}"
    assert rows["q7"]["reward_model"]["ground_truth"] == "\\frac{1}{2}"
    assert rows["q1"]["reward_model"]["ground_truth"] == "B"
    assert rows["q1"]["extra_info"]["answer_type"] == "choice" and "A. circle\nB. square" in rows["q1"]["text"]
    # one <image> tag for two images: both placeholders, images first
    assert rows["q2"]["text"].startswith("<image><image>Compare the two charts.")
    assert rows["q7"]["text"].startswith("<image>How many bars")
    assert rows["q0"]["extra_info"]["category"] == "(GradeSchool) Math"
    # the JPEG stays a JPEG, byte for byte
    from PIL import Image
    import io
    assert Image.open(io.BytesIO(rows["q1"]["images"][0]["bytes"])).format == "JPEG"
    payload = report(result)
    assert Counter(r["reason"] for r in payload["skipped_rows"]) == fx.SKIPS_VIRL
    dup = next(r for r in payload["skipped_rows"] if r["reason"] == "duplicate_qid")
    assert (dup["row"], dup["qid"]) == (5, "q0")


def test_virl39k_original_release_with_image_paths(tmp_path):
    parquet = fx.make_virl39k_release(tmp_path / "src")
    for source in (parquet, parquet.parent):  # the file itself, or the folder it sits in
        result = _prepare("virl39k", source, tmp_path / "out")
        assert (result.written, result.skipped) == (2, Counter({"missing_image": 1}))
        rows = by_qid(check_rows(result.out_path, "virl39k", "train"))
        assert rows["r1"]["reward_model"]["ground_truth"] == "A"
        detail = report(result)["skipped_rows"][0]["detail"]
        assert "images/missing.png" in detail and "--image-root" in detail


def test_geometry3k_free_form_and_choice(tmp_path):
    src = fx.make_geometry3k(tmp_path / "src")
    free = _prepare("geometry3k", src, tmp_path / "out")
    rows = check_rows(free.out_path, "geometry3k", "train")
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["3", "2 \\sqrt { 221 }", "8"]
    assert rows[0]["text"].startswith("<image>Find x.\n") and "Options" not in rows[0]["text"]
    assert rows[0]["extra_info"]["qid"] == "geometry3k-train-10"

    choice = _prepare("geometry3k", src, tmp_path / "out", variant="choice")
    assert choice.out_path.name == "geometry3k_train_choice.parquet"
    assert choice.skipped == Counter({"answer_not_in_options": 1})
    rows = check_rows(choice.out_path, "geometry3k", "train")
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["B", "B"]
    assert "Options:\nA. 12\nB. 2 \\sqrt { 221 }\nC. 30\nD. 60" in rows[1]["text"]


def test_mathvista(tmp_path):
    result = _prepare("mathvista", fx.make_mathvista(tmp_path / "src"), tmp_path / "out")
    assert result.out_path.name == "mathvista_testmini.parquet"
    assert result.skipped == fx.SKIPS_MATHVISTA and result.written == 3
    rows = by_qid(check_rows(result.out_path, "mathvista", "testmini"))
    mc = rows["mathvista-1"]
    # the answer is the choice text; the ground truth is its letter, the choices are in the prompt
    assert mc["reward_model"]["ground_truth"] == "B" and mc["extra_info"]["answer"] == "equal to"
    assert "Options:\nA. larger than\nB. equal to\nC. smaller than" in mc["text"]
    assert list(mc["extra_info"]["options"]) == ["larger than", "equal to", "smaller than"]
    flt = rows["mathvista-2"]["text"]
    assert "(Unit: cm)" in flt and "2 decimal places" in flt
    assert "The answer is an integer." in rows["mathvista-3"]["text"]  # image read from its `image` path
    reasons = {r["qid"]: r["reason"] for r in report(result)["skipped_rows"]}
    assert reasons == {"mathvista-4": "answer_not_in_options", "mathvista-5": "ambiguous_answer",
                       "mathvista-6": "missing_answer", "mathvista-7": "missing_image"}


def test_mathverse_vision_only_and_all(tmp_path):
    src = fx.make_mathverse(tmp_path / "src")
    result = _prepare("mathverse", src, tmp_path / "out")
    assert result.out_path.name == "mathverse_testmini.parquet"
    assert result.skipped == Counter({"missing_image": 1})
    assert result.excluded == Counter({"problem_version 'Text Dominant'": 1})
    rows = by_qid(check_rows(result.out_path, "mathverse", "testmini"))
    assert set(rows) == {"mathverse-1", "mathverse-2", "mathverse-4"}
    assert rows["mathverse-1"]["text"].startswith("<image>According to the question shown in the image")
    assert rows["mathverse-1"]["reward_model"]["ground_truth"] == "B"
    assert rows["mathverse-2"]["extra_info"]["answer_type"] == "number"
    # a multiple-choice answer written as the choice text goes back to its letter
    assert rows["mathverse-4"]["reward_model"]["ground_truth"] == "A"
    assert rows["mathverse-4"]["extra_info"]["answer"] == "5 cm"
    assert report(result)["excluded"] == {"problem_version 'Text Dominant'": 1}

    every = _prepare("mathverse", src, tmp_path / "out", variant="all")
    assert every.out_path.name == "mathverse_testmini_all.parquet" and every.written == 4
    text_dominant = by_qid(check_rows(every.out_path, "mathverse", "testmini"))["mathverse-3"]
    assert "Choices:\nA:20°\nB:25°" in text_dominant["text"] and "According to" not in text_dominant["text"]


def test_mathvision(tmp_path):
    result = _prepare("mathvision", fx.make_mathvision(tmp_path / "src"), tmp_path / "out")
    assert result.out_path.name == "mathvision_test.parquet"
    assert result.skipped == Counter({"answer_not_in_options": 1})
    rows = by_qid(check_rows(result.out_path, "mathvision", "test"))
    one = rows["mathvision-1"]
    assert one["text"].startswith("<image>\nWhich of the numbers")  # <image1> becomes the placeholder in place
    assert "Options:\nA. 1\nB. 2\nC. 9\nD. 4\nE. 5" in one["text"] and one["reward_model"]["ground_truth"] == "C"
    pictured = rows["mathvision-2"]  # choices drawn in the picture: still a letter, no options block
    assert pictured["text"].startswith("Which picture shows the cube from above?\n<image>\n")
    assert pictured["extra_info"]["answer_type"] == "choice" and "Options" not in pictured["text"]
    assert rows["mathvision-3"]["reward_model"]["ground_truth"] == "7"
    assert "Options:\nA\nB\nC\nD\nE\n" in rows["mathvision-4"]["text"]


@pytest.mark.parametrize("readme", [True, False], ids=["hub-repo", "folders"])
def test_mmmu(tmp_path, readme):
    result = _prepare("mmmu", fx.make_mmmu(tmp_path / "src", readme=readme), tmp_path / "out")
    assert result.out_path.name == "mmmu_validation.parquet"
    assert result.skipped == fx.SKIPS_MMMU and result.written == 4  # dev rows stay out of validation
    rows = by_qid(check_rows(result.out_path, "mmmu", "validation"))
    ledger = rows["validation_Accounting_1"]
    assert ledger["text"].startswith("<image> shows the ledger.") and ledger["reward_model"]["ground_truth"] == "B"
    assert "Options:\nA. rent\nB. wages\nC. tax" in ledger["text"]
    assert ledger["extra_info"]["category"] == "Accounting"
    open_q = rows["validation_Accounting_2"]
    assert open_q["reward_model"]["ground_truth"] == "24/7" and open_q["extra_info"]["answer_type"] == "text"
    pictures = rows["validation_Math_1"]  # images referenced only by the options
    assert "Options:\nA. <image>\nB. <image>" in pictures["text"] and len(pictures["images"]) == 2
    reordered = rows["validation_Math_5"]  # <image 2> named first: it is the first image; a repeat is words
    assert reordered["text"].startswith("Is <image> a rotation of <image>? Look at image 2 again.")
    first_size = __import__("PIL.Image").Image.open(__import__("io").BytesIO(reordered["images"][0]["bytes"])).size
    assert first_size == fx.pil(4).size
    reasons = {r["qid"]: r["reason"] for r in report(result)["skipped_rows"]}
    assert reasons == {"validation_Math_2": "missing_image", "validation_Math_3": "missing_answer",
                       "validation_Math_4": "bad_options"}
    one = _prepare("mmmu", tmp_path / "src", tmp_path / "out", config="Accounting")
    assert one.out_path.name == "mmmu_validation_Accounting.parquet" and one.written == 2


def test_prompt_template_options(tmp_path):
    src = fx.make_geometry3k(tmp_path / "src")
    terse = _prepare("geometry3k", src, tmp_path / "out", prompt_template="terse", out_name="terse")
    check_rows(terse.out_path, "geometry3k", "train", instruction=template("terse"))
    wrap = tmp_path / "wrap.txt"
    wrap.write_text("Question: {question}\nThink first.")
    wrapped = _prepare("geometry3k", src, tmp_path / "out", prompt_template=str(wrap), out_name="wrapped",
                       data_source="geo_ood", max_rows=2)
    rows = check_rows(wrapped.out_path, "geo_ood", "train", instruction="")
    assert len(rows) == 2 and rows[0]["text"] == "Question: <image>Find x.\nThink first."
    bare = _prepare("geometry3k", src, tmp_path / "out", prompt_template="none", out_name="bare")
    assert check_rows(bare.out_path, "geometry3k", "train", instruction="")[0]["text"] == "<image>Find x."


def test_strict_stops_at_the_first_bad_record_and_keeps_the_old_file(tmp_path):
    src = fx.make_mathvista(tmp_path / "src")
    out = tmp_path / "out"
    first = _prepare("mathvista", src, out)
    before = first.out_path.read_bytes()
    with pytest.raises(DataPrepError, match=r"mathvista row 3 \(qid mathvista-4\): answer_not_in_options"):
        _prepare("mathvista", src, out, strict=True)
    assert first.out_path.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["mathvista_testmini.parquet", "mathvista_testmini.skipped.json"]


def test_wrong_dataset_and_empty_result_are_errors(tmp_path):
    src = fx.make_mathvision(tmp_path / "src")
    with pytest.raises(DataPrepError, match=r"missing column 'pid'.*really mathvista"):
        _prepare("mathvista", src, tmp_path / "out", split="test")
    with pytest.raises(ValueError, match="no files for split 'validation'"):
        _prepare("mathvision", src, tmp_path / "out", split="validation")
    with pytest.raises(ValueError, match="no variant 'nope'"):
        _prepare("mathverse", src, tmp_path / "out", variant="nope")
    with pytest.raises(ValueError, match="it has no variants"):
        _prepare("mathvision", src, tmp_path / "out", variant="all")
    verse = fx.make_mathverse(tmp_path / "verse")
    with pytest.raises(DataPrepError, match="no row written"):
        _prepare("mathverse", verse, tmp_path / "out", variant="vision_dominant")
    assert not (tmp_path / "out" / "mathverse_testmini_vision_dominant.parquet").exists()
    assert (tmp_path / "out" / "mathverse_testmini_vision_dominant.skipped.json").exists()


def test_holdout_moves_rows_chosen_by_qid_to_a_held_out_file(tmp_path):
    from specs_verl.data_prep.prepare import _held_out

    src = fx.make_virl39k(tmp_path / "src")
    full = _prepare("virl39k", src, tmp_path / "full")
    kept = {r for r in by_qid(check_rows(full.out_path, "virl39k", "train"))}
    expected = {q for q in kept if _held_out(q, 2)}
    assert expected, "the fixture should hold at least one qid the hash picks"
    split = _prepare("virl39k", src, tmp_path / "split", holdout=10, holdout_every=2)
    held = by_qid(check_rows(split.out_path.with_name("virl39k_train_holdout.parquet"), "virl39k", "train"))
    train = by_qid(check_rows(split.out_path, "virl39k", "train"))
    assert set(held) == expected and set(train) == kept - expected  # disjoint, nothing lost
    assert any("held out" in n for n in split.notes)
