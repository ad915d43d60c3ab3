"""The prepared files load with verl's own RLHFDataset and the tiny Qwen2.5-VL's tokenizer and processor:
every row survives verl's prompt-length filter, which runs the processor on each row's text and images and
drops any row it cannot process (so the row count proves each row is usable)."""

import pandas as pd

from specs_verl.data_prep import prepare

from . import fixtures as fx

MAKERS = {"virl39k": fx.make_virl39k, "geometry3k": fx.make_geometry3k, "mathvista": fx.make_mathvista,
          "mathverse": fx.make_mathverse, "mathvision": fx.make_mathvision, "mmmu": fx.make_mmmu}


def _dataset(files, tiny_model_dir, tmp_path):
    from omegaconf import OmegaConf
    from transformers import AutoProcessor, AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    config = OmegaConf.create({"max_prompt_length": 4096, "filter_overlong_prompts": True,
                               "filter_overlong_prompts_workers": 1, "cache_dir": str(tmp_path / "verl_cache")})
    return RLHFDataset([str(f) for f in files], AutoTokenizer.from_pretrained(tiny_model_dir), config,
                       AutoProcessor.from_pretrained(tiny_model_dir))


def test_all_outputs_load_together_in_rlhf_dataset(tiny_model_dir, tmp_path):
    results = [prepare(name, tmp_path / "out", source=str(make(tmp_path / name)), progress=False)
               for name, make in MAKERS.items()]
    files = [r.out_path for r in results]
    ds = _dataset(files, tiny_model_dir, tmp_path)  # one dataset over all six files: identical schemas
    assert len(ds) == sum(r.written for r in results) == 21
    n_images = {row["extra_info"]["qid"]: len(row["images"])
                for f in files for row in pd.read_parquet(f).to_dict("records")}
    sources = []
    for i in range(len(ds)):
        item = ds[i]
        parts = item["raw_prompt"][0]["content"]  # verl's structured content: text and image parts
        assert sum(p["type"] == "image" for p in parts) == n_images[item["extra_info"]["qid"]] >= 1
        assert not any("<image>" in p.get("text", "") for p in parts if p["type"] == "text")
        assert item["index"] == item["extra_info"]["index"]
        sources.append(item["data_source"])
    assert sorted(set(sources)) == sorted(MAKERS)


def test_the_row_count_check_catches_a_broken_row(tiny_model_dir, tmp_path):
    """Control: a row verl cannot process (two placeholders, one image) is dropped by the same filter."""
    good = prepare("geometry3k", tmp_path / "out", source=str(fx.make_geometry3k(tmp_path / "g")),
                   progress=False).out_path
    df = pd.read_parquet(good)
    df.at[0, "prompt"] = [{"role": "user", "content": "<image><image>" + df.at[0, "prompt"][0]["content"]}]
    bad = tmp_path / "bad.parquet"
    df.to_parquet(bad)
    assert len(_dataset([bad], tiny_model_dir, tmp_path)) == len(df) - 1
