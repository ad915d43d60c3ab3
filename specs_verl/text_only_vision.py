"""A narrow fix of verl 0.9's Qwen2-VL forward for micro-batches without any image, on every platform.

verl runs the vision tower on a dummy input when a micro-batch has no image (so that every FSDP rank makes the
same all-gathers: a text-only micro-batch on one rank next to an image one on another would hang otherwise),
but reads the tower's output as a tensor; transformers 5 returns an output object there, and the forward fails
with `'BaseModelOutputWithPooling' object has no attribute 'mean'`. This does the same dummy pass with verl's
own `unpack_visual_output`, and leaves every batch with images to verl's function unchanged.

The plugin applies it in every verl process the moment verl imports `verl.models.transformers.qwen2_vl` (GRPO's
actor and reference workers meet text-only micro-batches too: prepared ViRL39K keeps its text-only rows), and the
DPO trainer applies it itself.
"""

from __future__ import annotations


def patch_text_only_vision_dummy(qwen2_vl=None) -> None:
    """Idempotent. `qwen2_vl`: verl's module, as a post-import hook hands it over (imported when not given)."""
    import torch

    if qwen2_vl is None:
        import verl.models.transformers.qwen2_vl as qwen2_vl

    original = qwen2_vl._get_input_embeds
    if getattr(original, "_specs_text_only", False):
        return

    def _get_input_embeds(model, input_ids, attention_mask=None, pixel_values=None, pixel_values_videos=None,
                          image_grid_thw=None, video_grid_thw=None):
        if pixel_values is not None or pixel_values_videos is not None:
            return original(model, input_ids, attention_mask, pixel_values, pixel_values_videos, image_grid_thw,
                            video_grid_thw)
        inputs_embeds = model.get_input_embeddings()(input_ids)
        config = model.config.vision_config
        patch_dim = config.in_channels * config.temporal_patch_size * config.patch_size**2
        dummy = torch.zeros((16, patch_dim), dtype=inputs_embeds.dtype, device=inputs_embeds.device)
        grid = torch.tensor([[1, 4, 4]], dtype=torch.long, device=inputs_embeds.device)
        image_embeds, _ = qwen2_vl.unpack_visual_output(model.visual(dummy, grid_thw=grid))
        inputs_embeds = inputs_embeds + 0.0 * image_embeds.mean()
        if attention_mask is not None:
            attention_mask = attention_mask.to(inputs_embeds.device)
        return inputs_embeds, attention_mask

    _get_input_embeds._specs_text_only = True
    qwen2_vl._get_input_embeds = _get_input_embeds
