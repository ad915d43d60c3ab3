"""HFGenerator on the tiny Qwen2.5-VL: batching changes nothing, log-probs are the actor's, knobs are honoured."""

import io
import json
import shutil

import pandas as pd
import pytest
import torch
from PIL import Image

from specs_verl.rollout.engine import GenerationRequest, HFGenerator
from specs_verl.rollout.sampling import SamplingSpec

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def gen(tiny_model_dir):
    return HFGenerator.from_pretrained(str(tiny_model_dir))


@pytest.fixture(scope="module")
def prompts(gen, tiny_data_dir):
    """(expanded prompt ids, image) for six RL rows, built as verl's agent loop builds them."""
    rows = pd.read_parquet(tiny_data_dir / "rl_train.parquet").head(6)
    out = []
    for _, row in rows.iterrows():
        image = Image.open(io.BytesIO(row["images"][0]["bytes"])).convert("RGB")
        question = row["prompt"][0]["content"].replace("<image>", "")
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        text = gen.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = gen.processor(text=[text], images=[image], return_tensors="pt")["input_ids"][0].tolist()
        out.append((ids, image))
    assert len({len(ids) for ids, _ in out}) > 1, "the batch test needs prompts of different lengths"
    return out


def requests(prompts, **spec):
    return [GenerationRequest(ids, SamplingSpec(**{"max_tokens": 12, **spec}), [image]) for ids, image in prompts]


def teacher_forced_logprobs(gen, ids, image, response, temperature=1.0):
    """What verl's actor computes: log_softmax(logits / T) of each response token, one unpadded forward."""
    p = gen.prepare(ids, [image])
    full = torch.tensor([p.ids + response])
    with torch.no_grad():
        logits = gen.model(input_ids=full, attention_mask=torch.ones_like(full), pixel_values=p.pixel_values,
                           image_grid_thw=p.image_grid_thw,
                           mm_token_type_ids=(full == gen.image_token_id).long()).logits[0]
    logp = torch.log_softmax(logits[len(p.ids) - 1:-1].float() / temperature, dim=-1)
    return logp.gather(-1, torch.tensor(response)[:, None]).squeeze(-1)


def test_a_left_padded_batch_generates_what_each_prompt_generates_alone(gen, prompts):
    batch = [o[0] for o in gen.generate(requests(prompts, temperature=0.0, logprobs=True))]
    for request, together in zip(requests(prompts, temperature=0.0, logprobs=True), batch):
        alone = gen.generate([request])[0][0]
        assert together.token_ids == alone.token_ids
        assert together.log_probs == pytest.approx(alone.log_probs, abs=1e-5)


def test_log_probs_are_what_the_actor_recomputes(gen, prompts):
    outs = gen.generate(requests(prompts, temperature=0.7, logprobs=True, seed=1))
    for (ids, image), (out,) in zip(prompts, outs):
        assert len(out.log_probs) == len(out.token_ids)
        expected = teacher_forced_logprobs(gen, ids, image, out.token_ids, temperature=0.7)
        assert torch.tensor(out.log_probs) == pytest.approx(expected, abs=1e-5)


def test_max_tokens_per_request_n_samples_and_finish_reasons(gen, prompts):
    reqs = [GenerationRequest(ids, SamplingSpec(max_tokens=k, n=2, ignore_eos=True), [image])
            for k, (ids, image) in zip((3, 7), prompts)]
    first, second = gen.generate(reqs)
    assert [len(o.token_ids) for o in first] == [3, 3] and [len(o.token_ids) for o in second] == [7, 7]
    assert {o.finish_reason for o in first + second} == {"length"}
    assert all(o.log_probs is None for o in first + second)  # not asked for


def test_generation_stops_at_end_of_sequence(gen, prompts):
    eos = gen.eos_ids[0]
    with torch.no_grad():  # make end-of-sequence the model's certain next token
        bias = torch.zeros(gen.model.lm_head.weight.shape[0])
        bias[eos] = 1e4
        gen.model.lm_head.bias = torch.nn.Parameter(bias)
    try:
        (out,), = gen.generate(requests(prompts[:1], temperature=1.0))
        (kept,), = gen.generate(requests(prompts[:1], temperature=1.0, ignore_eos=True, max_tokens=4))
    finally:
        gen.model.lm_head.bias = None
    assert out.token_ids == [eos] and out.finish_reason == "stop"
    assert len(kept.token_ids) == 4 and kept.finish_reason == "length"


def test_seeds_make_sampling_reproducible_and_top_k_one_is_greedy(gen, prompts):
    one = requests(prompts[:2], temperature=1.0, seed=5)
    assert [o[0].token_ids for o in gen.generate(one)] == [o[0].token_ids for o in gen.generate(one)]
    other = [o[0].token_ids for o in gen.generate(requests(prompts[:2], temperature=1.0, seed=6))]
    assert other != [o[0].token_ids for o in gen.generate(one)]
    greedy = [o[0].token_ids for o in gen.generate(requests(prompts[:2], temperature=0.0))]
    top1 = [o[0].token_ids for o in gen.generate(requests(prompts[:2], temperature=1.0, top_k=1, seed=9))]
    assert top1 == greedy


def test_the_checkpoints_own_generation_config_is_ignored(tiny_model_dir, prompts, tmp_path):
    """A released Qwen2.5-VL ships top_k=1: with it, sampling n=6 would give one answer six times."""
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    config = json.loads((model_dir / "generation_config.json").read_text())
    config.update(do_sample=True, top_k=1, temperature=0.1, repetition_penalty=1.5)
    (model_dir / "generation_config.json").write_text(json.dumps(config))
    gen = HFGenerator.from_pretrained(str(model_dir))
    ids, image = prompts[0]
    (outs,) = gen.generate([GenerationRequest(ids, SamplingSpec(max_tokens=8, n=6, temperature=1.0), [image])])
    assert len({tuple(o.token_ids) for o in outs}) > 1


def test_vision_tokens_are_never_generated(gen, prompts):
    banned = gen.banned_token_ids
    assert {gen.image_token_id, gen.video_token_id} <= set(banned)
    with torch.no_grad():  # make <|image_pad|> the model's favourite token
        bias = torch.zeros(gen.model.lm_head.weight.shape[0])
        bias[gen.image_token_id] = 50.0
        gen.model.lm_head.bias = torch.nn.Parameter(bias)
    try:
        outs = gen.generate(requests(prompts, temperature=1.0, n=2))
    finally:
        gen.model.lm_head.bias = None
    generated = {t for o in outs for s in o for t in s.token_ids}
    assert generated and not generated & set(banned)


def test_one_placeholder_per_image_is_expanded_like_the_processor_does(gen, prompts):
    ids, image = prompts[0]
    collapsed = [t for k, t in enumerate(ids) if t != gen.image_token_id or ids[k - 1] != gen.image_token_id]
    assert collapsed.count(gen.image_token_id) == 1
    assert gen.prepare(collapsed, [image]).ids == ids
    a = gen.generate([GenerationRequest(collapsed, SamplingSpec(max_tokens=6, temperature=0.0), [image])])
    b = gen.generate([GenerationRequest(ids, SamplingSpec(max_tokens=6, temperature=0.0), [image])])
    assert a[0][0].token_ids == b[0][0].token_ids


def test_mismatched_images_and_video_are_refused_with_the_numbers(gen, prompts):
    ids, image = prompts[0]
    with pytest.raises(ValueError, match="1 image placeholder runs for 2 images"):
        gen.prepare(ids, [image, image])
    with pytest.raises(ValueError, match="image placeholder tokens but no image"):
        gen.prepare(ids, None)
    start = ids.index(gen.image_token_id)
    with pytest.raises(ValueError, match="match neither one token per image"):
        gen.prepare(ids[:start + 2] + ids[start + 5:], [image])
    with pytest.raises(ValueError, match="does not support video"):
        gen.prepare(ids + [gen.video_token_id], None)


def test_loading_weights_changes_what_it_generates(tiny_model_dir, prompts):
    gen = HFGenerator.from_pretrained(str(tiny_model_dir))
    before = gen.generate(requests(prompts[:2], temperature=0.0))
    digest = gen.weight_digest()
    new = {name: torch.randn_like(t) for name, t in gen.model.state_dict().items() if "lm_head" in name}
    assert gen.load_weights(new.items()) == len(new)
    unchanged = gen.finish_weight_update()
    assert unchanged and all("lm_head" not in name for name in unchanged)
    after = gen.generate(requests(prompts[:2], temperature=0.0))
    assert [o[0].token_ids for o in after] != [o[0].token_ids for o in before]
    moved = {n for n, d in gen.weight_digest().items() if d["sha256"] != digest[n]["sha256"]}
    assert moved == set(new)
    with pytest.raises(KeyError, match="not in the rollout model"):
        gen.load_weights([("model.no_such.weight", torch.zeros(1))])
    with pytest.raises(ValueError, match="shape"):
        gen.load_weights([("lm_head.weight", torch.zeros(3, 3))])
