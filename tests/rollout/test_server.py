"""HFRolloutServer, driven the way verl's LLMServerClient drives it (without Ray: same coroutines, one loop)."""

import asyncio
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from PIL import Image

from specs_verl.rollout.server import HFRolloutServer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    config = SimpleNamespace(prompt_length=256, response_length=6, max_model_len=None, ignore_eos=False,
                             dtype="float32", max_num_seqs=64,
                             engine_kwargs={"hf": {"batch_wait_ms": 50,
                                                   "weights_report_dir": str(tmp_path_factory.mktemp("w"))}})
    return HFRolloutServer(config, SimpleNamespace(path=str(tiny_model_dir)), replica_rank=0)


@pytest.fixture(scope="module")
def prompt(server, tiny_data_dir):
    row = pd.read_parquet(tiny_data_dir / "rl_train.parquet").iloc[0]
    image = Image.open(io.BytesIO(row["images"][0]["bytes"])).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": row["prompt"][0]["content"][7:]}]}]
    processor = server.engine.processor
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return processor(text=[text], images=[image], return_tensors="pt")["input_ids"][0].tolist(), image


TRAIN = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": True}


def test_concurrent_calls_are_answered_from_one_batch(server, prompt):
    ids, image = prompt

    async def step():
        calls = [server.generate(request_id=str(i), prompt_ids=ids, sampling_params=dict(TRAIN), image_data=[image])
                 for i in range(8)]
        return await asyncio.gather(*calls)

    server.batcher.batch_sizes.clear()
    outs = asyncio.run(step())
    assert dict(server.batcher.batch_sizes) == {8: 1}
    for out in outs:
        assert len(out.token_ids) == 6 == len(out.log_probs)  # response_length caps the length
        assert out.stop_reason == "completed" and out.extra_fields == {"global_steps": None}


def test_video_audio_and_n_are_refused_with_a_reason(server, prompt):
    ids, image = prompt
    for kwargs, message in (({"video_data": [[image]]}, "does not support video"),
                            ({"audio_data": [b"x"]}, "does not support audio"),
                            ({"sampling_params": {"n": 2}}, "verl repeats each prompt")):
        call = {"prompt_ids": ids, "sampling_params": dict(TRAIN), "image_data": [image], **kwargs}
        with pytest.raises(ValueError, match=message):
            asyncio.run(server.generate(**call))


def test_a_bad_request_fails_alone(server, prompt):
    ids, image = prompt

    async def step():
        good = server.generate(prompt_ids=ids, sampling_params=dict(TRAIN), image_data=[image])
        bad = server.generate(prompt_ids=ids, sampling_params=dict(TRAIN), image_data=[image, image])
        return await asyncio.gather(good, bad, return_exceptions=True)

    good, bad = asyncio.run(step())
    assert len(good.token_ids) == 6
    assert isinstance(bad, ValueError) and "2 images" in str(bad)


def test_a_weight_sync_holds_generation_and_reports_the_new_weights(server, prompt):
    ids, image = prompt
    new = {name: torch.full_like(t, 0.01) for name, t in server.engine.model.state_dict().items()}

    async def sync_while_a_request_arrives():
        await server.begin_weight_update()
        pending = asyncio.create_task(server.generate(prompt_ids=ids, sampling_params={"temperature": 0},
                                                      image_data=[image]))
        await asyncio.sleep(0.2)
        held = not pending.done()
        server.load_weights(list(new.items()))
        result = server.finish_weight_update(global_steps=3)
        return held, result, await pending

    held, result, out = asyncio.run(sync_while_a_request_arrives())
    assert held and result == {"loaded": len(new), "unchanged": 0}
    assert out.extra_fields["global_steps"] == 3
    report = json.loads((Path(server.report_dir) / "weights_step_3_replica_0.json").read_text())
    assert report["global_steps"] == 3 and set(report["weights"]) == set(new)
    assert all(w["sum"] == pytest.approx(0.01 * new[n].numel(), rel=1e-4) for n, w in report["weights"].items())
