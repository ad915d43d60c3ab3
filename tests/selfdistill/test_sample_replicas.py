"""`sample` over two `hf` rollout replicas started through verl's replica classes on a local Ray cluster.

One cluster and one pool of two replicas serve the whole module (starting them is most of its time). The
reference is the single-process run (`--replicas 1`, no Ray) with the same settings.
"""

import _thread
import json
import os
import re
import signal
import threading
import time

import pandas as pd
import pytest

from specs_verl.selfdistill.sample import SampleOptions, SampleSettings, run_sample
from specs_verl.selfdistill.samples_io import shard_paths

# a lost sample would leave the run waiting: the time limit turns that into a failure
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

N, MAX_NEW, SEED = 2, 8, 3


@pytest.fixture(scope="module")
def data(tiny_data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("replica-data") / "rl.parquet"
    pd.read_parquet(tiny_data_dir / "rl_train.parquet").head(16).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def cluster(tiny_model_dir):
    """A local Ray cluster of this module's own (room for three replicas), stopped at the end."""
    import ray

    from specs_verl.generation.replicas import ReplicaSettings, ray_session

    assert not ray.is_initialized()
    with ray_session(ReplicaSettings(str(tiny_model_dir), replicas=3)) as session:
        assert session.started
        yield
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def pool(cluster, tiny_model_dir):
    from specs_verl.generation.replicas import ReplicaPool, ReplicaSettings

    pool = ReplicaPool.start(ReplicaSettings(str(tiny_model_dir), backend="hf", replicas=2, max_in_flight=2,
                                             response_length=MAX_NEW, threads=1))
    yield pool
    pool.close()


def _settings(model):
    return SampleSettings(model=str(model), backend="hf", n=N, temperature=1.0, top_p=1.0,
                          max_new_tokens=MAX_NEW, seed=SEED, prompt_template="none", instruction=None)


def _opts(model, data, out, shard_size=2):
    return SampleOptions(data=str(data), out=str(out), model_path=str(model), shard_size=shard_size, batch_size=2,
                         device="cpu", threads=1, progress=False)


def _samples(out):
    """(qid, k) -> the record minus nothing: every field a user reads, each key once (asserted)."""
    records = [json.loads(line) for p in shard_paths(out) for line in p.read_text().splitlines()]
    keys = [(r["qid"], r["sample_index"]) for r in records]
    assert len(keys) == len(set(keys)), "a sample was written twice"
    return dict(zip(keys, records))


@pytest.fixture(scope="module")
def reference(tiny_model_dir, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("one-process")
    summary = run_sample(_settings(tiny_model_dir), _opts(tiny_model_dir, data, out))
    assert summary["replicas"] is None and summary["samples_written"] == 16 * N
    return _samples(out)


def _when_first_shard(out, action):
    def watch():
        deadline = time.time() + 120
        while not list(out.glob("shard-*.jsonl")) and time.time() < deadline:
            time.sleep(0.01)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_two_replicas_write_the_samples_one_process_writes(tiny_model_dir, data, cluster, reference, tmp_path, capsys):
    """The command itself: `sample --replicas 2` starts its replicas (on the module's cluster) and stops them."""
    import ray

    from specs_verl.selfdistill.__main__ import main

    assert main(["sample", "--model", str(tiny_model_dir), "--data", str(data), "--out", str(tmp_path),
                 "--backend", "hf", "--n", str(N), "--max-new-tokens", str(MAX_NEW), "--seed", str(SEED),
                 "--prompt-template", "none", "--shard-size", "2", "--batch-size", "2", "--threads", "1",
                 "--no-progress", "--replicas", "2"]) == 0
    assert _samples(tmp_path) == reference
    shares = re.search(r"per replica +hf replica 0: (\d+) \(\d+%\), hf replica 1: (\d+)", capsys.readouterr().out)
    assert shares and all(int(v) > 0 for v in shares.groups()) and sum(map(int, shares.groups())) == 16 * N
    deadline = time.time() + 30  # its replicas are gone (placement groups freed), the cluster stays
    while ray.available_resources().get("GPU") != 3 and time.time() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("GPU") == 3


def test_an_interrupted_run_resumes_to_the_samples_of_an_uninterrupted_one(tiny_model_dir, data, pool, reference,
                                                                           tmp_path):
    watcher = _when_first_shard(tmp_path, _thread.interrupt_main)  # Ctrl-C once the first shard is written
    with pytest.raises(KeyboardInterrupt):
        run_sample(_settings(tiny_model_dir), _opts(tiny_model_dir, data, tmp_path), pool=pool)
        time.sleep(5)  # (the run ended first: the interrupt lands here and the assert below fails)
    watcher.join()
    cut = _samples(tmp_path)
    assert 0 < len(cut) < 16 * N, "the run was not cut in the middle"
    assert all(reference[key] == record for key, record in cut.items())  # complete shards only, right samples

    summary = run_sample(_settings(tiny_model_dir), _opts(tiny_model_dir, data, tmp_path), pool=pool)
    assert summary["already_done"] == len(cut) // N
    assert _samples(tmp_path) == reference


def test_a_replica_that_does_not_start_is_named(cluster, pool, tmp_path):
    from specs_verl.generation.replicas import ReplicaPool, ReplicaSettings, ReplicaStartError

    with pytest.raises(ReplicaStartError, match=r"hf replica 0 of 1 did not start \(.*no-model"):
        ReplicaPool.start(ReplicaSettings(str(tmp_path / "no-model"), backend="hf", replicas=1, threads=1))


def test_a_replica_killed_mid_run_loses_and_duplicates_nothing(tiny_model_dir, data, pool, reference, tmp_path):
    """Runs last in the module: it leaves the pool with one replica."""
    import ray

    pid = ray.get(pool.servers[1].__ray_call__.remote(lambda self: os.getpid()))
    _when_first_shard(tmp_path, lambda: os.kill(pid, signal.SIGKILL))
    # one question per shard: 15 more shards to write once the first is there, time enough for the kill to land
    summary = run_sample(_settings(tiny_model_dir), _opts(tiny_model_dir, data, tmp_path, shard_size=1), pool=pool)
    assert pool.alive == {0}, "replica 1 was not seen dying during the run"
    assert _samples(tmp_path) == reference
    assert summary["replicas"]["hf replica 0"] > summary["replicas"]["hf replica 1"]
