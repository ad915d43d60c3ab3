"""Helpers the bash recipes call: compose-check a stage's hydra config, find a run's weights, summarise a run.

Kept in Python so the recipes stay a readable list of commands: `python -m specs_verl.pipeline --help`.
"""
