"""Registration of the `hf` rollout: light at import, in both of verl's registries, and nothing else changed."""

import importlib
import inspect
import json
import logging
import subprocess
import sys
import textwrap

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from specs_verl.rollout.registration import NAME, PostImportHooks, register_adapter, register_replica
from tests.commands import PYTHON, REPO


def test_importing_the_package_imports_neither_verl_nor_torch_ray_or_transformers():
    code = textwrap.dedent("""
        import json, sys
        import specs_verl.rollout as r
        heavy = [m for m in ("verl", "torch", "ray", "transformers") if m in sys.modules]
        print(json.dumps({"heavy": heavy, "pending": r.registration.hooks.pending}))
    """)
    out = subprocess.run([PYTHON, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["pending"] == ["verl.utils.tensordict_utils", "verl.workers.rollout.base",
                                 "verl.workers.rollout.replica"]


def test_hf_is_in_both_of_verls_registries_and_the_others_are_untouched():
    import verl  # noqa: F401  (loads the plugin)
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY, get_rollout_class
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from specs_verl.rollout.adapter import HFServerAdapter
    from specs_verl.rollout.registration import hooks
    from specs_verl.rollout.replica import HFReplica

    assert RolloutReplicaRegistry.get(NAME) is HFReplica
    assert get_rollout_class(NAME, "async") is HFServerAdapter
    assert _ROLLOUT_REGISTRY[("vllm", "async")] == "verl.workers.rollout.vllm_rollout.ServerAdapter"
    assert {"vllm", "sglang", "trtllm", NAME} <= set(RolloutReplicaRegistry._registry)
    # both hooks have run (the shared finder stays while other verl modules it watches are not imported yet)
    assert {"verl.workers.rollout.base", "verl.workers.rollout.replica"}.isdisjoint(hooks.pending)


def test_the_installed_verl_is_in_the_range_pyproject_claims():
    import verl

    line = next(line for line in (REPO / "pyproject.toml").read_text().splitlines() if '"verl' in line)
    spec = SpecifierSet(line.split('"')[1].removeprefix("verl"))
    assert Version(verl.__version__) in spec


def test_someone_elses_hf_rollout_is_not_replaced(caplog):
    class Registry:
        _registry = {NAME: lambda: "theirs"}

        @classmethod
        def register(cls, name, loader):
            cls._registry[name] = loader

    replica_module = type(sys)("fake_replica")
    replica_module.RolloutReplicaRegistry = Registry
    base_module = type(sys)("fake_base")
    base_module._ROLLOUT_REGISTRY = {(NAME, "async"): "their.Adapter"}
    with caplog.at_level(logging.WARNING):
        register_replica(replica_module)
        register_adapter(base_module)
    assert Registry._registry[NAME]() == "theirs"
    assert base_module._ROLLOUT_REGISTRY[(NAME, "async")] == "their.Adapter"
    assert caplog.text.count("not replacing it") == 2


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    (tmp_path / "specs_hook_demo.py").write_text("VALUE = 41\n\ndef answer():\n    return VALUE + 1\n")
    (tmp_path / "specs_hook_broken.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("specs_hook_demo", "specs_hook_broken"):
        sys.modules.pop(name, None)


def test_a_hook_runs_once_right_after_its_module_executes(module_dir):
    hooks, seen = PostImportHooks(), []
    hooks.add("specs_hook_demo", lambda m: seen.append(m.answer()))
    assert hooks in sys.meta_path and seen == []
    module = importlib.import_module("specs_hook_demo")
    assert seen == [42] and hooks not in sys.meta_path
    assert "return VALUE + 1" in inspect.getsource(module.answer)  # the real loader still answers
    hooks.add("specs_hook_demo", lambda m: seen.append("again"))  # already imported: runs at once
    assert seen == [42, "again"]


def test_a_failing_hook_is_logged_and_the_import_still_succeeds(module_dir, caplog):
    hooks = PostImportHooks()

    def broken(module):
        raise RuntimeError("registry moved")

    hooks.add("specs_hook_broken", broken)
    with caplog.at_level(logging.WARNING):
        module = importlib.import_module("specs_hook_broken")
    assert module.VALUE == 1
    assert "hook broken on specs_hook_broken failed" in caplog.text and "registry moved" in caplog.text
