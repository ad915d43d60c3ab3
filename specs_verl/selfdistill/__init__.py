"""Self-distillation of SPECS preference pairs (stage 1b): `python -m specs_verl.selfdistill sample|pair|show`.

- `sample.py`: n responses per question with a generation backend (`specs_verl.generation`), resumable shards;
- `pair_builder.py`: the pure core of `pair` (grade, check, judge, supplement, pollute, pick, count);
- `judge/`: the consistency judge (OpenAI-compatible endpoint or local model, cached verdicts);
- `pair_command.py`, `pairs_file.py`, `report.py`: the `pair` command, its pairs as rows of `schema.pairs`, its
  report;
- `samples_io.py`: the JSONL sample files; `show.py`: pairs side by side.
"""
