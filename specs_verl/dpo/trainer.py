"""The DPO cold-start trainer on verl's engine (TrainingWorker over FSDP2), launched by torchrun.

One step: a global batch of pairs -> rows [chosen, rejected, ...] -> verl's `train_batch` with our loss
(per-micro-batch, whole pairs kept together) -> one optimizer step. The reference log-probs come from a
one-off forward pass of the initial policy before step 1, cached on disk (`dpo.reference=cached`, the
default), or from a second, frozen model every step (`dpo.reference=live`). Checkpoints, resume, loggers and
the final `huggingface/` directory are verl's own, so the result goes straight into GRPO's
`actor_rollout_ref.model.path`.
"""

from __future__ import annotations

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

from .data import PreferenceDataset, collate_pairs
from .loss_fn import DPOLossFn, pair_logps, pair_statistics, reduce_metric_sums, sequence_logps
from .losses import LossOptions, resolve_losses
from .ref_cache import RefLogpCache, cache_key

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


class DPOTrainer:
    def __init__(self, config):
        from verl.utils.config import omega_conf_to_dataclass

        self.config = config
        self.rank = dist.get_rank()
        self.dpo = config.dpo
        self.model_config = omega_conf_to_dataclass(config.model)
        self.engine_config = omega_conf_to_dataclass(config.engine)
        self.optimizer_config = omega_conf_to_dataclass(config.optim)
        self.checkpoint_config = omega_conf_to_dataclass(config.checkpoint)
        self.profiler_config = omega_conf_to_dataclass(config.profiler)

        self.terms = resolve_losses(self.dpo.loss, self.dpo.get("loss_weights"), self.dpo.sft_weight)
        self.options = LossOptions(beta=float(self.dpo.beta), label_smoothing=float(self.dpo.label_smoothing))
        self.loss_fn = DPOLossFn(self.terms, self.options)
        self.gf_baseline: dict | None = None  # per-source pair accuracy before training (val_before_train)
        self._validating_baseline = False

        self._build_datasets()
        self.training_client = self._build_worker(self.model_config, self.engine_config, self.optimizer_config)
        self.training_client.set_loss_fn(loss_fn=self.loss_fn)
        self.engine = self.training_client.engine
        self.dp_rank = self.engine.get_data_parallel_rank()
        self.dp_size = self.engine.get_data_parallel_size()
        self._build_dataloaders()

        self.total_training_steps = config.trainer.total_training_steps or (
            len(self.train_loader) * config.trainer.total_epochs)
        self.optimizer_config.total_training_steps = self.total_training_steps
        self.training_client.reset()
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

    # ------------------------------------------------------------------ construction
    def _build_datasets(self):
        processor = self.model_config.processor or self.model_config.tokenizer
        data = self.config.data
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

        return TrainingWorker(config=TrainingWorkerConfig(
            model_type="language_model", model_config=model_config, engine_config=engine_config,
            optimizer_config=optimizer_config, checkpoint_config=self.checkpoint_config,
            profiler_config=self.profiler_config,
        ))

    def _build_reference(self):
        """A frozen copy of the initial (or `dpo.ref_model_path`) model, forward only."""
        from verl.utils.config import omega_conf_to_dataclass

        model_cfg = OmegaConf.to_container(self.config.model, resolve=True)
        if self.dpo.get("ref_model_path"):
            model_cfg["path"] = self.dpo.ref_model_path
        engine_cfg = OmegaConf.to_container(self.config.engine, resolve=True)
        engine_cfg["forward_only"] = True
        client = self._build_worker(omega_conf_to_dataclass(OmegaConf.create(model_cfg)),
                                    omega_conf_to_dataclass(OmegaConf.create(engine_cfg)), None)
        client.reset()
        return client

    def _build_dataloaders(self):
        from torch.utils.data import DistributedSampler
        from torchdata.stateful_dataloader import StatefulDataLoader

        data = self.config.data
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
                                               sampler=self.train_sampler, collate_fn=collate_pairs,
                                               num_workers=data.num_workers, drop_last=True)

    def _eval_loader(self, dataset):
        """Every pair exactly once across ranks (no drop, no padding): for the reference pass and validation."""
        from torch.utils.data import DataLoader

        indices = list(range(self.dp_rank, len(dataset), self.dp_size))
        subset = torch.utils.data.Subset(dataset, indices)
        return DataLoader(subset, batch_size=self.config.data.micro_batch_size_per_gpu, shuffle=False,
                          collate_fn=collate_pairs, num_workers=0)

    # ------------------------------------------------------------------ batches
    def _meta(self, batch_pairs: int, micro_pairs: int | None = None) -> dict:
        data = self.config.data
        return {
            "use_remove_padding": self.config.model.use_remove_padding,
            "use_dynamic_bsz": data.use_dynamic_bsz,
            "max_token_len_per_gpu": data.max_token_len_per_gpu,
            "micro_batch_size_per_gpu": micro_pairs or data.micro_batch_size_per_gpu,
            "force_group_size": 2,
            "temperature": 1.0,
            "pad_mode": "no_padding",
            "pad_token_id": self.model_config.tokenizer.pad_token_id,
            "global_pairs": batch_pairs,
        }

    def _tensordict(self, batch: dict, global_pairs: int, micro_pairs: int | None = None):
        from verl.utils import tensordict_utils as tu

        td = tu.get_tensordict(tensor_dict=batch, non_tensor_dict=self._meta(global_pairs, micro_pairs))
        lengths = batch["input_ids"].offsets().diff().tolist()
        tu.assign_non_tensor(td, global_token_num=NonTensorData(lengths))
        return td

    def _forward_logps(self, client, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed response log-probs of every row of `batch` (no gradient) and response token counts."""
        from verl.utils import tensordict_utils as tu

        pairs = len(batch["pair_index"]) // 2  # an evaluation batch is one micro-batch (the last may be short)
        td = self._tensordict(batch, global_pairs=pairs, micro_pairs=pairs)
        tu.assign_non_tensor(td, compute_loss=False)
        output = client.infer_batch(td)
        seq_logps, tokens = sequence_logps(output["log_probs"], batch["loss_mask"])
        return seq_logps.float().cpu(), tokens.float().cpu()

    # ------------------------------------------------------------------ reference log-probs
    def _prepare_reference(self):
        """Compute (or read back) the reference log-probs of every train and validation pair."""
        if self.reference_client is not None:
            return
        data = self.config.data
        cache_dir = self.dpo.get("ref_cache_dir") or os.path.join(self.config.trainer.default_local_dir,
                                                                   "ref_logps")
        key = cache_key(self.dpo.get("ref_model_path") or self.model_config.local_path,
                        _as_list(data.train_files) + _as_list(data.val_files), data.max_length,
                        extra={"template": getattr(self.model_config.tokenizer, "chat_template", None) or ""})
        self.ref_cache = RefLogpCache(cache_dir, key)
        todo = [(split, ds) for split, ds in (("train", self.train_dataset), ("val", self.val_dataset))
                if ds is not None and not self.ref_cache.has(split, list(range(len(ds))))]
        if not todo:
            if self.rank == 0:
                print(f"[specs-dpo] reference log-probs read from {self.ref_cache.path}")
            return
        if self.start_step > 0 and self.dpo.get("ref_model_path") is None:
            raise RuntimeError(f"resuming at step {self.start_step} but the reference log-probs cache "
                               f"{self.ref_cache.path} is missing: the reference (the initial model) is gone; "
                               "set dpo.ref_model_path to the initial model or dpo.reference=live")
        from tqdm import tqdm

        client = self.training_client
        if self.dpo.get("ref_model_path"):
            client = self._build_reference()
        start = time.perf_counter()
        n_pairs = 0
        for split, ds in todo:
            local = {}
            for batch in tqdm(self._eval_loader(ds), desc=f"reference log-probs ({split})",
                              disable=self.rank != 0):
                logps, _ = self._forward_logps(client, batch)
                for k, idx in enumerate(batch["pair_index"][0::2].tolist()):
                    local[idx] = (float(logps[2 * k]), float(logps[2 * k + 1]))
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, local)
            merged = {k: v for part in gathered for k, v in part.items()}
            self.ref_cache.put(split, merged)
            n_pairs += len(merged)
        if self.rank == 0:
            self.ref_cache.save()
            elapsed = time.perf_counter() - start
            print(f"[specs-dpo] reference pass: {n_pairs} pairs in {elapsed:.1f}s "
                  f"({n_pairs / max(elapsed, 1e-9):.2f} pairs/s), cached at {self.ref_cache.path}")
        dist.barrier()

    def _reference_logps(self, split: str, batch: dict) -> torch.Tensor:
        if self.reference_client is not None:
            return self._forward_logps(self.reference_client, batch)[0]
        return self.ref_cache.get(split, batch["pair_index"][0::2].tolist())

    # ------------------------------------------------------------------ state
    def _write_json(self, name: str, payload: dict, directory: str | None = None) -> None:
        directory = directory or self.config.trainer.default_local_dir
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, path)

    def _dpo_state_path(self, step: int) -> str:
        return os.path.join(self.config.trainer.default_local_dir, f"global_step_{step}", "dpo_state.json")

    def _load_dpo_state(self):
        if self.start_step and os.path.exists(self._dpo_state_path(self.start_step)):
            with open(self._dpo_state_path(self.start_step)) as f:
                state = json.load(f)
            self.options.bco_delta = state.get("bco_delta", 0.0)
            self.bco_count = state.get("bco_count", 0)
        else:
            self.bco_count = 0

    def _update_bco_delta(self, stats: dict) -> None:
        """Running mean of the implicit rewards (both sides), as TRL's RunningMoments does for bco_pair."""
        batch_mean = (stats["rewards/chosen"] + stats["rewards/rejected"]) / 2
        n = 2 * stats["pairs"]
        total = self.bco_count + n
        self.options.bco_delta += (batch_mean - self.options.bco_delta) * n / total
        self.bco_count = total

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """Per-pair metrics on the held-out pairs, overall and per data_source (ID and OOD sets separately)."""
        per_source: dict[str, list[dict]] = defaultdict(list)
        for batch in self._eval_loader(self.val_dataset):
            policy, tokens = self._forward_logps(self.training_client, batch)
            ref = self._reference_logps("val", batch)
            stats = pair_statistics(pair_logps(policy, tokens, ref), self.options.beta)
            for k, idx in enumerate(batch["pair_index"][0::2].tolist()):
                source = self.val_dataset.rows[idx]["data_source"]
                per_source[source].append({name: float(v[k]) for name, v in stats.items()})
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, dict(per_source))
        merged: dict[str, list[dict]] = defaultdict(list)
        for part in gathered:
            for source, items in part.items():
                merged[source].extend(items)
        metrics = {}
        everything = [item for items in merged.values() for item in items]
        for scope, items in [("val", everything)] + [(f"val/{s}", merged[s]) for s in sorted(merged)]:
            for name in everything[0]:
                metrics[f"{scope}/{name}"] = sum(i[name] for i in items) / len(items)
        metrics.update(self._preference_gf(merged))
        return metrics

    def _preference_gf(self, merged: dict[str, list[dict]]) -> dict[str, float]:
        """GF from the pair accuracy of each set (cheap, no generation), configured by dpo.gf.*. The baseline
        is the accuracy at the start (0: the policy is the reference), or the validation before training."""
        gf_cfg = self.dpo.get("gf") or {}
        id_sources, ood_sources = list(gf_cfg.get("id_sources") or []), list(gf_cfg.get("ood_sources") or [])
        if not id_sources or not ood_sources:
            return {}
        from specs_verl.metrics import preference_gf

        accuracies = {s: sum(i["rewards/accuracies"] for i in items) / len(items) for s, items in merged.items()}
        if self._validating_baseline:
            self.gf_baseline = accuracies
        result = preference_gf(accuracies, id_sources, ood_sources, baseline=self.gf_baseline or 0.0,
                               beta=float(gf_cfg.get("beta", 2.0)))
        return result.to_metrics("val/gf")

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
            self._validating_baseline = True
            val = self.validate()
            self._validating_baseline = False
            if tracking:
                tracking.log(data=val, step=0)

        step = self.start_step
        if step >= self.total_training_steps:
            if self.rank == 0:
                print(f"[specs-dpo] {self.config.trainer.default_local_dir} already holds step {step} of "
                      f"{self.total_training_steps}: nothing to train")
            return
        steps_per_epoch = len(self.train_loader)
        history = []
        progress = tqdm(total=self.total_training_steps, initial=step, desc="DPO", disable=not is_logging)
        # trainer.total_training_steps, when set, wins over total_epochs (the data is cycled as needed)
        for epoch in itertools.count(step // steps_per_epoch):
            self.train_sampler.set_epoch(epoch)
            for batch in self.train_loader:
                step += 1
                start = time.perf_counter()
                batch["ref_logps"] = self._reference_logps("train", batch)
                td = self._tensordict(batch, global_pairs=self.config.data.train_batch_size)
                tu.assign_non_tensor(td, update_lr_scheduler=True)
                output = self.training_client.train_batch(td)
                elapsed = time.perf_counter() - start
                metrics = {}
                if self.engine.is_mp_src_rank_with_outputs():
                    raw = tu.get(output, "metrics")
                    stats = reduce_metric_sums(raw)
                    self._update_bco_delta(stats)
                    stats.pop("tokens")  # response tokens; throughput counts every processed token
                    tokens = int(batch["input_ids"].offsets()[-1]) * self.dp_size
                    pairs = stats.pop("pairs")
                    metrics = {f"train/{k}": v for k, v in stats.items()}
                    metrics.update({
                        "train/grad_norm": float(raw.get("grad_norm", float("nan"))),
                        "train/lr": float(raw["lr"]) if raw.get("lr") is not None else float("nan"),
                        "perf/tokens_per_s": tokens / elapsed, "perf/pairs_per_s": pairs * self.dp_size / elapsed,
                        "perf/step_time_s": elapsed, "perf/peak_memory_gb": peak_memory_gb(),
                    })
                last = step >= self.total_training_steps
                if self.val_dataset is not None and (last or (cfg.test_freq > 0 and step % cfg.test_freq == 0)):
                    metrics.update(self.validate())
                if tracking:
                    tracking.log(data=metrics, step=step)
                    history.append({"step": step, **metrics})
                progress.update(1)
                if last or (cfg.save_freq > 0 and step % cfg.save_freq == 0):
                    self.ckpt_handler.save_checkpoint(step=step)
                    if self.rank == 0:
                        self._write_json("dpo_state.json",
                                         {"bco_delta": self.options.bco_delta, "bco_count": self.bco_count,
                                          "step": step, "losses": self.terms},
                                         directory=os.path.dirname(self._dpo_state_path(step)))
                        print(f"[specs-dpo] saved checkpoint {os.path.dirname(self._dpo_state_path(step))}",
                              flush=True)
                if last:
                    progress.close()
                    if self.rank == 0:
                        self._finish(step, history)
                    return

    def _finish(self, step: int, history: list[dict]) -> None:
        final = os.path.join(self.config.trainer.default_local_dir, f"global_step_{step}", "huggingface")
        summary = {"final_step": step, "huggingface": final, "history": history}
        self._write_json("dpo_summary.json", summary)
        last = history[-1] if history else {}
        shown = {k: round(v, 4) for k, v in last.items() if k.startswith(("train/rewards", "train/loss", "val/"))}
        print(f"[specs-dpo] done after {step} steps; final metrics {shown}")
        print(f"[specs-dpo] checkpoint for GRPO: actor_rollout_ref.model.path={final}")


def run(config) -> None:
    from verl.utils.distributed import destroy_global_process_group, initialize_global_process_group

    initialize_global_process_group()
    try:
        DPOTrainer(config).fit()
    finally:
        destroy_global_process_group()
