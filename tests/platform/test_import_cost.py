"""The plugin costs `import verl` next to nothing: time, memory, modules and warnings as with the plugin off.

The plugin loads in every verl process (driver, TaskRunner, every Ray worker). It registers by name and defers
every heavy import to the moment verl loads the registry concerned, so `import verl` must stay within 0.3 s of
CPU time and 30 MiB of peak memory of `VERL_USE_EXTERNAL_PLUGINS=none` (verl's switch that loads no plugin),
print no warning verl alone does not print, and leave the platform undecided (verl picks it on first use, so a
VERL_PLATFORM set after `import verl` still counts). The eager plugin this replaced cost ~2.4 s and ~200 MiB.
"""

import json
import os
import re
import statistics
import subprocess

import pytest

from tests.commands import PYTHON, REPO

pytestmark = pytest.mark.slow

PROBE = """
import json, os, resource, sys, time
start = time.process_time()
import verl
cost = time.process_time() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import verl.plugin.platform.platform_manager as pm
report = {"cpu_s": cost, "peak_mib": peak_mib, "modules": len(sys.modules), "decided": pm._current_platform is not None}
if os.environ.get("VERL_USE_EXTERNAL_PLUGINS") != "none":
    os.environ["VERL_PLATFORM"] = "cpu"  # after import verl: still honoured
    import verl.utils.distributed as vd
    report["platform"] = pm.get_platform().device_name
    report["gloo_patch"] = getattr(vd.initialize_global_process_group, "_specs_cpu", False)
print(json.dumps(report))
"""
RUNS = 3


def _probe(plugins: bool) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VERL_PLATFORM", "VERL_ENGINE_DEVICE", "VERL_ENGINE_VENDOR",
                                                            "VERL_USE_EXTERNAL_PLUGINS", "VERL_USE_EXTERNAL_MODULES")}
    if not plugins:
        env["VERL_USE_EXTERNAL_PLUGINS"] = "none"
    proc = subprocess.run([PYTHON, "-W", "default", "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.fixture(scope="module")
def runs():
    with_plugin, without = [], []
    for _ in range(RUNS):  # interleaved, so that a machine slowing down hits both sides alike
        with_plugin.append(_probe(True))
        without.append(_probe(False))
    return with_plugin, without


def _median(runs, key):
    return statistics.median(r[key] for r, _ in runs)


def test_import_verl_costs_the_same_with_the_plugin(runs):
    with_plugin, without = runs
    extra_s = _median(with_plugin, "cpu_s") - _median(without, "cpu_s")
    extra_mib = _median(with_plugin, "peak_mib") - _median(without, "peak_mib")
    extra_modules = _median(with_plugin, "modules") - _median(without, "modules")
    assert extra_s < 0.3, f"import verl: {extra_s:.2f} s more CPU with the plugin"
    assert extra_mib < 30, f"import verl: {extra_mib:.0f} MiB more peak memory with the plugin"
    assert extra_modules < 100, f"import verl: {extra_modules} more modules with the plugin"


def _warnings(stderr: str) -> list[str]:
    """Warning lines (Python's and verl's log records), timestamps removed."""
    return sorted(re.sub(r"\d{4}-\d\d-\d\d [\d:,]+", "", line) for line in stderr.splitlines()
                  if "warn" in line.lower())


def test_the_plugin_adds_no_warning(runs):
    with_plugin, without = runs
    assert _warnings(with_plugin[0][1]) == _warnings(without[0][1])


def test_the_platform_is_still_picked_on_first_use(runs):
    with_plugin, _ = runs
    report = with_plugin[0][0]
    assert report["decided"] is False
    assert report["platform"] == "cpu" and report["gloo_patch"] is True
