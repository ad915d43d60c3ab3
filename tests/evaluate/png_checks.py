"""What a reader of gf.png would notice: its size, that it is not blank, and how many panels it has."""

from pathlib import Path

import numpy as np
from PIL import Image


def png_panels(path: Path) -> tuple[tuple[int, int], int, list[bool]]:
    """(size, number of axes frames, whether each frame holds coloured data pixels).

    An axes frame has two dark vertical spines running most of the image height; data lines are coloured.
    """
    img = Image.open(path)
    assert img.format == "PNG"
    rgb = np.asarray(img.convert("RGB")).astype(int)
    gray = rgb.mean(axis=2)
    spine_cols = np.flatnonzero((gray < 160).mean(axis=0) > 0.5)
    groups = np.split(spine_cols, np.flatnonzero(np.diff(spine_cols) > 2) + 1) if spine_cols.size else []
    edges = [int(g.mean()) for g in groups]
    colourful = (rgb.max(axis=2) - rgb.min(axis=2)) > 60
    frames = list(zip(edges[0::2], edges[1::2]))
    return img.size, len(frames), [bool(colourful[:, a:b].any()) for a, b in frames]


def assert_three_panel_figure(path: Path) -> None:
    size, n_panels, has_data = png_panels(path)
    assert size[0] >= 1200 and size[1] >= 300, size
    gray = np.asarray(Image.open(path).convert("L")).astype(float)
    assert gray.std() > 10, "the figure is blank"
    assert n_panels == 3, n_panels
    assert all(has_data), has_data
