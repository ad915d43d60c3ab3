"""Self-distillation throughput: `sample` with the hf backend on CPU, `pair`, and the share of time outside generation.

    python bench/selfdistill.py [--questions 16] [--n 4] [--max-new-tokens 64] [--threads 1]

1. `sample` (the real command's code) with the `hf` backend on the `small` tiny Qwen2.5-VL (~15 M parameters,
   random weights, built offline) over the tiny image questions: samples/s and tokens/s of generation, and the
   time the command spends outside generation (data, resume scan, shard writes; model loading is shown apart).
2. `pair` (judge off) over realistic responses, since a random model's text never grades correct: for every
   question, n "zero" and n "base" responses built from the question's reference reasoning, padded to the
   length of the generated responses (or `--pair-chars`), some with wrong answers; replicated to `--pair-scale` times the questions
   for a stable rate. Reports pairs/s and samples/s through grading.
3. The share: (pairing + bookkeeping per sample) / (generation per sample). Target: under 10 %.
   Pessimistic here: a 15 M-parameter model generates far faster per token than a 7B one, while grading costs the
   same per response of a given length.
4. With vLLM and a GPU: our `vllm` backend against vLLM's own `LLM.generate` on the same prompts, with a
   random-weight model of the Qwen2.5-VL-7B shape (`load_format=dummy`). Skipped (and said so) elsewhere.
5. Replicas (`--replicas 2`, 0 to skip): `sample` over 1 and then 2 `hf` rollout replicas (verl's replica classes
   on a local Ray cluster, one torch thread each), samples/s of generation (start-up apart), the speed-up and the
   scaling efficiency e = rate(R) / (R x rate(1)); then what a node of 8 GPUs gives by formula (printed with its
   assumptions).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path


def build_inputs(work: Path, questions: int) -> tuple[Path, Path]:
    import pandas as pd

    from specs_verl.tiny.data import make_tiny_data
    from specs_verl.tiny.model import make_tiny_model

    model = make_tiny_model(work / "small", size="small", seed=0)
    make_tiny_data(work / "data", seed=0, n_train=questions, n_val=4)
    data = work / "data" / "rl_train.parquet"
    assert len(pd.read_parquet(data)) == questions
    return model, data


def bench_sample(model: Path, data: Path, out: Path, args) -> dict:
    from specs_verl.generation import load_instruction
    from specs_verl.selfdistill.sample import SampleOptions, SampleSettings, run_sample

    settings = SampleSettings(model=str(model), backend="hf", n=args.n, temperature=1.0, top_p=1.0,
                              max_new_tokens=args.max_new_tokens, seed=0, prompt_template="specs",
                              instruction=load_instruction("specs"))
    opts = SampleOptions(data=str(data), out=str(out), model_path=str(model), shard_size=args.shard_size,
                         batch_size=args.batch_size, device="cpu", threads=args.threads, progress=True)
    return run_sample(settings, opts)


def realistic_pools(data: Path, work: Path, n: int, scale: int, chars: int) -> tuple[Path, Path, Path]:
    """A replicated RL file and two sample pools of responses shaped like real zero / base model outputs."""
    import pandas as pd

    from specs_verl.tiny.data import formatted_answer, plain_answer

    rng = random.Random(0)
    rows = pd.read_parquet(data).to_dict("records")
    big = []
    for copy in range(scale):
        for r in rows:
            big.append({**r, "extra_info": {**r["extra_info"], "qid": f"{r['extra_info']['qid']}-{copy}"}})
    pd.DataFrame(big).to_parquet(work / "rl_big.parquet")
    filler = "Let me look at each shape in turn and keep a running count. "
    with open(work / "zero.jsonl", "w") as z, open(work / "base.jsonl", "w") as b:
        for r in big:
            qid, truth = r["extra_info"]["qid"], r["reward_model"]["ground_truth"]
            reasoning = (filler * (chars // len(filler) + 1))[:max(0, chars - 80)] + r["extra_info"]["reasoning"]
            for k in range(n):
                answer = truth if rng.random() < 0.8 else str(int(truth) + 1)
                z.write(json.dumps({"qid": qid, "sample_index": k, "text": formatted_answer(reasoning, answer),
                                    "model": "zero"}) + "\n")
                answer = truth if rng.random() < 0.5 else str(int(truth) + 1)
                text = plain_answer(reasoning, answer, rng) if rng.random() < 0.6 else formatted_answer(reasoning,
                                                                                                          answer)
                b.write(json.dumps({"qid": qid, "sample_index": k, "text": text, "model": "base"}) + "\n")
    return work / "rl_big.parquet", work / "zero.jsonl", work / "base.jsonl"


def bench_pair(data: Path, zero: Path, base: Path, out: Path) -> dict:
    from specs_verl.selfdistill.pair_command import PairOptions, run_pair
    from specs_verl.selfdistill.pair_builder import PairConfig

    t0 = time.perf_counter()
    report = run_pair(PairConfig(), PairOptions(chosen=[str(zero)], rejected=[str(base)], data=str(data),
                                                out=str(out), prompt_template="specs", progress=True))
    report["wall"] = time.perf_counter() - t0
    return report


def bench_vllm(model: Path, data: Path, work: Path, args) -> str:
    """Our vllm backend vs vLLM's own LLM.generate, same engine, same prompts (GPU machines only)."""
    import importlib.util

    import torch

    if importlib.util.find_spec("vllm") is None or not torch.cuda.is_available():
        return "vllm: skipped (needs vLLM and a CUDA GPU; neither is here)"
    import shutil

    from vllm import SamplingParams

    from specs_verl.generation import load_backend, load_rl_requests
    from specs_verl.generation.vllm_backend import vllm_inputs

    # the Qwen2.5-VL-7B-Instruct shape, random weights (vLLM's dummy loader), the tiny tokenizer and processor
    shape = work / "qwen25vl7b-shape"
    shutil.copytree(model, shape, dirs_exist_ok=True)
    cfg = json.loads((shape / "config.json").read_text())
    cfg["text_config"].update(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                              num_attention_heads=28, num_key_value_heads=4, max_window_layers=28)
    cfg["text_config"]["rope_parameters"]["mrope_section"] = [16, 24, 24]
    cfg["vision_config"].update(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16,
                                out_hidden_size=3584, fullatt_block_indexes=[7, 15, 23, 31])
    (shape / "config.json").write_text(json.dumps(cfg))
    for f in shape.glob("*.safetensors"):
        f.unlink()
    requests = load_rl_requests(data)[:args.vllm_questions]
    backend = load_backend("vllm", shape, engine_kwargs={"load_format": "dummy"})
    params = dict(n=args.n, temperature=1.0, max_tokens=args.vllm_max_tokens)
    backend.llm.generate(vllm_inputs(backend.renderer, requests[:4]), SamplingParams(**params), use_tqdm=False)
    t0 = time.perf_counter()
    raw = backend.llm.generate(vllm_inputs(backend.renderer, requests), SamplingParams(**params), use_tqdm=False)
    t_raw = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = backend.generate(requests, n=args.n, temperature=1.0, max_new_tokens=args.vllm_max_tokens, seed=0,
                            progress=lambda k: None)
    t_ours = time.perf_counter() - t0
    tok_raw = sum(len(c.token_ids) for o in raw for c in o.outputs)
    tok_ours = sum(s.n_tokens for r in ours for s in r)
    n = len(requests) * args.n
    return (f"vllm (random Qwen2.5-VL-7B shape, {len(requests)} prompts x {args.n}): vLLM LLM.generate "
            f"{n / t_raw:.1f} samples/s, {tok_raw / t_raw:.0f} tok/s; our backend {n / t_ours:.1f} samples/s, "
            f"{tok_ours / t_ours:.0f} tok/s (ratio {(tok_ours / t_ours) / (tok_raw / t_raw):.2f})")


def bench_replicas(model: Path, data: Path, work: Path, args) -> list[str]:
    """`sample` over 1..R hf replicas on one local Ray cluster; the 8-GPU figure by formula."""
    from specs_verl.generation.replicas import ReplicaPool, ReplicaSettings, ray_session
    from specs_verl.selfdistill.sample import SampleOptions, SampleSettings, run_sample

    settings = SampleSettings(model=str(model), backend="hf", n=args.n, temperature=1.0, top_p=1.0,
                              max_new_tokens=args.max_new_tokens, seed=0, prompt_template="none", instruction=None)
    rates, lines = {}, []
    with ray_session(ReplicaSettings(str(model), replicas=args.replicas)):
        for r in sorted({1, args.replicas}):
            pool = ReplicaPool.start(ReplicaSettings(str(model), replicas=r, max_in_flight=args.batch_size,
                                                     response_length=args.max_new_tokens, threads=1))
            try:  # best of --repeats runs (fresh output each): the machine's other load only slows a run down
                runs = [run_sample(settings, SampleOptions(
                    data=str(data), out=str(work / f"replicas{r}-{k}"), model_path=str(model),
                    shard_size=args.shard_size, batch_size=args.batch_size, progress=False), pool=pool)
                    for k in range(max(1, args.repeats))]
            finally:
                pool.close()
            s = max(runs, key=lambda run: run["samples_written"] / run["generation_seconds"])
            rates[r] = s["samples_written"] / s["generation_seconds"]
            lines.append(f"  {r} hf replica(s): {rates[r]:.2f} samples/s, "
                         f"{s['generated_tokens'] / s['generation_seconds']:.0f} tokens/s (start-up "
                         f"{pool.load_seconds:.1f} s; share {s['replicas']})")
    r = args.replicas
    e = rates[r] / (r * rates[1]) if r > 1 else 1.0
    lines.append(f"  (this machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end: CPU "
                 "replicas share the cores with the driver and with whatever else runs)")
    lines.append(f"  speed-up {rates[r] / rates[1]:.2f}x with {r} replicas, efficiency e = {e:.2f}")
    lines.append("  8 GPUs/node, formula: samples/s(node) = (8 / tp) x r1 x e, r1 = one replica's samples/s on one "
                 "GPU tp group (bench 4 measures it for vLLM), for N nodes x N. Assumes: replicas are independent "
                 "(each its own GPUs, no shared bottleneck but the driver), the driver's Ray round trip (~1 ms) is "
                 "small next to a sample's generation (seconds for a 7B model), requests keep every replica busy "
                 "(in flight per replica >= its batch), and e is at least the CPU figure above (CPU replicas "
                 "share cores and memory bandwidth, GPU replicas do not).")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=16, help="questions sampled (default 16)")
    p.add_argument("--n", type=int, default=4, help="samples per question (default 4)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="tokens per sample (default 64)")
    p.add_argument("--batch-size", type=int, default=16, help="hf rows per forward (default 16)")
    p.add_argument("--shard-size", type=int, default=8, help="questions per shard (default 8)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--pair-scale", type=int, default=20, help="copies of the questions for pairing (default 20)")
    p.add_argument("--pair-chars", type=int, default=0,
                   help="length of the pairing responses (default 0: the mean length of the generated samples)")
    p.add_argument("--vllm-questions", type=int, default=256, help="vllm: prompts (default 256)")
    p.add_argument("--vllm-max-tokens", type=int, default=512, help="vllm: tokens per sample (default 512)")
    p.add_argument("--replicas", type=int, default=2, help="hf replicas to compare with one (default 2; 0: skip)")
    p.add_argument("--only-replicas", action="store_true", help="run part 5 only")
    p.add_argument("--repeats", type=int, default=2, help="part 5: runs per replica count, the best counts (default 2)")
    p.add_argument("--workdir", default=None, help="keep the files here (default: a temporary directory)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        model, data = build_inputs(work, args.questions)
        if args.only_replicas:
            print("\n".join(bench_replicas(model, data, work, args)))
            return

        s = bench_sample(model, data, work / "samples", args)
        samples = s["samples_written"]
        gen = s["generation_seconds"]
        bookkeeping = s["seconds"] - gen - s["load_seconds"]
        texts = [json.loads(line)["text"] for f in sorted((work / "samples").glob("shard-*.jsonl"))
                 for line in f.read_text().splitlines()]
        chars = args.pair_chars or int(sum(map(len, texts)) / max(1, len(texts)))

        data_big, zero, base = realistic_pools(data, work, args.n, args.pair_scale, chars)
        r = bench_pair(data_big, zero, base, work / "pairs.parquet")
        pool = r["stages"]["all"]["chosen_samples"] + r["stages"]["all"]["rejected_samples"]
        pair_seconds = r["wall"]

        gen_per_sample = gen / samples
        pair_per_sample = pair_seconds / pool
        book_per_sample = bookkeeping / samples
        share = (pair_per_sample + book_per_sample) / gen_per_sample
        print()
        print(f"hf backend, small tiny model, CPU x{args.threads} thread(s): {samples} samples of <= "
              f"{args.max_new_tokens} tokens ({args.questions} questions x {args.n}), batch {args.batch_size}")
        print(f"  generation      {samples / gen:.2f} samples/s, {s['generated_tokens'] / gen:.0f} tokens/s "
              f"({gen:.1f} s; model load {s['load_seconds']:.1f} s)")
        print(f"  bookkeeping     {bookkeeping:.2f} s in `sample` outside generation and model loading "
              f"({100 * bookkeeping / gen:.1f} % of generation)")
        print(f"pair (judge off): {pool} samples ({r['stages']['all']['questions']} questions, responses of ~{chars} "
              f"chars), {r['pairs']} pairs in {pair_seconds:.2f} s")
        print(f"  throughput      {r['pairs'] / pair_seconds:.1f} pairs/s, {pool / pair_seconds:.1f} samples/s "
              f"(grading and pairing {r['seconds']['grade_and_pair']:.2f} s, read {r['seconds']['read']:.2f} s, "
              f"write {r['seconds']['write']:.2f} s)")
        print(f"time outside generation, per generated sample: pairing {1000 * pair_per_sample:.2f} ms + "
              f"bookkeeping {1000 * book_per_sample:.2f} ms vs generation {1000 * gen_per_sample:.1f} ms "
              f"-> {100 * share:.1f} % of generation time (target < 10 %)")
        print(bench_vllm(model, data, work, args))
        if args.replicas:
            print(f"replicas (sample over verl's rollout replicas on a local Ray cluster, {samples} samples):")
            print("\n".join(bench_replicas(model, data, work, args)))


if __name__ == "__main__":
    main()
