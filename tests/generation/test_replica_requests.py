"""The replicas' request path without a cluster: verl's config for vLLM replicas composes, a request becomes what
verl's agent loop sends (vLLM's server folds the image tokens back as verl does), a verl TokenOutput a Sample."""

import pytest

from specs_verl.generation import load_rl_requests
from specs_verl.generation.replicas import ReplicaClient, ReplicaSettings, compose_rollout, request_params
from specs_verl.generation.seeding import row_seed


def test_vllm_replicas_compose_from_verls_config(tiny_model_dir):
    s = ReplicaSettings(str(tiny_model_dir), backend="vllm", gpus_per_node=8, nnodes=2, tp=2, max_in_flight=64,
                        response_length=10240, overrides=["actor_rollout_ref.rollout.gpu_memory_utilization=0.9"])
    assert s.n_replicas() == 8  # verl's rule: gpus_per_node * nnodes // tp
    rollout, model, config = compose_rollout(s, gpu=True)
    assert (rollout.name, rollout.tensor_model_parallel_size, rollout.response_length) == ("vllm", 2, 10240)
    assert (rollout.load_format, rollout.free_cache_engine, rollout.dtype) == ("auto", False, "bfloat16")
    assert rollout.gpu_memory_utilization == 0.9 and rollout.max_num_seqs == 64
    assert model.path == str(tiny_model_dir) and config.trainer.n_gpus_per_node == 8
    with pytest.raises(ValueError, match="unknown replica backend 'sglang'"):
        compose_rollout(ReplicaSettings(str(tiny_model_dir), backend="sglang"), gpu=True)


def test_a_request_is_what_verls_agent_loop_sends(tiny_model_dir, tiny_data_dir):
    from verl.workers.rollout.utils import qwen2_5_vl_dedup_image_tokens

    client = ReplicaClient(str(tiny_model_dir))
    request = load_rl_requests(tiny_data_dir / "rl_train.parquet")[0]
    ids, images = client.prompt(request)
    processor = client.renderer.processor
    assert len(images) == 1 and ids.count(processor.image_token_id) > 1  # expanded, as the processor does
    folded = qwen2_5_vl_dedup_image_tokens(ids, processor)  # what verl's vLLM server hands to vLLM
    assert folded.count(processor.image_token_id) == 1
    params = request_params(1.0, 0.9, 64, row_seed(0, request.id, 1))
    # vLLM SamplingParams names only; verl's server pops max_tokens and logprobs itself
    assert set(params) == {"temperature", "top_p", "top_k", "repetition_penalty", "max_tokens", "seed", "logprobs"}
    assert params["seed"] == row_seed(0, request.id, 1) and params["top_k"] == -1


def test_a_token_output_becomes_a_sample(tiny_model_dir):
    from verl.workers.rollout.replica import TokenOutput

    client = ReplicaClient(str(tiny_model_dir))
    eos = sorted(client.eos_ids)[0]
    hello = client.tokenizer("hello world", add_special_tokens=False)["input_ids"]
    stopped = client.to_sample(TokenOutput(token_ids=hello + [eos], stop_reason="completed"), 40)
    assert (stopped.text, stopped.n_tokens, stopped.finish_reason) == ("hello world", len(hello) + 1, "stop")
    cut = client.to_sample(TokenOutput(token_ids=hello, stop_reason="completed",
                                       extra_fields={"top_p_set_sizes": [3] * len(hello)}), 40)
    assert (cut.finish_reason, cut.n_prompt_tokens, cut.top_p_set_sizes) == ("length", 40, [3] * len(hello))
