"""The `hf` rollout: verl's GRPO/PPO generation with plain transformers, on CPU or on one accelerator per replica.

Select it with `actor_rollout_ref.rollout.name=hf` (and `rollout.tensor_model_parallel_size=1`). It exists for
correctness and small runs (the CPU test suite, the tiny CPU pipeline, a GPU machine without vLLM); speed on
GPUs stays with vLLM. Batched generation, verl's sampling parameters (temperature, top_p, top_k, max tokens,
repetition penalty, n, seed), log-probs, images (Qwen-VL style); video is refused.

Importing this package (the plugin does, in every verl process) only records the name `hf` in verl's two
rollout registries once verl loads them (`registration`); nothing else is imported until a run selects it.
It also installs a narrow guard for a verl bug that breaks Qwen-VL training when every sequence of a batch has
the same length (`position_ids_fix`, verl issue 7899).

    engine.py        HFGenerator: the HF model core (`specs_verl.generation.hf_model`) plus weight loading
    sampling.py      verl's sampling dict -> SamplingSpec (pure; also what the offline hf backend asks the core)
    batching.py      MicroBatcher: requests that arrive together -> one batch (pure asyncio)
    server.py        HFRolloutServer: the Ray actor answering verl's generate calls
    replica.py       HFReplica: starts the server next to the replica's training worker
    adapter.py       HFServerAdapter: sends trained weights from the worker to the server after each step
    registration.py  the post-import hooks that register the name
    position_ids_fix.py  guard for verl issue 7899 (equal-length Qwen-VL batches), on where verl has the bug
"""

from . import position_ids_fix
from .registration import NAME, register

register()
position_ids_fix.install()

__all__ = ["NAME", "register"]
