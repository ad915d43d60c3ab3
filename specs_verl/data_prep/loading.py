"""Open a dataset with `datasets.load_dataset`: a hub id, a local copy of a hub repo, or parquet/json files.

- hub id (`AI4Math/MathVista`): `load_dataset(id, config, split=split)`, once per config for datasets split
  into configs (MMMU's 30 subjects);
- local folder: a downloaded hub repo (the configs its README declares are honoured), else the folder's
  `<split>-*` / `<split>.<ext>` data files, else all its data files when none is named for a split (noted);
  without a README, a folder per config (MMMU's `Accounting/`, `Art/`, ...) loads each;
- a file or glob (`39Krelease.parquet`, `data/*.jsonl`): loaded as one split whatever its name;
- a hub id of a dataset whose images live in an archive next to the data (`DatasetSpec.archives`, ViRL39K's
  `images.zip`, which `datasets` does not read): the repo is fetched with the hub client's `snapshot_download`
  and then read as the local folder it is, so a hub id and a downloaded copy go through the same code.
Relative image paths are looked up in the source's folder, then in the `*.zip` archives at its top level
(`images.ImageArchive`, read in place). Records are then read as Arrow batches (`iter_records`), so image
columns arrive as `{"bytes", "path"}` without a decode/re-encode round trip.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .dataset_spec import DatasetSpec
from .images import ImageArchive

_FILE_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".arrow": "arrow", ".csv": "csv"}


@dataclass
class Part:
    config: str  # '' when the dataset has no configs
    dataset: Any  # datasets.Dataset


@dataclass
class Source:
    parts: list[Part]
    image_roots: list[Path | ImageArchive]  # where relative image paths are looked up, in order
    notes: list[str]  # what the loader decided on its own (printed in the summary)

    def __len__(self) -> int:
        return sum(len(p.dataset) for p in self.parts)


def _pick_split(dd, split: str, where: str, notes: list[str]):
    if split in dd:
        return dd[split]
    if len(dd) == 1:
        only = next(iter(dd))
        notes.append(f"{where}: no split {split!r}; using its only split {only!r}")
        return dd[only]
    raise ValueError(f"{where} has no split {split!r} (splits: {', '.join(dd)})")


def _readme_config_entries(path: Path) -> list[dict]:
    readme = path / "README.md"
    if not readme.is_file():
        return []
    head = readme.read_text(errors="replace")
    if not head.startswith("---"):
        return []
    import yaml

    try:
        meta = yaml.safe_load(head.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return []
    return [c for c in meta.get("configs") or [] if isinstance(c, dict) and "config_name" in c]


def readme_configs(path: Path) -> list[str]:
    """The config names a hub repo's README.md declares in its YAML header ([] when there is none)."""
    return [c["config_name"] for c in _readme_config_entries(path)]


def readme_data_files(path: Path, config: str) -> dict[str, list[str]]:
    """split -> the files of `config` under `path`, as its README's `data_files` globs say (the hub's layout:
    a string, a list of globs for `train`, or a list of {split, path}).

    Loading these files with the packaged builder, rather than `load_dataset(folder)`, keys `datasets`' cache
    on the files themselves: the folder form keys it on the folder's name alone, so a second copy in a folder of
    the same name (a fresh download, another test) was read from the first one's cache."""
    entry = next(c for c in _readme_config_entries(path) if c["config_name"] == config)
    spec = entry.get("data_files") or []
    if isinstance(spec, str):
        spec = [{"split": "train", "path": spec}]
    by_split: dict[str, list[str]] = {}
    for item in spec:
        split, globs = (item.get("split", "train"), item.get("path")) if isinstance(item, dict) else ("train", item)
        for pattern in [globs] if isinstance(globs, str) else list(globs or []):
            by_split.setdefault(split, []).extend(sorted(str(p) for p in path.glob(pattern) if p.is_file()))
    return {k: v for k, v in by_split.items() if v}


_SHARD = re.compile(r"^(.+?)-\d{5}-of-\d{5}")


def _data_files(path: Path, split: str) -> tuple[list[str], str]:
    """The files holding `split` under `path`, and a note when the choice was a guess.

    `<split>-*` / `<split>.<ext>` files when there are any (matched exactly: `datasets`' own inference folds
    `dev` into `validation`, which would mix MMMU's dev rows into its validation set); otherwise, when no file
    is a `<name>-00000-of-00001` shard of some other split, every data file (TIGER-Lab's `39Krelease.parquet`).
    """
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _FILE_BUILDERS)
    exact = [str(p) for p in files if p.stem == split or p.name.startswith(f"{split}-")]
    if exact or not files:
        return exact, ""
    shards = sorted({m.group(1) for p in files if (m := _SHARD.match(p.name))})
    if shards:
        raise ValueError(f"{path} has no files for split {split!r} (its shards are for {', '.join(shards)})")
    return [str(p) for p in files], f"{path}: no {split!r} files; read all {len(files)} data file(s) as {split!r}"


def _load_folder(path: Path, config: str | None, split: str, notes: list[str]):
    import datasets

    declared = readme_configs(path)
    if declared:  # a downloaded hub repo: its README says which files make which config and split
        if config and config not in declared and len(declared) > 1:
            raise ValueError(f"{path} declares configs {', '.join(declared)}; no {config!r}")
        name = config if config in declared else declared[0] if len(declared) == 1 else None
        files = readme_data_files(path, name) if name else {}
        if not files:
            return _pick_split(datasets.load_dataset(str(path), name), split, str(path), notes)
        chosen = files.get(split) or (next(iter(files.values())) if len(files) == 1 else None)
        if chosen is None:
            raise ValueError(f"{path} has no split {split!r} in config {name!r} (splits: {', '.join(files)})")
        if split not in files:
            notes.append(f"{path}: no split {split!r}; using its only split {next(iter(files))!r}")
        builder = _FILE_BUILDERS.get(Path(chosen[0]).suffix.lower())
        if builder is None:
            raise ValueError(f"cannot read {chosen[0]!r}: expected one of {', '.join(_FILE_BUILDERS)}")
        return datasets.load_dataset(builder, data_files={split: chosen}, split=split)
    files, note = _data_files(path, split)
    if files:
        notes += [note] if note else []
        builder = _FILE_BUILDERS[Path(files[0]).suffix.lower()]
        return datasets.load_dataset(builder, data_files={split: files}, split=split)
    return _pick_split(datasets.load_dataset(str(path)), split, str(path), notes)


def archives_in(folder: Path) -> list[ImageArchive]:
    """The zip archives at the top of `folder` (where a hub download leaves `images.zip`)."""
    return [ImageArchive(z) for z in sorted(folder.glob("*.zip")) if z.is_file()]


def _root(image_root: str | os.PathLike) -> Path | ImageArchive:
    p = Path(image_root).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"--image-root {p} does not exist")
    return ImageArchive(p) if p.is_file() and p.suffix.lower() == ".zip" else p


def hub_snapshot(repo_id: str, archives: tuple[str, ...]) -> Path:
    """The local folder of the dataset repo `repo_id` with its data files and `archives` (downloaded once into
    the hub cache by `huggingface_hub.snapshot_download`; offline, the cached copy)."""
    from huggingface_hub import snapshot_download

    patterns = ["README.md", *(f"*{ext}" for ext in _FILE_BUILDERS), *(f"**/*{ext}" for ext in _FILE_BUILDERS),
                *archives]
    return Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=patterns))


def _is_local(source: str, path: Path) -> bool:
    return path.exists() or source.startswith(("/", ".", "~")) or path.suffix.lower() in _FILE_BUILDERS


def load_source(spec: DatasetSpec, source: str | None, split: str, config: str | None = None,
                image_root: str | os.PathLike | None = None) -> Source:
    """The records of one split of `spec` (`source` defaults to its hub id)."""
    import datasets

    source = source or spec.hub_id
    notes: list[str] = []
    roots: list[Path | ImageArchive] = [_root(image_root)] if image_root else []
    path = Path(source).expanduser()
    configs = [config] if config else list(spec.configs)
    if spec.archives and not glob.has_magic(source) and not _is_local(source, path):
        path = hub_snapshot(source, spec.archives)
        notes.append(f"{source}: hub snapshot in {path}")
    if path.is_file() or glob.has_magic(source):
        files = sorted(glob.glob(os.path.expanduser(source))) if glob.has_magic(source) else [str(path)]
        if not files:
            raise FileNotFoundError(f"no file matches {source!r}")
        builder = _FILE_BUILDERS.get(Path(files[0]).suffix.lower())
        if builder is None:
            raise ValueError(f"cannot read {files[0]!r}: expected one of {', '.join(_FILE_BUILDERS)}")
        ds = datasets.load_dataset(builder, data_files=files, split="train")
        notes.append(f"read {len(files)} file(s) as split {split!r}")
        parent = Path(files[0]).parent
        return Source([Part(config or "", ds)], roots + [parent, *archives_in(parent)], notes)
    if path.is_dir():
        roots += [path, *archives_in(path)]
        if configs:  # one part per config: declared in the README, else a folder per config
            declared = readme_configs(path)
            present = [c for c in configs if (c in declared if declared else (path / c).is_dir())]
            if not present:
                listed = ", ".join(configs[:5]) + (", ..." if len(configs) > 5 else "")
                raise FileNotFoundError(f"none of the configs {listed} under {path} (neither declared in its "
                                        f"README nor present as folders)")
            if len(present) < len(configs):
                notes.append(f"{len(present)} of {len(configs)} configs found under {path}")
            return Source([Part(c, _load_folder(path if declared else path / c, c if declared else None, split,
                                                notes)) for c in present], roots, notes)
        name = spec.default_config
        return Source([Part(name or "", _load_folder(path, name, split, notes))], roots, notes)
    if _is_local(source, path):
        raise FileNotFoundError(f"no such file or folder: {source}")
    if configs:  # a hub dataset split into configs
        return Source([Part(c, datasets.load_dataset(source, c, split=split)) for c in configs], roots, notes)
    name = spec.default_config
    ds = datasets.load_dataset(source, name, split=split) if name else datasets.load_dataset(source, split=split)
    return Source([Part(name or "", ds)], roots, notes)


def iter_records(dataset, batch_size: int = 64) -> Iterator[dict[str, Any]]:
    """Rows as plain dicts straight from Arrow: images stay `{"bytes", "path"}`, structs become dicts."""
    for batch in dataset.with_format("arrow").iter(batch_size=batch_size):
        yield from batch.to_pylist()
