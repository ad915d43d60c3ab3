"""Our DPO trainer (verl engine, cached reference), shared and separate pair packing, against TRL's `DPOTrainer`,
side by side in one run, on CPU.

    python bench/dpo_vs_trl.py [--steps 8] [--batch 8] [--micro 2] [--max-length 1024] [--threads 1] [--json F]

End to end (the headline, `end_to_end_ratio_vs_trl` in --json): pairs over our one-off reference pass plus the
training steps, against TRL's training steps (its reference model runs inside every step). One epoch, as in
the paper, so the reference pass costs about as much as TRL's live reference forwards.

Both trainers get the same `small` tiny Qwen2.5-VL (random weights, built offline), the same 64 image pairs
(`pairs_train.parquet` of `make_tiny_data`), the same max length, global batch (pairs), micro-batch (pairs),
step count, optimizer (AdamW, constant lr, weight decay 0.01, clip 1.0), loss (sigmoid, beta 0.1, no SFT term)
and precision: fp32 parameters AND fp32 compute. verl's FSDP engine autocasts to bf16 unless
`engine.mixed_precision.param_dtype=fp32`, and TRL defaults to `bf16=True`; both are turned off, since
this CPU has no bf16 instructions. Each trainer runs in its own process tree, one after the other, with the
same thread count: ours as one Python process (it starts its one-rank group itself; `--launcher torchrun` adds
torchrun's launcher process), TRL as one Python process.

Measured the same way for both (this bench stamps each trainer's "step N done" output line as it arrives):
- pairs/s over the training steps (the headline): pairs / the wall time from the end of one step to the end of
  the next (data loading, logging and the step); step 1 starts when the reference pass is done (ours) or at
  `on_train_begin` (TRL);
- CPU seconds per pair: the process tree's user + system CPU time over the same intervals. The 2 cores are
  shared with other work, which stretches wall time far more than CPU time, so this is the steadier ratio;
  end to end it adds our reference pass (from its "reference pass starts" line to its "reference pass: N pairs"
  line; `end_to_end_cpu_ratio_vs_trl` in --json);
- step compute pairs/s from each trainer's own step clock, data loading excluded (ours: `perf/step_time_s`;
  TRL: `on_step_begin` -> `on_step_end`, which follow its prefetch of the step's micro-batches);
- peak memory: the peak summed RSS of the process tree sampled every 50 ms with psutil (up to the end of the
  last step, and over the whole run: ours then writes a full checkpoint), the peak summed PSS (shared pages
  split between the processes that map them, sampled once a second), the largest process, and what each trainer reports (ours:
  `perf/peak_memory_gb`, TRL: the process's ru_maxrss; both are ru_maxrss of the training process).
Our one-off reference pass (a forward over all pairs, cached on disk) is reported on its own line; TRL has no
such pass for vision data (it refuses `precompute_ref_log_probs`) and runs its reference model every step.
The load average is printed with every step and for each side.
Sanity: at step 1 the policy equals the reference, so both sigmoid losses must be log 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOG2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------- inputs
def build_inputs(work: Path) -> tuple[Path, Path]:
    from specs_verl.tiny.data import make_tiny_data
    from specs_verl.tiny.model import make_tiny_model

    model = make_tiny_model(work / "small", size="small", seed=0)
    make_tiny_data(work / "data", seed=0)
    return Path(model), work / "data" / "pairs_train.parquet"


def to_trl_dataset(pairs: Path):
    """Our pair rows -> TRL's fully conversational vision format: prompt/chosen/rejected message lists and an
    `images` column of PIL images. Our prompts carry one `<image>` at the start of the user turn; TRL puts the
    images before the text of the first user turn, so removing the placeholder gives the same chat text."""
    import io

    import datasets
    import pandas as pd
    from PIL import Image

    rows = []
    for i, r in enumerate(pd.read_parquet(pairs).to_dict("records")):
        prompt = [dict(m) for m in r["prompt"]]
        if len(r["images"]) != 1 or prompt[0]["role"] != "user" or not prompt[0]["content"].startswith("<image>") \
                or sum(m["content"].count("<image>") for m in prompt) != 1:
            raise ValueError(f"{pairs}: row {i}: this bench expects exactly one <image>, at the start of the first "
                             "user message")
        prompt[0]["content"] = prompt[0]["content"][len("<image>"):]
        rows.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": r["chosen"]}],
                     "rejected": [{"role": "assistant", "content": r["rejected"]}],
                     "images": [Image.open(io.BytesIO(r["images"][0]["bytes"])).convert("RGB")]})
    return datasets.Dataset.from_list(rows)


# ---------------------------------------------------------------------------------------------- TRL worker
def trl_worker(args) -> None:
    """Runs in its own process: TRL's DPOTrainer with the settings of `args`; writes a JSON result."""
    import resource

    import torch
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    dataset = to_trl_dataset(Path(args.data))
    times = {"step_begin": [], "step_end": [], "train_begin": None}
    logged = []

    class Timer(TrainerCallback):
        def on_train_begin(self, *a, **k):
            times["train_begin"] = time.perf_counter()
            print("[trl] training starts", flush=True)

        def on_step_begin(self, *a, **k):
            times["step_begin"].append(time.perf_counter())

        def on_step_end(self, *a, **k):
            times["step_end"].append(time.perf_counter())
            print(f"[trl] step {len(times['step_end'])} done", flush=True)

        def on_log(self, _args, state, control, logs=None, **k):
            if logs:
                logged.append({"step": state.global_step, **logs})

    config = DPOConfig(
        output_dir=args.out, per_device_train_batch_size=args.micro,
        gradient_accumulation_steps=args.batch // args.micro, max_steps=args.steps,
        learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.01,
        adam_beta1=0.9, adam_beta2=0.999, max_grad_norm=1.0,
        bf16=False, fp16=False, use_cpu=True, model_init_kwargs={"dtype": "float32", "attn_implementation": "sdpa"},
        max_length=args.max_length, loss_type=["sigmoid"], beta=0.1,
        logging_steps=1, save_strategy="no", report_to=[], seed=1, data_seed=1,
        dataloader_num_workers=0, gradient_checkpointing=False, disable_tqdm=True,
    )
    trainer = DPOTrainer(model=args.model, args=config, train_dataset=dataset, callbacks=[Timer()])
    trainer.train()
    result = {
        "times": times, "logs": logged,
        "ru_maxrss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "params": sum(p.numel() for p in trainer.model.parameters()),
        "dtype": str(next(trainer.model.parameters()).dtype),
    }
    tmp = args.result + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, args.result)


# ---------------------------------------------------------------------------------------------- running
class TreeSampler(threading.Thread):
    """Peak summed RSS of a process and all its descendants (and each one's own peak), sampled every `period` s.
    Summed RSS counts a shared library page once per process that maps it (torchrun's launcher and its worker
    both map libtorch), so the peak summed PSS, which splits shared pages between their users, is kept too."""

    def __init__(self, pid: int, period: float = 0.05):
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.period = period
        self.peak = 0
        self.peak_pss = 0
        self.peak_marked: int | None = None  # the peak when `mark()` was called (end of the last step)
        self.per_process: dict[int, tuple[str, int]] = {}  # pid -> (short command line, peak RSS)
        self._halt = threading.Event()

    def processes(self) -> list:
        import psutil

        try:
            return [self.root] + self.root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """user + system CPU time of the live process tree so far."""
        import psutil

        total = 0.0
        for p in self.processes():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def run(self):
        import psutil

        tick = 0
        while not self._halt.is_set():
            procs = self.processes()
            if not procs:
                break
            # PSS reads /proc/PID/smaps_rollup, which walks the page tables under the process's mmap lock:
            # every 20th sample only (once a second), so the sampling does not slow the trainer it measures
            with_pss = tick % 20 == 0
            tick += 1
            total = total_pss = 0
            for p in procs:
                try:
                    info = p.memory_full_info() if with_pss else p.memory_info()
                    if p.pid not in self.per_process:
                        self.per_process[p.pid] = (" ".join(p.cmdline()[:4])[-70:], 0)
                except psutil.NoSuchProcess:
                    continue
                rss = info.rss
                total += rss
                total_pss += info.pss if with_pss else 0
                name, peak = self.per_process[p.pid]
                self.per_process[p.pid] = (name, max(peak, rss))
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, total_pss)
            self._halt.wait(self.period)

    def mark(self):
        self.peak_marked = self.peak

    def stop(self):
        self._halt.set()
        self.join()


def run_side(name: str, cmd: list[str], env: dict, log_path: Path, start_line: re.Pattern, step_line: re.Pattern,
             steps: int, timeout: float, ref_start_line: re.Pattern | None = None) -> dict:
    """Run one trainer in its own process tree. Each output line that marks the start of training or the end of
    a step is stamped here, with the wall clock and the tree's CPU time, the same way for both trainers."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                bufsize=1, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        marks: dict[str, tuple[float, float]] = {}  # "start" / "stepN" -> (wall clock, tree CPU seconds)
        try:
            for line in proc.stdout:
                now = time.perf_counter()
                log.write(line)
                if ref_start_line is not None and ref_start_line.search(line):
                    marks["ref_start"] = (now, sampler.cpu_seconds())
                if start_line.search(line):
                    marks["start"] = (now, sampler.cpu_seconds())
                    if line.startswith("[specs-dpo]"):
                        print(f"  {line.strip()}", flush=True)
                m = step_line.search(line)
                if m:
                    k = int(m.group(1))
                    marks[f"step{k}"] = (now, sampler.cpu_seconds())
                    print(f"  {name}: step {k}/{steps} at {now - started:.0f}s, load {os.getloadavg()[0]:.1f}",
                          flush=True)
                    if k == steps:
                        sampler.mark()
                if now - started > timeout:
                    raise TimeoutError(f"{name} ran past {timeout:.0f}s; see {log_path}")
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)  # our own session: the launcher and its workers
                proc.wait()
            sampler.stop()
    if rc != 0:
        tail = log_path.read_text()[-4000:]
        raise RuntimeError(f"{name} exited {rc}; the end of {log_path}:\n{tail}")
    missing = [k for k in ["start"] + [f"step{k}" for k in range(1, steps + 1)] if k not in marks]
    if missing:
        raise RuntimeError(f"{name}: no output line for {missing}; see {log_path}")
    ends = [marks[f"step{k}"] for k in range(1, steps + 1)]
    begins = [marks["start"]] + ends[:-1]
    ref = [marks["start"][i] - marks["ref_start"][i] for i in (0, 1)] if "ref_start" in marks else [0.0, 0.0]
    return {"reference_wall_s": ref[0], "reference_cpu_s": ref[1],"wall_s": time.perf_counter() - started, "peak_tree_gb": sampler.peak / 1024**3,
            "peak_tree_pss_gb": sampler.peak_pss / 1024**3,
            "peak_tree_steps_gb": (sampler.peak_marked or sampler.peak) / 1024**3,
            "per_process_gb": {f"{pid} {n}": peak / 1024**3 for pid, (n, peak) in sampler.per_process.items()},
            "wall_intervals": [e[0] - b[0] for b, e in zip(begins, ends)],
            "cpu_intervals": [e[1] - b[1] for b, e in zip(begins, ends)],
            "load_before": load_before, "load_after": os.getloadavg()}


def run_ours(args, model: Path, pairs: Path, work: Path, env: dict, packing: str) -> dict:
    out = work / f"ours_{packing}"
    shutil.rmtree(out, ignore_errors=True)
    if args.launcher == "torchrun":
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1"]
    else:  # one plain process: the trainer starts its one-rank group itself, no launcher process
        launch = [sys.executable]
    cmd = [*launch, "-m", "specs_verl.dpo", f"data.train_files={pairs}", "data.val_files=null", f"model.path={model}",
           f"dpo.pair_packing={packing}",
           f"data.train_batch_size={args.batch}", f"data.micro_batch_size_per_gpu={args.micro}",
           f"data.max_length={args.max_length}", f"optim.lr={args.lr}", "optim.weight_decay=0.01",
           "optim.clip_grad=1.0", f"trainer.total_training_steps={args.steps}", f"trainer.default_local_dir={out}",
           "dpo.sft_weight=0", "dpo.loss=sigmoid", "dpo.beta=0.1",
           # fp32 compute: verl's FSDP engine would otherwise autocast to bf16 (engine.dtype=bfloat16)
           "+engine.mixed_precision.param_dtype=fp32", *args.ours_extra]
    log = work / f"ours_{packing}.log"
    side = run_side(f"ours {packing}", cmd, env, log, re.compile(r"^\[specs-dpo\] reference pass: \d+ pairs in"),
                    re.compile(r"step:(\d+) - train/"), args.steps, args.timeout,
                    ref_start_line=re.compile(r"^\[specs-dpo\] reference pass starts"))
    with open(out / "dpo_summary.json") as f:
        history = json.load(f)["history"]
    m = re.search(r"reference pass: (\d+) pairs in ([\d.]+)s", log.read_text())
    side.update(
        reference_pairs=int(m.group(1)), reference_s=float(m.group(2)),
        step_times=[h["perf/step_time_s"] for h in history],
        reported_peak_gb=max(h["perf/peak_memory_gb"] for h in history),
        loss=[h["train/loss"] for h in history],
        logps_chosen1=history[0]["train/logps/chosen"], grad_norm1=history[0]["train/grad_norm"],
    )
    return side


def run_trl(args, model: Path, pairs: Path, work: Path, env: dict) -> dict:
    out = work / "trl"
    shutil.rmtree(out, ignore_errors=True)
    result = work / "trl_result.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--trl-worker", "--model", str(model), "--data", str(pairs),
           "--out", str(out), "--result", str(result), "--steps", str(args.steps), "--batch", str(args.batch),
           "--micro", str(args.micro), "--max-length", str(args.max_length), "--lr", str(args.lr),
           "--threads", str(args.threads)]
    side = run_side("trl", cmd, env, work / "trl.log", re.compile(r"^\[trl\] training starts"),
                    re.compile(r"^\[trl\] step (\d+) done"), args.steps, args.timeout)
    with open(result) as f:
        res = json.load(f)
    t = res["times"]
    losses = [entry for entry in res["logs"] if "loss" in entry]
    side.update(
        step_times=[e - b for b, e in zip(t["step_begin"], t["step_end"])],
        reported_peak_gb=res["ru_maxrss_gb"], loss=[entry["loss"] for entry in losses],
        logps_chosen1=losses[0]["logps/chosen"], grad_norm1=losses[0]["grad_norm"],
        params=res["params"], dtype=res["dtype"],
    )
    return side


# ---------------------------------------------------------------------------------------------- report
def summarise(side: dict, args) -> dict:
    compute, wall, cpu = side["step_times"], side["wall_intervals"], side["cpu_intervals"]
    pairs = args.batch * args.steps
    biggest = max(side["per_process_gb"].values())
    end_to_end = sum(wall) + side.get("reference_s", 0.0)  # ours: + the one-off reference pass
    end_to_end_cpu = sum(cpu) + side["reference_cpu_s"]
    return {
        "end_to_end_s": end_to_end, "end_to_end_pairs_s": pairs / end_to_end, "reference_s": side.get("reference_s"),
        "reference_pairs": side.get("reference_pairs"), "process_s": side["wall_s"],
        "reference_cpu_s": side["reference_cpu_s"], "end_to_end_cpu_s": end_to_end_cpu,
        "end_to_end_cpu_s_per_pair": end_to_end_cpu / pairs,
        "wall_pairs_s": pairs / sum(wall), "compute_pairs_s": pairs / sum(compute),
        "median_compute_pairs_s": args.batch / statistics.median(compute), "cpu_s_per_pair": sum(cpu) / pairs,
        "steps_s": compute, "wall_steps_s": wall, "cpu_steps_s": cpu,
        "peak_gb": side["peak_tree_steps_gb"], "peak_run_gb": side["peak_tree_gb"],
        "peak_pss_gb": side["peak_tree_pss_gb"], "largest_process_gb": biggest,
        "per_process_gb": side["per_process_gb"], "reported_gb": side["reported_peak_gb"],
        "loss": side["loss"], "logps_chosen1": side["logps_chosen1"], "grad_norm1": side["grad_norm1"],
        "load": [side["load_before"], side["load_after"]],
    }


def table(sides: dict[str, dict], args) -> list[str]:
    """One column per trainer, the last two columns: ours shared over TRL, ours shared over ours separate."""
    names = list(sides)
    shared, separate, trl = sides["ours shared"], sides["ours separate"], sides["TRL"]

    def row(label, key, fmt, ratio=True, invert=False):
        cells = " | ".join(fmt.format(sides[n][key]) for n in names)
        def r(a, b):
            return f"{(b / a if invert else a / b):.2f}x" if ratio and a and b else ""
        return f"| {label} | {cells} | {r(shared[key], trl[key])} | {r(shared[key], separate[key])} |"

    ref = " | ".join(f"{sides[n]['reference_s']:.1f} s ({sides[n]['reference_pairs']} pairs)" if sides[n]["reference_s"]
                     else "none (live, every step)"
                     for n in names)
    return [
        "| | ours, shared pairs | ours, separate pairs | TRL `DPOTrainer` | shared vs TRL | shared vs separate |",
        "|---|---:|---:|---:|---:|---:|",
        row("pairs/s end to end (reference pass + training steps)", "end_to_end_pairs_s", "{:.2f}"),
        row("end to end, s", "end_to_end_s", "{:.1f}", invert=True),
        row("whole process, s (start, imports, model load, final checkpoint included)", "process_s", "{:.1f}",
            invert=True),
        f"| one-off reference pass (pairs it scores; step 1 scores its own) | {ref} | | |",
        row("pairs/s over the training steps (wall, step end to step end)", "wall_pairs_s", "{:.2f}"),
        row("pairs/s, step compute only (each trainer's own step clock)", "compute_pairs_s", "{:.2f}"),
        row("CPU seconds per pair over the training steps (less is better)", "cpu_s_per_pair", "{:.2f}",
            invert=True),
        row("CPU seconds per pair end to end (reference pass + steps; less is better)",
            "end_to_end_cpu_s_per_pair", "{:.3f}", invert=True),
        row("peak RSS of the process tree up to the last step, GiB", "peak_gb", "{:.2f}"),
        row("peak RSS of the process tree, whole run, GiB", "peak_run_gb", "{:.2f}"),
        row("peak PSS of the process tree, whole run, GiB", "peak_pss_gb", "{:.2f}"),
        row("peak memory the trainer reports (ru_maxrss), GiB", "reported_gb", "{:.2f}"),
        f"| step-1 loss (policy = reference: log 2 = 0.6931) | "
        + " | ".join(f"{sides[n]['loss'][0]:.6f}" for n in names) + " | | |",
        f"| step-{args.steps} loss | " + " | ".join(f"{sides[n]['loss'][-1]:.4f}" for n in names) + " | | |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per trainer (default 8 = one epoch)")
    parser.add_argument("--batch", type=int, default=8, help="global batch in pairs (default 8)")
    parser.add_argument("--micro", type=int, default=2, help="micro-batch in pairs (default 2)")
    parser.add_argument("--max-length", type=int, default=1024, help="max sequence length in tokens (default 1024)")
    parser.add_argument("--lr", type=float, default=1e-5, help="learning rate, constant (default 1e-5)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch/OpenMP threads per trainer process (default 1: 2 shared cores)")
    parser.add_argument("--first", default="ours", choices=["ours", "trl"],
                        help="which trainer runs first (default ours)")
    parser.add_argument("--launcher", default="python", choices=["torchrun", "python"],
                        help="how our trainer starts: one plain python process (default; it needs no launcher) or\n"
                             "torchrun --nproc-per-node=1 (its launcher process imports torch too)")
    parser.add_argument("--work", default=None, help="working directory (default: a temporary one, removed)")
    parser.add_argument("--timeout", type=float, default=420, help="seconds allowed per trainer (default 420)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--ours-extra", nargs="*", default=[], help="extra hydra overrides for our trainer")
    # internal: the TRL side, run as its own process by the bench
    parser.add_argument("--trl-worker", action="store_true", help="(internal) run the TRL side only")
    parser.add_argument("--model", help="(internal, with --trl-worker) model directory")
    parser.add_argument("--data", help="(internal, with --trl-worker) pairs parquet")
    parser.add_argument("--out", help="(internal, with --trl-worker) TRL output directory")
    parser.add_argument("--result", help="(internal, with --trl-worker) where to write the JSON result")
    args = parser.parse_args(argv)
    if args.trl_worker:
        trl_worker(args)
        return 0
    if args.batch % args.micro:
        parser.error(f"--batch {args.batch} must be a multiple of --micro {args.micro}")

    from specs_verl.platform import cpu_env

    keep = args.work is not None
    work = Path(args.work or tempfile.mkdtemp(prefix="dpo_vs_trl_")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "home").mkdir(exist_ok=True)
    env = {**os.environ, **cpu_env(), "PYTHONUNBUFFERED": "1", "HOME": str(work / "home"),
           "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads), "HF_DATASETS_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(work / "hf_datasets")}
    t0 = time.perf_counter()
    print(f"[dpo-vs-trl] work dir {work}; {os.cpu_count()} CPUs, load average {os.getloadavg()}; "
          f"{args.threads} thread(s) per trainer; fp32 parameters and fp32 compute on both sides", flush=True)
    model, pairs = build_inputs(work)
    runs = {}
    order = ["ours shared", "ours separate", "TRL"] if args.first == "ours" else ["TRL", "ours shared", "ours separate"]
    for name in order:
        print(f"[dpo-vs-trl] running {name} ...", flush=True)
        if name == "TRL":
            runs[name] = run_trl(args, model, pairs, work, env)
        else:
            runs[name] = run_ours(args, model, pairs, work, env, name.split()[1])
        print(f"[dpo-vs-trl] {name} finished in {runs[name]['wall_s']:.0f}s; load average "
              f"{runs[name]['load_before']} before, {runs[name]['load_after']} after", flush=True)
    names = ["ours shared", "ours separate", "TRL"]
    sides = {n: summarise(runs[n], args) for n in names}
    shared, trl = sides["ours shared"], sides["TRL"]

    print(f"\nsmall tiny Qwen2.5-VL ({runs['TRL']['params'] / 1e6:.1f} M parameters, {runs['TRL']['dtype']} "
          f"parameters and compute on all sides), {args.batch * args.steps} image pairs, global batch {args.batch} "
          f"pairs, micro-batch {args.micro} pairs, {args.steps} steps (one epoch), max length {args.max_length}, "
          f"1 process each, {args.threads} thread(s), ours launched with {args.launcher}; load average (1 min) "
          + ", ".join(f"{n} {sides[n]['load'][0][0]:.1f} -> {sides[n]['load'][1][0]:.1f}" for n in names)
          + f" on {os.cpu_count()} cores\n")
    lines = table(sides, args)
    print("\n".join(lines))
    for label, key in (("compute", "steps_s"), ("wall", "wall_steps_s"), ("CPU", "cpu_steps_s")):
        print(f"\nstep {label} s:")
        for n in names:
            print(f"  {n:14s}" + " ".join(f"{s:6.2f}" for s in sides[n][key]))
    print("\npeak RSS per process, GiB:")
    for n in names:
        for proc, gb in sides[n]["per_process_gb"].items():
            print(f"  {n:14s} {gb:5.2f}  {proc}")
    ok = all(abs(sides[n]["loss"][0] - LOG2) < 1e-4 for n in names)
    first_losses = ", ".join(f"{n} {sides[n]['loss'][0]:.6f}" for n in names)
    drift = max(abs(a - b) for a, b in zip(shared["loss"], trl["loss"]))
    layouts = max(abs(a - b) for a, b in zip(shared["loss"], sides["ours separate"]["loss"]))
    print(f"\nsanity: step-1 loss {first_losses}"
          f", log 2 = {LOG2:.6f}: {'all log 2' if ok else 'NOT log 2'}; largest loss difference over the "
          f"{args.steps} steps: shared vs TRL {drift:.1e}, shared vs separate {layouts:.1e}; step-1 grad norm "
          f"shared {shared['grad_norm1']:.3f}, TRL {trl['grad_norm1']:.3f}")
    e2e = shared["end_to_end_pairs_s"] / trl["end_to_end_pairs_s"]
    rss = shared["peak_gb"] / trl["peak_gb"]
    print(f"end to end in CPU seconds (steadier than wall time on shared cores): "
          f"{trl['end_to_end_cpu_s'] / shared['end_to_end_cpu_s']:.2f}x TRL "
          f"({shared['end_to_end_cpu_s']:.1f} vs {trl['end_to_end_cpu_s']:.1f} s)")
    print(f"target (end to end >= 1.5x TRL at <= 1.05x TRL's tree memory): {e2e:.2f}x end to end, "
          f"{shared['wall_pairs_s'] / trl['wall_pairs_s']:.2f}x over the steps; peak tree RSS {rss:.2f}x "
          f"({shared['peak_gb']:.2f} vs {trl['peak_gb']:.2f} GiB): {'met' if e2e >= 1.5 and rss <= 1.05 else 'NOT met'}")
    print(f"load average at the end {tuple(round(x, 2) for x in os.getloadavg())}; "
          f"bench wall time {time.perf_counter() - t0:.0f}s")
    if args.json:
        payload = {"end_to_end_ratio_vs_trl": e2e, "tree_rss_ratio_vs_trl": rss,
                   "end_to_end_cpu_ratio_vs_trl": trl["end_to_end_cpu_s"] / shared["end_to_end_cpu_s"],
                   "end_to_end_ratio_shared_vs_separate":
                       shared["end_to_end_pairs_s"] / sides["ours separate"]["end_to_end_pairs_s"],
                   "sides": sides, "table": lines, "args": vars(args)}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, args.json)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
