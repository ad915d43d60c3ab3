"""Each converter on a few hundred records shaped like the real dataset (`real_shaped`): what a user of the
README's data steps gets (rows kept, ground truths, instructions, the grading contract's fields)."""

import os
import subprocess
import sys
import zipfile
from collections import Counter

import pytest

from specs_verl.data_prep import prepare
from specs_verl.generation.prompt import load_instruction
from tests.commands import REPO

from . import real_shaped as rs
from .checks import by_qid, check_rows, report

SPECS, SPECS_CHOICE = load_instruction("specs"), load_instruction("specs", choice=True)


def _prepare(name, source, out, **kw):
    return prepare(name, out, source=str(source), progress=False, **kw)


def test_specs_choice_instruction_asks_for_the_letter_in_the_specs_format():
    assert "<answer> The answer is $\\boxed{C}$ </answer>" in SPECS_CHOICE and "letter" in SPECS_CHOICE
    assert SPECS_CHOICE.split("The final answer")[0] == SPECS.split("The final answer")[0]


def test_virl39k_hub_layout_reads_images_zip_and_keeps_text_only_rows(tmp_path):
    src, expect = rs.virl39k_hub(tmp_path / "ViRL39K")
    result = _prepare("virl39k", src, tmp_path / "out")
    assert result.read == rs.N and result.skipped == Counter({"missing_image": expect["missing"]})
    rows = check_rows(result.out_path, "virl39k", "train", text_only=True)
    kinds = Counter(r["extra_info"]["answer_type"] for r in rows)
    assert kinds["choice"] == expect["choice"]
    text_only = [r for r in rows if not len(r["images"])]
    assert len(text_only) == expect["text_only"] and "<image>" not in text_only[0]["text"]
    assert text_only[0]["reward_model"]["ground_truth"] == "\\frac{3}{2}"  # \boxed{} unwrapped
    assert sum(len(r["images"]) == 2 for r in rows) == expect["multi_image"]
    choice = next(r for r in rows if r["extra_info"]["answer_type"] == "choice")
    assert len(choice["extra_info"]["options"]) == 4 and "Options:" not in choice["text"]  # in the text already
    assert choice["text"].endswith("\n" + SPECS_CHOICE)
    # the bytes are the archive's, untouched (JPEG stays JPEG)
    with zipfile.ZipFile(src / "images.zip") as zf:
        first = next(r for r in rows if len(r["images"]) == 1)
        qid = first["extra_info"]["qid"]
        assert first["images"][0]["bytes"] == zf.read(f"images/Processed-{qid}-0.jpg")
    assert "images.zip" in report(result)["skipped_rows"][0]["detail"]

    only = _prepare("virl39k", src, tmp_path / "only", images_only=True)
    assert only.skipped == Counter({"missing_image": expect["missing"], "text_only": expect["text_only"]})


def test_virl39k_readme_data_steps_from_the_hub_id(tmp_path):
    """The README's commands, `--source` left at the hub id: the hub client fetches parquet + images.zip (here
    from its offline cache, laid out as a download leaves it) and the same folder code reads them."""
    src, expect = rs.virl39k_hub(tmp_path / "ViRL39K")
    cache = rs.hub_cache(src, tmp_path / "hub", "TIGER-Lab/ViRL39K")
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf_datasets"), "HF_DATASETS_OFFLINE": "1"}
    script = str(REPO / "data_tools" / "prepare_data.py")
    proc = subprocess.run([sys.executable, script, "virl39k", "--out", "data", "--out-name", "train", "--holdout",
                           "20", "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "hub snapshot" in proc.stdout and "missing_image" in proc.stdout
    (tmp_path / "data" / "train_holdout.parquet").rename(tmp_path / "data" / "val_id.parquet")
    train = check_rows(tmp_path / "data" / "train.parquet", "virl39k", "train", text_only=True)
    held = check_rows(tmp_path / "data" / "val_id.parquet", "virl39k", "train", text_only=True)
    assert len(held) == 20 and len(train) + len(held) == rs.N - expect["missing"]
    assert sum(bool(len(r["images"])) for r in train) > 0.8 * len(train)


def test_mathvision_keeps_every_record(tmp_path):
    src, n = rs.mathvision(tmp_path / "MathVision")
    result = _prepare("mathvision", src, tmp_path / "out")
    assert result.written >= 0.995 * n and not result.skipped
    rows = by_qid(check_rows(result.out_path, "mathvision", "test"))
    ant = rows["mathvision-1"]  # <image1> <image2> <image3> <image6>: one picture, one placeholder
    assert ant["text"].startswith("When the ant <image> walks from home image 2 he gets to the ladybird image 3.")
    assert len(ant["images"]) == 1 and ant["text"].count("<image>") == 1
    pictures = rows["mathvision-2"]  # options "<image2>".."<image6>": the letters
    assert list(pictures["extra_info"]["options"]) == list("ABCDE") and "Options:\nA\nB\nC\nD\nE" in pictures["text"]
    fractions = [r for r in rows.values() if r["extra_info"]["answer"].endswith("rac{36}{13}")]
    assert fractions and all(r["reward_model"]["ground_truth"] == "\\frac{36}{13}" for r in fractions)
    assert rows[f"mathvision-{n}"]["text"].startswith("Answer the question shown in the image.\n<image>")
    choice = [r for r in rows.values() if r["extra_info"]["answer_type"] == "choice"]
    assert choice and all(r["text"].endswith("\n" + SPECS_CHOICE) for r in choice)


def test_mathverse_vision_only_letter_instruction_options_multi_select_and_gold_answers(tmp_path):
    src, expect = rs.mathverse(tmp_path / "MathVerse")
    result = _prepare("mathverse", src, tmp_path / "out")
    assert result.written == expect["vision_only"] and not result.skipped
    rows = by_qid(check_rows(result.out_path, "mathverse", "testmini"))
    kinds = Counter(r["extra_info"]["answer_type"] for r in rows.values())
    assert kinds["choice"] == expect["choice"] and kinds["multi_select"] == expect["multi_select"]
    for r in rows.values():
        if r["extra_info"]["answer_type"] in ("choice", "multi_select"):
            assert r["text"].startswith("<image>" + rs.LETTER_QUERY + "\n")  # the benchmark's letter instruction
            assert len(r["extra_info"]["options"]) == 4 and "Options:" not in r["text"]  # options in the image
    multi = [r for r in rows.values() if r["extra_info"]["answer_type"] == "multi_select"]
    assert {r["reward_model"]["ground_truth"] for r in multi} == {"C,D"}
    gold = {q: rows[f"mathverse-{q}"]["reward_model"]["ground_truth"] for q in expect["free_form"]}
    assert gold == expect["free_form"]  # `Area $=9 \pi \mathrm{cm}^{2}$` -> `9 \pi`, `35掳` -> `35`, ...


def test_mathvista_letters_and_precision(tmp_path):
    src, expect = rs.mathvista(tmp_path / "MathVista")
    result = _prepare("mathvista", src, tmp_path / "out")
    assert result.written == rs.N
    rows = check_rows(result.out_path, "mathvista", "testmini")
    assert sum(r["extra_info"]["answer_type"] == "choice" for r in rows) == expect["choice"]
    floats = [r for r in rows if r["extra_info"]["precision"] is not None]
    assert len(floats) == expect["precision"]
    for r in floats:
        places = r["extra_info"]["precision"]
        assert places in (1, 2) and len(r["reward_model"]["ground_truth"].split(".")[1]) == places


def test_mmmu_options_with_latex_and_list_answers(tmp_path):
    src, expect = rs.mmmu(tmp_path / "MMMU")
    result = _prepare("mmmu", src, tmp_path / "out", split="validation")
    assert result.written == rs.N and not result.skipped
    rows = by_qid(check_rows(result.out_path, "mmmu", "validation"))
    assert sum(r["extra_info"]["answer_type"] == "choice" for r in rows.values()) == expect["choice"]
    options = {o for r in rows.values() for o in r["extra_info"]["options"]}
    assert "\\frac{1}{2}" in options and "\\theta + \\beta" in options  # repr-escaped backslashes read back once
    for qid, answers in expect["lists"].items():
        assert list(rows[qid]["extra_info"]["answers"]) == answers
        assert rows[qid]["reward_model"]["ground_truth"] == answers[0]
    assert all(not len(r["extra_info"]["answers"]) for q, r in rows.items() if q not in expect["lists"])


def test_text_only_rows_load_in_verl_with_image_rows(tiny_model_dir, tmp_path):
    """verl's RLHFDataset takes a file mixing text-only and image rows (its overlong filter keeps them all)."""
    from omegaconf import OmegaConf
    from transformers import AutoProcessor, AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    src, expect = rs.virl39k_hub(tmp_path / "ViRL39K", n=20)
    result = _prepare("virl39k", src, tmp_path / "out")
    config = OmegaConf.create({"max_prompt_length": 4096, "filter_overlong_prompts": True,
                               "filter_overlong_prompts_workers": 1, "cache_dir": str(tmp_path / "verl_cache")})
    ds = RLHFDataset([str(result.out_path)], AutoTokenizer.from_pretrained(tiny_model_dir), config,
                     AutoProcessor.from_pretrained(tiny_model_dir))
    assert len(ds) == result.written == 20 - expect["missing"]
    items = [ds[i] for i in range(len(ds))]
    assert sum(isinstance(it["raw_prompt"][0]["content"], str) for it in items) == expect["text_only"]


def test_option_texts_score_as_the_benchmarks_score_them(tmp_path):
    """The `specs` reward on the converted multiple-choice rows: boxing the correct option's text scores right
    (>= 95 %), boxing another option's text never does (<= 1 %)."""
    from .option_text_check import option_text_rates

    files = [_prepare("mathvista", rs.mathvista(tmp_path / "vista")[0], tmp_path / "out").out_path,
             _prepare("mathvision", rs.mathvision(tmp_path / "vision")[0], tmp_path / "out").out_path,
             _prepare("mathverse", rs.mathverse(tmp_path / "verse")[0], tmp_path / "out").out_path,
             _prepare("mmmu", rs.mmmu(tmp_path / "mmmu")[0], tmp_path / "out").out_path]
    rates = option_text_rates(files)
    assert set(rates) == {"mathvista", "mathvision", "mathverse", "mmmu"}
    for src, r in rates.items():
        assert r["rows"] >= 20 and r["other_texts"] >= 40, (src, r)
        assert r["right_text"] >= 0.95 and r["other_text"] <= 0.01, (src, r)


# options of the real annotations that themselves name several items or a letter (MATH-V test ids 2385, 1846;
# MMMU validation_Biology_*, MathVista pid 6xx): 148 of the 2,921 real multiple-choice rows with option texts
MULTI_ITEM_OPTIONS = [["2 and 0", "4 and 8", "7 and 4", "9 and 2", "3 and 8"],
                      ["$3,5,6,7$", "$5,6,7,12$", "$10,11,12,19$", "$4,5,8,9$", "$5,6,8,10$"],
                      ["either A or B", "only C", "only D", "A, B, C or D", "either C or D"],
                      ["sample B", "sample A"]]


@pytest.mark.parametrize("options", MULTI_ITEM_OPTIONS, ids=["and", "list", "letters", "named"])
def test_option_texts_that_list_several_items(options):
    from specs_verl.reward import compute_score

    from .option_text_check import RESPONSE

    truth = "ABCDE"[len(options) - 1]
    extra = {"options": options, "answer_type": "choice", "answers": [], "precision": None}
    assert compute_score("mathvision", RESPONSE.format(answer=options[-1]), truth, extra)["acc"] == 1.0


def test_two_copies_in_folders_of_the_same_name_are_read_each_from_its_own_files(tmp_path):
    """`datasets` keys a README-declared folder's cache on the folder's name: each copy must still be read."""
    from . import fixtures as fx

    first = _prepare("mathverse", fx.make_mathverse(tmp_path / "a" / "MathVerse"), tmp_path / "out_a",
                     variant="all")
    second = _prepare("mathverse", rs.mathverse(tmp_path / "b" / "MathVerse", n=40)[0], tmp_path / "out_b",
                      variant="all")
    assert (first.read, second.read) == (5, 40)


def test_generation_tools_do_not_add_the_instruction_again(tmp_path):
    """selfdistill/evaluate read prepared files with `--prompt-template specs`: a multiple-choice row already
    carries `specs_choice`, a text-only row `specs`, so neither gets a second instruction."""
    from specs_verl.generation import load_rl_requests

    src, _ = rs.virl39k_hub(tmp_path / "ViRL39K", n=20)
    result = _prepare("virl39k", src, tmp_path / "out")
    rows = check_rows(result.out_path, "virl39k", "train", text_only=True)
    requests = load_rl_requests(result.out_path, instruction=SPECS)
    assert [r.messages[-1]["content"] for r in requests] == [r["text"] for r in rows]
    assert {r["extra_info"]["answer_type"] for r in rows} >= {"choice", "number"}


def test_virl39k_images_zip_elsewhere_via_image_root(tmp_path):
    src, expect = rs.virl39k_hub(tmp_path / "ViRL39K", n=30)
    elsewhere = tmp_path / "downloads" / "images.zip"
    elsewhere.parent.mkdir()
    (src / "images.zip").rename(elsewhere)
    lost = _prepare("virl39k", src / "39Krelease.parquet", tmp_path / "out_lost")
    assert lost.skipped["missing_image"] == 30 - expect["text_only"]
    found = _prepare("virl39k", src / "39Krelease.parquet", tmp_path / "out", image_root=str(elsewhere))
    assert found.skipped == Counter({"missing_image": expect["missing"]})
