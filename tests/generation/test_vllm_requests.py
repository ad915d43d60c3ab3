"""The `vllm` backend's request building and output conversion (vLLM itself needs a GPU and is absent here)."""

import importlib.util
import math
from dataclasses import dataclass

import pytest

from specs_verl.generation import load_backend, load_rl_requests
from specs_verl.generation.templating import PromptRenderer
from specs_verl.generation.vllm_backend import BAN, sampling_kwargs, to_sample, vllm_inputs

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


@dataclass
class Logprob:  # the fields of vllm.sequence.Logprob that the backend reads
    logprob: float
    rank: int


@dataclass
class CompletionOutput:  # the fields of vllm.outputs.CompletionOutput that the backend reads
    index: int
    text: str
    token_ids: list
    logprobs: list | None
    finish_reason: str


def test_inputs_carry_chat_text_and_images(tiny_model_dir, tiny_data_dir):
    reqs = load_rl_requests(tiny_data_dir / "rl_train.parquet")[:2]
    items = vllm_inputs(PromptRenderer(tiny_model_dir), reqs)
    assert items[0]["prompt"].startswith("<|im_start|>system")
    assert items[0]["prompt"].count("<|vision_start|><|image_pad|><|vision_end|>") == 1
    assert items[0]["prompt"].endswith("<|im_start|>assistant\n")
    assert len(items[0]["multi_modal_data"]["image"]) == 1 and items[0]["multi_modal_data"]["image"][0].mode == "RGB"


def test_sampling_kwargs():
    kw = sampling_kwargs(123, n=4, temperature=1.0, top_p=0.9, max_new_tokens=64, suppress_ids=[9, 12],
                         logprobs=True, branching_top_p=None)
    assert kw == dict(n=4, temperature=1.0, top_p=0.9, max_tokens=64, seed=123, skip_special_tokens=True,
                      logit_bias={9: BAN, 12: BAN}, logprobs=0)
    greedy = sampling_kwargs(1, 1, 0.0, 0.9, 8, [], False, 0.95, max_logprobs=20)
    assert greedy["top_p"] == 1.0 and greedy["logprobs"] == 20 and "logit_bias" not in greedy


def test_completion_to_sample():
    steps = [{7: Logprob(math.log(0.9), 1), 3: Logprob(math.log(0.05), 2)},
             {4: Logprob(math.log(0.5), 1), 2: Logprob(math.log(0.3), 2), 8: Logprob(math.log(0.01), 5)}]
    out = CompletionOutput(0, "ab", [7, 8], steps, "stop")
    s = to_sample(out, n_prompt_tokens=30, logprobs=True, branching_top_p=0.95, max_logprobs=2)
    assert (s.text, s.n_prompt_tokens, s.n_tokens, s.finish_reason) == ("ab", 30, 2, "stop")
    assert s.logprobs == pytest.approx([math.log(0.9), math.log(0.01)])
    assert s.top_p_set_sizes == [2, 3]  # 0.95 reached with 2 tokens; not within the top 2 -> 3 (a lower bound)


@pytest.mark.skipif(HAVE_VLLM, reason="vLLM is installed")
def test_clear_error_without_vllm(tiny_model_dir):
    with pytest.raises(ImportError, match=r"needs vLLM.*specs-verl\[gpu\].*--backend hf"):
        load_backend("vllm", tiny_model_dir)


def test_banned_ids(tiny_model_dir):
    from transformers import AutoConfig

    from specs_verl.generation.vocab import suppressed_token_ids

    renderer = PromptRenderer(tiny_model_dir)
    vision = suppressed_token_ids(renderer.tokenizer, AutoConfig.from_pretrained(tiny_model_dir))
    names = renderer.tokenizer.convert_ids_to_tokens(vision)
    assert sorted(names) == sorted(["<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
                                    "<|video_pad|>"])
    padded = suppressed_token_ids(renderer.tokenizer, None, vocab_size=len(renderer.tokenizer) + 3)
    assert padded[-3:] == [len(renderer.tokenizer) + i for i in range(3)]
