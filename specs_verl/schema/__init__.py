"""The parquet contracts between the stages, one module each: its Arrow schema, its writer, its checked reader.

- `rl_rows`: verl's RL rows (data_prep and the tiny tasks write them; verl, generation, sampling, pairing and
  evaluation read them);
- `pairs`: preference pairs (selfdistill writes them; the DPO trainer and the SFT cold start read them);
- `sft_chats`: verl's multi-turn SFT chats (the SFT cold start writes them from pairs; verl reads them);
- `images`: the `<image>` placeholder, the one rule for image paths (relative to the parquet file's folder),
  opening images, and the chat conversion of placeholders into typed content parts;
- `parquet`: atomic and streamed writing, streamed reading.
"""
