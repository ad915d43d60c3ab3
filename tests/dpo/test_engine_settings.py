"""What the DPO trainer changes in verl's engine and optimizer settings: torch's fused AdamW by default (one kernel
instead of verl's foreach chain, the same update), on one CPU process no FSDP resharding between forward and
backward and one gradient reduction per step (one rank shards nothing), and the optimizer step's gradient clipping
on local tensors."""

from __future__ import annotations

import torch
from omegaconf import OmegaConf

from specs_verl.dpo.trainer import optimizer_section


def _optim(**extra):
    return OmegaConf.create({"optimizer": "AdamW", "optimizer_impl": "torch.optim", "lr": 1e-3,
                             "override_optimizer_config": extra or None})


def test_adamw_runs_fused_unless_the_user_picks_an_implementation():
    assert optimizer_section(_optim())["override_optimizer_config"] == {"fused": True}
    assert optimizer_section(_optim(foreach=True))["override_optimizer_config"] == {"foreach": True}
    assert optimizer_section(_optim(fused=False))["override_optimizer_config"] == {"fused": False}
    other = OmegaConf.create({"optimizer": "AdamW8bit", "optimizer_impl": "bitsandbytes.optim",
                              "override_optimizer_config": None})
    assert optimizer_section(other)["override_optimizer_config"] is None


def test_fused_adamw_updates_the_weights_as_foreach_does():
    g = torch.Generator().manual_seed(0)
    start = [torch.randn(64, 32, generator=g), torch.randn(32, generator=g)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(3)]
    results = []
    for kind in ("foreach", "fused"):
        params = [torch.nn.Parameter(p.clone()) for p in start]
        opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.01, **{kind: True})
        for step in grads:
            for p, grad in zip(params, step):
                p.grad = grad.clone()
            opt.step()
        results.append([p.detach() for p in params])
    for a, b in zip(*results):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)
        assert not torch.equal(a, start[0] if a.shape == start[0].shape else start[1])  # the step moved them


def test_one_cpu_process_keeps_parameters_gathered_and_reduces_gradients_once_a_step():
    from specs_verl.dpo.trainer import engine_section

    engine = OmegaConf.create({"strategy": "fsdp2", "reshard_after_forward": True,
                               "use_no_sync_for_gradient_accumulation": False, "param_offload": False})
    one = engine_section(engine, 1, "cpu")
    assert (one["reshard_after_forward"], one["use_no_sync_for_gradient_accumulation"]) == (False, True)
    verl = OmegaConf.to_container(engine)
    assert engine_section(engine, 2, "cpu") == verl  # sharded over ranks: verl's settings stay
    assert engine_section(engine, 1, "cuda") == verl  # an accelerator's memory is worth the copies
    offloaded = OmegaConf.merge(engine, {"param_offload": True})
    assert engine_section(offloaded, 1, "cpu") == OmegaConf.to_container(offloaded)


def test_clipping_on_local_gradients_is_torchs_clip_grad_norm():
    from specs_verl.dpo.engine import clip_local_grads

    g = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.randn(30, 3, generator=g)) for _ in range(3)]
    torchs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    for a, b in zip(ours, torchs):
        a.grad = torch.randn(30, 3, generator=g)
        b.grad = a.grad.clone()
    norm = clip_local_grads(ours, 1.0)
    assert torch.equal(norm, torch.nn.utils.clip_grad_norm_(torchs, 1.0)) and norm > 1.0
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(ours, torchs))
