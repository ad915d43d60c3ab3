"""The DPO cold-start trainer on verl's engine (TrainingWorker over FSDP2), launched by torchrun.

One step: a global batch of pairs -> rows [chosen, rejected, ...] -> verl's `train_batch` with our loss
(per-micro-batch, whole pairs kept together) -> one optimizer step. The reference log-probs come from a
one-off forward pass of the initial policy before step 1, cached on disk (`dpo.reference=cached`, the
default; step 1's own pairs are left out of the pass and scored by step 1's forward, which runs the
unchanged initial policy), or from a second, frozen model every step (`dpo.reference=live`). Checkpoints,
resume, loggers and the final `huggingface/` directory are verl's own, so the result goes straight into GRPO's
`actor_rollout_ref.model.path`.

On N processes every rank makes the same collective calls: training batches are equal by construction
(`train_batch_size` divides into ranks and micro-batches), the reference pass and validation pad the last pairs
(`sharding.py`) and drop the padding's results, and rank 0 alone decides whether the reference cache matches
(`ref_cache.py`) and broadcasts its values. Metrics are over the global batch: verl gathers every rank's sums.

The pair layout lives in `data.collate_pairs` (rows [chosen, rejected, ...], or one prefix-shared row per pair,
`packing.py`) and `loss_fn.pair_sums` (rows back to (pairs, 2) [chosen, rejected]); `dpo.pair_packing` picks it
(`resolve_packing`) and the shared one selects the `specs_pair_sdpa` attention function (attention.py).
Without a torchrun environment the trainer runs as one process (no launcher process holding memory).
Speed: verl's engine computes the log-probs at the response positions only (`engine.py`), batches are ordered by
row length before verl cuts micro-batches (`packing.by_row_length`), AdamW runs fused (`optimizer_section`) and
one process skips FSDP's resharding and per-micro-batch gradient reduction (`engine_section`).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import resource
import time
from collections import defaultdict

import torch
import torch.distributed as dist
from omegaconf import OmegaConf
from tensordict.tensorclass import NonTensorData

from specs_verl.atomic import write_atomic
from specs_verl.checkpoint_layout import hf_dir, step_dir

from .bookkeeping import RunRecord, Schedule, merge_ranks, step_metrics
from .config import DPOConfig, DPODataConfig, load_settings
from .data import PreferenceDataset, collate_pairs, pair_rows, set_max_pixels
from .loss_fn import REF_FROM_POLICY, DPOLossFn, pair_logps, pair_statistics, pair_sums, reduce_metric_sums
from .losses import LossOptions, resolve_losses
from .packing import by_row_length
from .ref_cache import RefLogpCache, reference_settings
from .sharding import padded_shard
from .vision_freeze import freeze_vision_tower

logger = logging.getLogger(__name__)


def _as_list(files) -> list[str]:
    if files is None:
        return []
    if isinstance(files, str):
        return [files]
    return [str(f) for f in files]


def peak_memory_gb() -> float:
    """Accelerator peak where there is one; the process's peak resident memory on CPU."""
    from verl.utils.device import get_torch_device

    accel = get_torch_device().max_memory_allocated()
    if accel:
        return accel / 1024**3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def collate_by_length(pairs: list[dict], packing: str) -> dict:
    """A batch of pairs ordered by row length (less padding in each micro-batch, packing.by_row_length)."""
    return collate_pairs(by_row_length(pairs, packing), packing=packing)


def has_dropout(model: torch.nn.Module) -> bool:
    """Whether a training forward of `model` is random: a dropout module with p > 0, or a `*dropout*` setting > 0
    anywhere in its config (HF attention applies `config.attention_dropout` functionally, with no module)."""
    if any(isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules()):
        return True
    config = getattr(model, "config", None)
    return hasattr(config, "to_dict") and any(v > 0 for v in _dropout_settings(config.to_dict()))


def _dropout_settings(settings: dict):
    for key, value in settings.items():
        if isinstance(value, dict):
            yield from _dropout_settings(value)
        elif isinstance(key, str) and "dropout" in key and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            yield value


def _triples(value) -> list[list[float]]:
    """verl nests a metric's values in lists (micro-batches, ranks): the [index, chosen, rejected] leaves."""
    if isinstance(value, (list, tuple)) and len(value) == 3 and not isinstance(value[0], (list, tuple)):
        return [list(value)]
    return [t for v in value for t in _triples(v)]


class _Shard(torch.utils.data.Dataset):
    """One rank's pairs for the reference pass or validation, padding included (`sharding.padded_shard`)."""

    def __init__(self, dataset, entries: list[tuple[int, bool]]):
        self.dataset, self.entries = dataset, entries

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, k: int) -> dict:
        index, is_padding = self.entries[k]
        return {**self.dataset[index], "is_padding": is_padding}


SHARED_MODEL_TYPES = ("qwen2_vl", "qwen2_5_vl")  # decoder layers hand text position ids to the attention


def resolve_packing(requested: str, model_type: str, model: dict) -> tuple[str, str]:
    """(packing, why) for `dpo.pair_packing`: auto takes shared where it is supported, separate elsewhere;
    shared where it is not supported is an error naming the reason."""
    problems = []
    if model_type not in SHARED_MODEL_TYPES:
        problems.append(f"model type {model_type!r} is not one of {', '.join(SHARED_MODEL_TYPES)}")
    if model.get("use_remove_padding"):
        problems.append("model.use_remove_padding=True (flash-attn varlen has no block mask here)")
    if int(model.get("ulysses_sequence_parallel_size") or 1) > 1:
        problems.append("sequence parallelism is on")
    if requested == "separate":
        return "separate", "asked for"
    if not problems:
        return "shared", "supported"
    if requested == "shared":
        raise ValueError("dpo.pair_packing=shared is not supported here: " + "; ".join(problems))
    return "separate", "; ".join(problems)


def restore_attention_setting(hf_dir: str, original: str | None) -> None:
    """A saved config.json names the user's attention implementation, not ours: `specs_pair_sdpa` exists only
    in a process that registered it, and GRPO (or anyone) loading the checkpoint must not need it."""
    from .attention import NAME

    path = os.path.join(hf_dir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        cfg = json.load(f)

    def fix(node: dict) -> None:
        for key, value in list(node.items()):
            if isinstance(value, dict):
                fix(value)
            elif key in ("attn_implementation", "_attn_implementation") and value == NAME:
                if original is None:
                    del node[key]
                else:
                    node[key] = original

    fix(cfg)
    write_atomic(path, json.dumps(cfg, indent=2))


def model_section(config, dpo: DPOConfig) -> tuple[dict, str, bool]:
    """verl's `model` section without our keys, with the attention function the packing needs; the packing;
    and whether the vision tower is frozen."""
    from transformers import AutoConfig
    from verl.utils.fs import copy_to_local

    section = OmegaConf.to_container(config.model, resolve=True)
    freeze = bool(section.pop("freeze_vision_tower", False))
    model_type = AutoConfig.from_pretrained(copy_to_local(section.get("hf_config_path") or section["path"]),
                                            trust_remote_code=section.get("trust_remote_code", False)).model_type
    packing, why = resolve_packing(dpo.pair_packing, model_type,
                                   {**section, **OmegaConf.to_container(config.engine, resolve=True)})
    if packing == "shared":
        from .attention import register_pair_attention

        section["override_config"] = {**(section.get("override_config") or {}),
                                      "attn_implementation": register_pair_attention()}
    return section, f"{packing} ({why})", freeze


def engine_section(engine, world_size: int, device: str) -> dict:
    """verl's `engine` section. One CPU process shards nothing, and there FSDP's per-micro-batch copies are a
    cost (about 10 % of a step on the tiny model) while the RAM they would save is one more copy of the weights:
    the parameters stay gathered from forward to backward (and between forward-only batches) and the gradients are
    reduced once per step instead of once per micro-batch (the same sums, in the same order). On an accelerator
    the copies are cheap and its memory is not, so verl's settings stay; offloading keeps them too."""
    section = OmegaConf.to_container(engine, resolve=True)
    offload = any(section.get(k) for k in ("param_offload", "optimizer_offload", "offload_policy"))
    if world_size == 1 and device == "cpu" and not offload:
        section.update(reshard_after_forward=False, use_no_sync_for_gradient_accumulation=True)
    return section


FUSED_DEVICES = ("cpu", "cuda")  # where torch has a fused AdamW kernel


def optimizer_section(optim) -> dict:
    """verl's `optim` section; torch's AdamW/Adam run fused (one kernel over all parameters, transformers' and so
    TRL's default) unless `optim.override_optimizer_config` picks an implementation. verl's default is the foreach
    chain, which over FSDP2's DTensor parameters costs about 0.05 s a step more even on the tiny model on CPU."""
    from verl.utils.device import get_device_name

    section = OmegaConf.to_container(optim, resolve=True)
    extra = dict(section.get("override_optimizer_config") or {})
    if (section.get("optimizer_impl") == "torch.optim" and section.get("optimizer") in ("AdamW", "Adam")
            and not {"fused", "foreach"} & set(extra) and get_device_name() in FUSED_DEVICES):
        section["override_optimizer_config"] = {**extra, "fused": True}
    return section


class DPOTrainer:
    def __init__(self, config, dpo: DPOConfig, data: DPODataConfig):
        from verl.utils.config import omega_conf_to_dataclass

        self.config = config
        self.rank = dist.get_rank()
        self.dpo, self.data = dpo, data
        self.user_attention = (OmegaConf.to_container(config.model, resolve=True).get("override_config")
                               or {}).get("attn_implementation")
        self.model_cfg, packing, self.freeze_vision_tower = model_section(config, dpo)
        self.packing = packing.split(" ")[0]
        if self.rank == 0:
            print(f"[specs-dpo] pair packing: {packing}")
        self.model_config = omega_conf_to_dataclass(OmegaConf.create(self.model_cfg))
        self.engine_config = omega_conf_to_dataclass(OmegaConf.create(self._engine_section()))
        self.optimizer_config = omega_conf_to_dataclass(OmegaConf.create(optimizer_section(config.optim)))
        self.checkpoint_config = omega_conf_to_dataclass(config.checkpoint)
        self.profiler_config = omega_conf_to_dataclass(config.profiler)

        self.terms = resolve_losses(dpo.loss, dpo.loss_weights, dpo.sft_weight)
        self.options = LossOptions(beta=float(dpo.beta), label_smoothing=float(dpo.label_smoothing))
        self.loss_fn = DPOLossFn(self.terms, self.options)
        self.record = RunRecord()  # the GF baseline and every logged step, restored on resume
        self.ref_values: dict[str, dict[str, tuple[float, float]]] = {}  # split -> row key -> (chosen, rejected)
        self.ref_from_step1: frozenset = frozenset()  # dataset indices whose reference step 1 scores

        self._build_datasets()
        self.training_client = self._build_worker(self.model_config, self.engine_config, self.optimizer_config)
        self.training_client.set_loss_fn(loss_fn=self.loss_fn)
        self.engine = self.training_client.engine
        self.dp_rank = self.engine.get_data_parallel_rank()
        self.dp_size = self.engine.get_data_parallel_size()
        self._build_dataloaders()

        cfg = config.trainer
        self.schedule = Schedule.from_trainer_config(cfg.total_training_steps, cfg.total_epochs,
                                                     len(self.train_loader), cfg.test_freq, cfg.save_freq)
        self.total_training_steps = self.schedule.total_steps
        self.optimizer_config.total_training_steps = self.total_training_steps
        self.training_client.reset()
        if self.freeze_vision_tower:  # the engine builds its module in reset()
            self._freeze_vision_tower()
        self.reference_client = self._build_reference() if self.dpo.reference == "live" else None

        from verl.utils.checkpoint import CheckpointHandler

        self.ckpt_handler = CheckpointHandler(
            engine=self.engine, train_dataloader=self.train_loader,
            default_local_dir=config.trainer.default_local_dir, max_ckpt_to_keep=config.trainer.max_ckpt_to_keep,
            default_hdfs_dir=config.trainer.get("default_hdfs_dir"), resume_mode=config.trainer.resume_mode,
            resume_from_path=config.trainer.resume_from_path,
        )
        self.start_step = self.ckpt_handler.load_checkpoint()
        self._load_dpo_state()
        self.dp_group = self.engine.get_data_parallel_group()

    # ------------------------------------------------------------------ construction
    def _engine_section(self) -> dict:
        from verl.utils.device import get_device_name

        return engine_section(self.config.engine, dist.get_world_size(), get_device_name())

    def _freeze_vision_tower(self):
        frozen = freeze_vision_tower(self.engine.module)
        if self.rank == 0:
            print(f"[specs-dpo] vision tower frozen: {sum(p.numel() for p in frozen)} parameters "
                  f"({len(frozen)} tensors)")

    def _build_datasets(self):
        processor = self.model_config.processor or self.model_config.tokenizer
        data = self.data
        if data.max_pixels is not None:
            set_max_pixels(processor, data.max_pixels)
        show = self.rank == 0
        self.train_dataset = PreferenceDataset(_as_list(data.train_files), processor, data.max_length,
                                               self.dpo.on_bad_pair, show_progress=show)
        val_files = _as_list(data.val_files)
        self.val_dataset = (PreferenceDataset(val_files, processor, data.max_length, self.dpo.on_bad_pair,
                                              show_progress=show) if val_files else None)
        if show:
            self._write_json("bad_pairs.json", {
                "train": self.train_dataset.report.as_dict(),
                "val": self.val_dataset.report.as_dict() if self.val_dataset else None,
            })
            for split, ds in (("train", self.train_dataset), ("val", self.val_dataset)):
                if ds is not None and ds.report.skipped:
                    print(f"[specs-dpo] {split}: skipped {sum(ds.report.skipped.values())} of {ds.report.total} "
                          f"pairs: {dict(ds.report.skipped)} (details in bad_pairs.json)")

    def _build_worker(self, model_config, engine_config, optimizer_config):
        from verl.workers.engine_workers import TrainingWorker, TrainingWorkerConfig

        from .engine import MODEL_TYPE, engine_class

        engine_class()  # verl's FSDP engine, log-probs at the response positions only (engine.py)
        return TrainingWorker(config=TrainingWorkerConfig(
            model_type=MODEL_TYPE, model_config=model_config, engine_config=engine_config,
            optimizer_config=optimizer_config, checkpoint_config=self.checkpoint_config,
            profiler_config=self.profiler_config,
        ))

    def _build_reference(self):
        """A frozen copy of the initial (or `dpo.ref_model_path`) model, forward only."""
        from verl.utils.config import omega_conf_to_dataclass

        model_cfg = dict(self.model_cfg)
        if self.dpo.ref_model_path:
            model_cfg["path"] = self.dpo.ref_model_path
        engine_cfg = self._engine_section()
        engine_cfg["forward_only"] = True
        client = self._build_worker(omega_conf_to_dataclass(OmegaConf.create(model_cfg)),
                                    omega_conf_to_dataclass(OmegaConf.create(engine_cfg)), None)
        client.reset()
        return client

    def _build_dataloaders(self):
        from torch.utils.data import DistributedSampler
        from torchdata.stateful_dataloader import StatefulDataLoader

        data = self.data
        if data.train_batch_size % self.dp_size:
            raise ValueError(f"data.train_batch_size={data.train_batch_size} pairs must divide by the "
                             f"data-parallel size {self.dp_size}")
        self.pairs_per_rank = data.train_batch_size // self.dp_size
        if self.pairs_per_rank % data.micro_batch_size_per_gpu:
            raise ValueError(f"{self.pairs_per_rank} pairs per rank do not split into micro-batches of "
                             f"data.micro_batch_size_per_gpu={data.micro_batch_size_per_gpu} pairs")
        if len(self.train_dataset) < data.train_batch_size:
            raise ValueError(f"{len(self.train_dataset)} training pairs, fewer than one global batch "
                             f"(data.train_batch_size={data.train_batch_size})")
        self.train_sampler = DistributedSampler(self.train_dataset, shuffle=True, num_replicas=self.dp_size,
                                                rank=self.dp_rank, drop_last=True, seed=self.config.trainer.seed)
        self.train_loader = StatefulDataLoader(self.train_dataset, batch_size=self.pairs_per_rank,
                                               sampler=self.train_sampler, collate_fn=self._collate,
                                               num_workers=data.num_workers, drop_last=True)

    def _eval_loader(self, dataset, skip: frozenset = frozenset()):
        """Every pair once across ranks (but those in `skip`), padded so that every rank runs the same batches
        (the engine's forward is a collective): for the reference pass and validation. Drop the rows marked
        `is_padding`."""
        from torch.utils.data import DataLoader

        todo = [i for i in range(len(dataset)) if i not in skip]
        entries = [(todo[i], pad) for i, pad in padded_shard(len(todo), self.dp_size, self.dp_rank)] if todo else []
        # similar lengths in each forward micro-batch (less padding); the results are keyed by pair
        entries.sort(key=lambda entry: sum(dataset.rows[entry[0]]["lengths"]))
        shard = _Shard(dataset, entries)
        return DataLoader(shard, batch_size=self.forward_micro_pairs, shuffle=False, collate_fn=self._collate,
                          num_workers=0)

    @property
    def _collate(self):
        return functools.partial(collate_by_length, packing=self.packing)

    @property
    def forward_micro_pairs(self) -> int:
        """Pairs per forward-only micro-batch (reference pass, validation): no activations kept, so larger."""
        return self.dpo.forward_micro_batch_size_per_gpu or 4 * self.data.micro_batch_size_per_gpu

    # ------------------------------------------------------------------ batches
    def _meta(self, batch_pairs: int, micro_pairs: int | None = None) -> dict:
        data = self.data
        return {
            "use_remove_padding": self.model_config.use_remove_padding,
            "use_dynamic_bsz": data.use_dynamic_bsz,
            "max_token_len_per_gpu": data.max_token_len_per_gpu,
            "micro_batch_size_per_gpu": micro_pairs or data.micro_batch_size_per_gpu,
            "force_group_size": 1 if self.packing == "shared" else 2,  # a micro-batch holds whole pairs
            "temperature": 1.0,
            "pad_mode": "no_padding",
            "pad_token_id": self.model_config.tokenizer.pad_token_id,
            "global_pairs": batch_pairs,
        }

    def _global_lengths(self, batch: dict) -> list[int]:
        """The sequence lengths of this batch on every data-parallel rank (verl's MFU wants the global list)."""
        local = batch["input_ids"].offsets().diff().tolist()
        if self.dp_size == 1:
            return local
        gathered = [None] * self.dp_size
        dist.all_gather_object(gathered, local, group=self.dp_group)
        return [n for part in gathered for n in part]

    def _tensordict(self, batch: dict, global_pairs: int, micro_pairs: int | None = None):
        from verl.utils import tensordict_utils as tu

        td = tu.get_tensordict(tensor_dict=batch, non_tensor_dict=self._meta(global_pairs, micro_pairs))
        tu.assign_non_tensor(td, global_token_num=NonTensorData(self._global_lengths(batch)))
        return td

    def _forward_logps(self, client, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(pairs, 2) summed response log-probs [chosen, rejected] of `batch` (no gradient) and token counts."""
        from verl.utils import tensordict_utils as tu

        pairs = len(batch["pair_index"][pair_rows(batch)])  # an evaluation batch is one micro-batch
        td = self._tensordict(batch, global_pairs=pairs, micro_pairs=pairs)
        tu.assign_non_tensor(td, compute_loss=False)
        output = client.infer_batch(td)
        logps, tokens = pair_sums(output["log_probs"], batch)
        return logps.float().cpu(), tokens.float().cpu()

    @staticmethod
    def _real_pairs(batch: dict) -> list[tuple[int, int]]:
        """(position in the batch, dataset index) of the pairs that are not padding."""
        rows = pair_rows(batch)
        return [(k, int(idx)) for k, (idx, pad) in enumerate(zip(batch["pair_index"][rows].tolist(),
                                                                  batch["is_padding"][rows].tolist())) if not pad]

    # ------------------------------------------------------------------ reference log-probs
    def _reference_model_dir(self) -> str:
        if self.dpo.ref_model_path:
            from verl.utils.fs import copy_to_local

            return copy_to_local(self.dpo.ref_model_path)
        return self.model_config.local_path

    def _cache_decision(self, splits: dict) -> dict:
        """Rank 0 reads the cache and decides which splits it can reuse (exact row match) and which to compute."""
        processor = self.model_config.processor or self.model_config.tokenizer
        settings = reference_settings(self.model_cfg,
                                      OmegaConf.to_container(self.config.engine, resolve=True),
                                      self._reference_model_dir(), processor, self.data.max_length)
        cache_dir = self.dpo.ref_cache_dir or os.path.join(self.config.trainer.default_local_dir, "ref_logps")
        cache = RefLogpCache(cache_dir, settings)
        cache.load()
        reuse, todo = {}, []
        for split, ds in splits.items():
            needed = [row["ref_key"] for row in ds.rows]
            if cache.usable(split, needed):
                reuse[split] = cache.data[split]
            else:
                todo.append(split)
        self._cache = cache
        return {"path": str(cache.path), "reuse": reuse, "todo": todo}

    def _prepare_reference(self):
        """Compute (or read back) the reference log-probs of every train and validation pair. Rank 0 decides and
        broadcasts the values, so ranks without a shared file system agree."""
        if self.reference_client is not None:
            return
        splits = {split: ds for split, ds in (("train", self.train_dataset), ("val", self.val_dataset))
                  if ds is not None}
        decision = [self._cache_decision(splits) if self.rank == 0 else None]
        dist.broadcast_object_list(decision, src=0)
        decision = decision[0]
        self.ref_values.update(decision["reuse"])
        if not decision["todo"]:
            if self.rank == 0:
                print(f"[specs-dpo] reference log-probs read from {decision['path']}")
            return
        if self.start_step > 0 and not self.dpo.ref_model_path:
            raise RuntimeError(f"resuming at step {self.start_step} but the reference log-probs cache "
                               f"{decision['path']} lacks the {decision['todo']} pairs of this run: the reference "
                               "(the initial model) is gone; set dpo.ref_model_path to the initial model or "
                               "dpo.reference=live")
        from tqdm import tqdm

        client = self._build_reference() if self.dpo.ref_model_path else self.training_client
        one_output = self.engine_config.ulysses_sequence_parallel_size == 1  # every rank gets step 1's metrics
        # step 1's training forward equals the reference pass's only without dropout (train vs eval mode)
        if "train" in decision["todo"] and not self.dpo.ref_model_path and one_output \
                and not has_dropout(self.engine.module):
            self.ref_from_step1 = self._first_batch()
        if self.rank == 0:  # the bench stamps the start of the pass on this line
            print(f"[specs-dpo] reference pass starts: {', '.join(decision['todo'])}", flush=True)
        start = time.perf_counter()
        n_pairs = 0
        for split in decision["todo"]:
            ds, local = splits[split], {}
            skip = self.ref_from_step1 if split == "train" else frozenset()
            for batch in tqdm(self._eval_loader(ds, skip), desc=f"reference log-probs ({split})",
                              disable=self.rank != 0):
                logps, _ = self._forward_logps(client, batch)
                for k, idx in self._real_pairs(batch):
                    local[ds.rows[idx]["ref_key"]] = (float(logps[k, 0]), float(logps[k, 1]))
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, local)
            self.ref_values[split] = {k: v for part in gathered for k, v in part.items()}
            n_pairs += len(ds) - len(skip)
        self._ref_todo = decision["todo"]
        if self.rank == 0:
            elapsed = time.perf_counter() - start
            later = (f"; the {len(self.ref_from_step1)} pairs of step 1 from its own forward"
                     if self.ref_from_step1 else "")
            print(f"[specs-dpo] reference pass: {n_pairs} pairs in {elapsed:.1f}s "
                  f"({n_pairs / max(elapsed, 1e-9):.2f} pairs/s){later}", flush=True)
        if not self.ref_from_step1:
            self._save_reference()

    def _first_batch(self) -> frozenset:
        """The dataset indices of step 1's pairs on every rank. Before its update the policy is the reference,
        so step 1's own forward scores them as the reference pass would: the pass leaves them out (one global
        batch less of forward work) and step 1 fills them in (`loss_fn.reference_or_policy`)."""
        if self.start_step > 0:
            return frozenset()
        self.train_sampler.set_epoch(0)
        local = list(itertools.islice(iter(self.train_sampler), self.pairs_per_rank))
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, local)
        return frozenset(i for part in gathered for i in part)

    def _save_reference(self) -> None:
        if self.rank == 0:
            for split in self._ref_todo:
                self._cache.replace(split, self.ref_values[split])
            self._cache.save()
            print(f"[specs-dpo] reference log-probs cached at {self._cache.path}", flush=True)
        dist.barrier()

    def _reference_from_step1(self, raw: dict) -> None:
        """Step 1's pairs into the reference values (gathered from every rank by verl), then the cache is whole."""
        ds, values = self.train_dataset, self.ref_values["train"]
        for index, chosen, rejected in _triples(raw[REF_FROM_POLICY]):
            values[ds.rows[int(index)]["ref_key"]] = (chosen, rejected)
        missing = [i for i in self.ref_from_step1 if ds.rows[i]["ref_key"] not in values]
        if missing:
            raise RuntimeError(f"step 1 did not score the reference log-probs of pairs {sorted(missing)[:8]}")
        self.ref_from_step1 = frozenset()
        self._save_reference()

    def _reference_logps(self, split: str, batch: dict) -> torch.Tensor:
        """(pairs, 2) for a shared batch, one value per row for a separate one (rows [chosen, rejected, ...])."""
        if self.reference_client is not None:
            ref = self._forward_logps(self.reference_client, batch)[0]
        else:
            ds = self.train_dataset if split == "train" else self.val_dataset
            values = self.ref_values[split]
            step1 = self.ref_from_step1 if split == "train" else frozenset()
            later = (0.0, 0.0)  # step 1's own pairs: the loss takes the policy's log-probs (`ref_from_policy`)
            ref = torch.tensor([later if i in step1 else values[ds.rows[i]["ref_key"]]
                                for i in batch["pair_index"][pair_rows(batch)].tolist()], dtype=torch.float32)
        return ref if "branch" in batch.keys() else ref.view(-1)

    # ------------------------------------------------------------------ state
    def _write_json(self, name: str, payload: dict, directory: str | None = None) -> None:
        directory = directory or self.config.trainer.default_local_dir
        write_atomic(os.path.join(directory, name), json.dumps(payload, indent=2))

    def _dpo_state_path(self, step: int) -> str:
        return str(step_dir(self.config.trainer.default_local_dir, step) / "dpo_state.json")

    def _load_dpo_state(self):
        """What verl's checkpoint does not hold: the GF baseline and the metrics history before the resume."""
        if self.start_step and os.path.exists(self._dpo_state_path(self.start_step)):
            with open(self._dpo_state_path(self.start_step)) as f:
                state = json.load(f)
            self.record = RunRecord.resumed(state, self.start_step)

    def _save_dpo_state(self, step: int) -> None:
        self._write_json("dpo_state.json", self.record.state(step, self.terms),
                         directory=os.path.dirname(self._dpo_state_path(step)))

    # ------------------------------------------------------------------ validation
    def validate(self, baseline: bool = False) -> dict[str, float]:
        """Per-pair metrics on the held-out pairs, overall and per data_source (ID and OOD sets separately), and
        the preference GF; `baseline`: this is the validation before training, whose accuracies are GF's baseline."""
        per_source: dict[str, list[dict]] = defaultdict(list)
        for batch in self._eval_loader(self.val_dataset):
            policy, tokens = self._forward_logps(self.training_client, batch)
            ref = self._reference_logps("val", batch)
            stats = pair_statistics(pair_logps(policy, tokens, ref), self.options.beta)
            for k, idx in self._real_pairs(batch):
                source = self.val_dataset.rows[idx]["data_source"]
                per_source[source].append({name: float(v[k]) for name, v in stats.items()})
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, dict(per_source))
        gf = self.dpo.gf
        return self.record.validation_metrics(merge_ranks(gathered), gf.id_sources, gf.ood_sources, gf.beta,
                                              before_training=baseline)

    # ------------------------------------------------------------------ training
    def fit(self):
        from tqdm import tqdm
        from verl.utils import tensordict_utils as tu
        from verl.utils.tracking import Tracking

        cfg = self.config.trainer
        is_logging = self.engine.is_mp_src_rank_with_outputs() and self.dp_rank == 0
        tracking = (Tracking(project_name=cfg.project_name, experiment_name=cfg.experiment_name,
                             default_backend=cfg.logger, config=OmegaConf.to_container(self.config, resolve=True))
                    if is_logging else None)
        self._prepare_reference()
        if self.val_dataset is not None and cfg.get("val_before_train", False) and self.start_step == 0:
            val = self.validate(baseline=True)
            if tracking:
                tracking.log(data=val, step=0)
                self.record.log(0, val)

        step = self.start_step
        if self.schedule.finished(step):
            if self.rank == 0:
                print(f"[specs-dpo] {self.config.trainer.default_local_dir} already holds step {step} of "
                      f"{self.total_training_steps}: nothing to train")
            return
        progress = tqdm(total=self.total_training_steps, initial=step, desc="DPO", disable=not is_logging)
        for epoch in itertools.count(self.schedule.epoch_of_next_step(step)):
            self.train_sampler.set_epoch(epoch)
            for batch in self.train_loader:
                step += 1
                start = time.perf_counter()
                batch["ref_logps"] = self._reference_logps("train", batch)
                if self.ref_from_step1:
                    batch["ref_from_policy"] = torch.tensor([int(i) in self.ref_from_step1
                                                             for i in batch["pair_index"].tolist()])
                td = self._tensordict(batch, global_pairs=self.data.train_batch_size)
                global_tokens = sum(tu.get(td, "global_token_num"))
                tu.assign_non_tensor(td, update_lr_scheduler=True)
                output = self.training_client.train_batch(td)
                elapsed = time.perf_counter() - start
                metrics = {}
                if self.ref_from_step1:
                    self._reference_from_step1(tu.get(output, "metrics"))
                if self.engine.is_mp_src_rank_with_outputs():
                    raw = tu.get(output, "metrics")
                    metrics = step_metrics(reduce_metric_sums(raw), raw, global_tokens, elapsed, peak_memory_gb())
                if self.val_dataset is not None and self.schedule.validates(step):
                    metrics.update(self.validate())
                if tracking:
                    tracking.log(data=metrics, step=step)
                    self.record.log(step, metrics)
                progress.update(1)
                if self.schedule.saves(step):
                    self.ckpt_handler.save_checkpoint(step=step)
                    if self.rank == 0:
                        restore_attention_setting(str(hf_dir(cfg.default_local_dir, step)), self.user_attention)
                        self._save_dpo_state(step)
                        print(f"[specs-dpo] saved checkpoint {step_dir(cfg.default_local_dir, step)}", flush=True)
                if self.schedule.finished(step):
                    progress.close()
                    if self.rank == 0:
                        self._finish(step)
                    return

    def _finish(self, step: int) -> None:
        final = str(hf_dir(self.config.trainer.default_local_dir, step))
        self._write_json("dpo_summary.json", self.record.summary(step, final))
        print(f"[specs-dpo] done after {step} steps; final metrics {self.record.final_metrics()}")
        if os.path.isdir(final):  # checkpoint.save_contents holds hf_model (the default)
            print(f"[specs-dpo] checkpoint for GRPO: actor_rollout_ref.model.path={final}")


def single_process_environment() -> None:
    """Without torchrun's variables, run as the only process of a one-rank group (no launcher process)."""
    if "RANK" in os.environ or "WORLD_SIZE" in os.environ:
        return
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})


def run(config, dpo: DPOConfig | None = None, data: DPODataConfig | None = None) -> None:
    from verl.utils.distributed import destroy_global_process_group, initialize_global_process_group

    from specs_verl.text_only_vision import patch_text_only_vision_dummy

    if dpo is None or data is None:
        dpo, data = load_settings(config)
    patch_text_only_vision_dummy()
    single_process_environment()
    initialize_global_process_group()
    try:
        DPOTrainer(config, dpo, data).fit()
    finally:
        destroy_global_process_group()
