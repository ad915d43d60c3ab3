"""`python -m specs_verl` lists every stage command, and every command it lists exists."""

import importlib.util
import re
import subprocess
import sys

from specs_verl.__main__ import COMMANDS
from tests.commands import REPO


def test_every_listed_command_exists():
    for command, _, _ in COMMANDS:
        if m := re.match(r"python -m (\S+)", command):
            module = m.group(1)
            assert importlib.util.find_spec(module) is not None, command
            if module.startswith("specs_verl."):
                assert importlib.util.find_spec(f"{module}.__main__") is not None, command
        else:
            path = re.search(r"(\S+\.(py|sh))", command).group(1)
            assert (REPO / path).is_file(), command


def test_the_listing_names_each_stage_and_refuses_an_unknown_command():
    out = subprocess.run([sys.executable, "-m", "specs_verl"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for stage in ("[   data]", "[     1b]", "[      2]", "[     GF]"):
        assert stage in out.stdout
    bad = subprocess.run([sys.executable, "-m", "specs_verl", "trian"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown command 'trian'" in bad.stderr
