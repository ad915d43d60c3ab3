"""`model.freeze_vision_tower=True`: train the language model only, the vision tower and its projector fixed."""

from __future__ import annotations

import torch


def _grad_off(module, args):
    module._specs_grad_was = torch.is_grad_enabled()
    torch.set_grad_enabled(False)


def _grad_back(module, args, output):
    torch.set_grad_enabled(module._specs_grad_was)


def freeze_vision_tower(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Make the vision tower and its projector (Qwen2-VL's `visual`, merger included) run without autograd: no
    gradient, no optimizer update or state, and no activations kept for a backward. Setting requires_grad alone
    is not enough under FSDP2 on several ranks (its unsharded copies may already exist and still ask for
    gradients), so the tower's forward also runs with grad disabled. Returns the frozen parameters."""
    towers = [m for name, m in module.named_modules() if name.split(".")[-1] == "visual"]
    if not towers:
        raise ValueError("model.freeze_vision_tower=True but the model has no `visual` module")
    frozen = [p for tower in towers for p in tower.parameters()]
    for p in frozen:
        p.requires_grad_(False)
    for tower in towers:
        tower.register_forward_pre_hook(_grad_off)
        tower.register_forward_hook(_grad_back)
    return frozen
