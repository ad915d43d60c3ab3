#!/usr/bin/env python
"""Convert a training or benchmark dataset into verl RL parquet (prompt with <image> placeholders + the SPECS
format instruction, images as PNG/JPEG bytes, an option letter or value as ground truth, one data_source per set).

  python data_tools/prepare_data.py NAME --out DIR [--source PATH_OR_HUB_ID] [--split S] [--max-rows N]

Writes DIR/<name>_<split>[_<variant>][_<config>].parquet (atomically) and, next to it, <same>.skipped.json
listing every record that was skipped and why. A record without a usable image or answer is skipped and
counted by reason; --strict stops at the first one instead.

--source takes a hub id (needs the network), a local copy of the hub repo (e.g. from `huggingface-cli download
--repo-type dataset`), a folder of parquet/json files, or one file or glob. Relative image paths are looked up
in the source folder and in the zip archives at its top (ViRL39K's images.zip, read in place); a ViRL39K hub id
is downloaded whole (parquet + images.zip) with the hub client. Multiple-choice rows get the template's
`_choice` variant (specs_choice: the same format, asking for the option letter).
"""

import argparse
import sys

from specs_verl.data_prep import DATASETS, DataPrepError, prepare


def _datasets_help() -> str:
    lines = ["datasets:"]
    for spec in DATASETS.values():
        lines.append(f"  {spec.name:11s} {spec.role:5s} {spec.summary}")
        lines.append(f"  {'':11s}       default --source {spec.hub_id}, --split {spec.default_split}, "
                     f"data_source {spec.data_source}")
        for k, (v, desc) in enumerate(spec.variants.items()):
            lines.append(f"  {'':11s}       --variant {v}{' (default)' if k == 0 else ''}: {desc}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, epilog=_datasets_help(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(DATASETS), metavar="NAME", help="dataset (listed below)")
    parser.add_argument("--out", required=True, help="directory to write into")
    parser.add_argument("--source", help="hub id, local folder, or parquet/json file or glob (default: the "
                                         "dataset's hub id)")
    parser.add_argument("--split", help="split to convert (default: the dataset's, listed below)")
    parser.add_argument("--config", help="one hub config only (e.g. an MMMU subject such as Math); default: the "
                                         "dataset's config, or all of MMMU's subjects")
    parser.add_argument("--variant", help="dataset-specific selection (listed below)")
    parser.add_argument("--prompt-template", default="specs",
                        help="format instruction added to each question: a packaged template (specs, choice, "
                             "terse), a text file (may hold {question}), or none (default: specs)")
    parser.add_argument("--data-source", help="data_source to write on every row (default: the dataset's name)")
    parser.add_argument("--image-root", help="folder or .zip that relative image paths are resolved against first "
                                             "(default: the source folder and the .zip archives in it)")
    parser.add_argument("--images-only", action="store_true",
                        help="skip text-only records (ViRL39K's DeepScaleR rows) instead of writing them as "
                             "text-only rows")
    parser.add_argument("--max-rows", type=int, help="stop after writing this many rows (quick runs)")
    parser.add_argument("--out-name", help="file stem instead of <name>_<split>[_<variant>][_<config>]")
    parser.add_argument("--holdout", type=int, default=0,
                        help="move N rows (1 in 10, chosen by qid) to <stem>_holdout.parquet: a held-out "
                             "in-distribution validation set for datasets without one (ViRL39K)")
    parser.add_argument("--strict", action="store_true", help="stop at the first record that cannot be converted")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        result = prepare(args.name, args.out, source=args.source, split=args.split, config=args.config,
                         variant=args.variant, prompt_template=args.prompt_template, data_source=args.data_source,
                         max_rows=args.max_rows, image_root=args.image_root, out_name=args.out_name,
                         strict=args.strict, holdout=args.holdout, images_only=args.images_only,
                         progress=not args.no_progress)
    except (DataPrepError, ValueError, OSError) as e:  # OSError: missing files, an unreachable hub
        print(f"prepare_data: error: {e}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
