"""GF evaluation: `python -m specs_verl.evaluate` (see `__main__.py` and `--help`).

- checkpoints.py: which checkpoints make up a run (verl's global_step_N layout, model dirs, lists)
- scoring.py: generate on the ID/OOD sets with `specs_verl.generation`, score with `specs_verl.reward`, cache
- curves.py: GF rows per (run, step), from evaluated checkpoints or from a verl `file` logger JSONL
- report.py: gf.csv, gf.json, gf.png

The numbers themselves come from the pure `specs_verl.metrics`.
"""
