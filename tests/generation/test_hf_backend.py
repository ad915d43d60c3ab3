"""The `hf` backend on the tiny random Qwen2.5-VL: shapes of the output, reproducibility, images reach the model."""

import pytest

from specs_verl.generation import Request, load_backend, load_rl_requests

MAX_NEW = 12


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return load_backend("hf", tiny_model_dir, batch_size=4, device="cpu", threads=1)


@pytest.fixture(scope="module")
def requests_(tiny_data_dir):
    return load_rl_requests(tiny_data_dir / "rl_train.parquet")[:3]


def test_n_samples_per_request_with_metrics(backend, requests_):
    out = backend.generate(requests_, n=2, temperature=1.0, max_new_tokens=MAX_NEW, seed=0, logprobs=True,
                           branching_top_p=0.95)
    assert [len(s) for s in out] == [2, 2, 2]
    for samples in out:
        for s in samples:
            assert 1 <= s.n_tokens <= MAX_NEW and s.n_prompt_tokens > 20
            assert s.finish_reason in ("stop", "length") and len(s.token_ids) == s.n_tokens
            assert len(s.logprobs) == len(s.top_p_set_sizes) == s.n_tokens
            assert all(lp <= 0 for lp in s.logprobs) and all(1 <= k <= 512 for k in s.top_p_set_sizes)
    assert out[0][0].text != out[0][1].text


def test_reproducible_whatever_the_batching(backend, requests_):
    a = backend.generate(requests_, n=2, temperature=1.0, max_new_tokens=MAX_NEW, seed=7)
    backend.batch_size = 3  # other batch boundaries, other padding
    try:
        b = backend.generate(requests_[::-1], n=2, temperature=1.0, max_new_tokens=MAX_NEW, seed=7)[::-1]
    finally:
        backend.batch_size = 4
    assert [[s.token_ids for s in r] for r in a] == [[s.token_ids for s in r] for r in b]
    c = backend.generate(requests_, n=2, temperature=1.0, max_new_tokens=MAX_NEW, seed=8)
    assert [[s.token_ids for s in r] for r in a] != [[s.token_ids for s in r] for r in c]


def test_vision_tokens_never_generated(backend, requests_):
    out = backend.generate(requests_, n=4, temperature=2.0, max_new_tokens=24, seed=1)
    banned = set(backend.suppress_ids)
    assert {backend.tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|vision_start|>")} <= banned
    assert all(not banned & set(s.token_ids) for r in out for s in r)
    assert all("<|image_pad|>" not in s.text for r in out for s in r)


def test_images_reach_the_model(backend, tiny_data_dir):
    rows = load_rl_requests(tiny_data_dir / "rl_train.parquet")[:6]
    msgs = [{"role": "user", "content": "<image>How many red shapes are there?"}]
    same_text = [Request(id=f"img{i}", messages=msgs, images=r.images) for i, r in enumerate(rows)]
    same_text.append(Request(id="img0-again", messages=msgs, images=rows[0].images))
    out = backend.generate(same_text, n=1, temperature=0.0, max_new_tokens=24, seed=0, logprobs=True)
    texts = [r[0].text for r in out]
    assert texts[-1] == texts[0]  # greedy: the same image gives the same answer
    assert len(set(texts[:-1])) > 1  # different images, same question: different answers
    assert len({tuple(round(x, 4) for x in r[0].logprobs[:3]) for r in out[:-1]}) == 6


def test_placeholder_mismatch_is_refused(backend):
    bad = Request(id="bad", messages=[{"role": "user", "content": "<image><image>two?"}], images=[])
    with pytest.raises(ValueError, match="'bad': 2 <image> placeholder"):
        backend.generate([bad], n=1, max_new_tokens=2)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown generation backend 'sglang'"):
        load_backend("sglang", "x")
