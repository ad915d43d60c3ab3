"""The shared pieces: image references -> placeholders, any image -> PNG/JPEG bytes, answer/choice helpers."""

import io

import pytest
from PIL import Image

from specs_verl.data_prep.images import image_entry
from specs_verl.data_prep.placeholders import place_images
from specs_verl.data_prep.problem import (Problem, Skip, answer_type, letter_for, option_letter, options_block,
                                          strip_boxed)

from .fixtures import pil, png_bytes


@pytest.mark.parametrize("body, n, want, order", [
    ("What is x?", 1, "<image>What is x?", [0]),  # no reference: images first
    ("<image>Find x.", 1, "<image>Find x.", [0]),  # the right number of tags: kept where they are
    ("Left <image> right <image>", 2, "Left <image> right <image>", [0, 1]),
    ("<image>Compare them.", 2, "<image><image>Compare them.", [0, 1]),  # too few tags: all images first
    ("<image><image>One picture.", 1, "<image>One picture.", [0]),  # too many
    ("See <image 1>.", 1, "See <image>.", [0]),  # MMMU
    ("<image1>\nWhich?", 1, "<image>\nWhich?", [0]),  # MathVision
    ("Is <image 2> like <image 1>? <image 2>!", 2, "Is <image> like <image>? image 2!", [1, 0]),
    ("Only <image 2> is named.", 3, "<image><image>Only <image> is named.", [0, 2, 1]),
    ("A <video> of <audio>", 1, "<image>A [video] of [audio]", [0]),
])
def test_place_images(body, n, want, order):
    assert place_images(body, n) == (want, order)


def test_reference_to_an_absent_image_is_a_skip():
    with pytest.raises(Skip, match="<image 3> but the record has 2") as e:
        place_images("<image 1> and <image 3>", 2)
    assert e.value.reason == "missing_image"


def _fmt(entry):
    assert entry["path"] is None
    return Image.open(io.BytesIO(entry["bytes"])).format


def test_image_entry_accepts_every_form(tmp_path):
    data = png_bytes(1)
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(data)
    assert image_entry({"bytes": data, "path": None})["bytes"] == data  # PNG bytes pass through untouched
    assert image_entry(data)["bytes"] == data
    assert image_entry("img/a.png", [tmp_path])["bytes"] == data
    assert image_entry({"bytes": None, "path": "img/a.png"}, [tmp_path])["bytes"] == data
    assert image_entry(str(tmp_path / "img" / "a.png"))["bytes"] == data
    assert _fmt(image_entry(pil(2, "JPEG"))) == "JPEG"
    assert _fmt(image_entry(pil(2))) == "PNG"
    gif = io.BytesIO()
    Image.new("P", (20, 10)).save(gif, format="GIF")
    assert _fmt(image_entry(gif.getvalue())) == "PNG"  # other formats become PNG
    cmyk = Image.new("CMYK", (20, 10))
    assert _fmt(image_entry(cmyk)) == "PNG"


@pytest.mark.parametrize("ref, reason", [
    (None, "missing_image"), ("", "missing_image"), ({"bytes": None, "path": None}, "missing_image"),
    ("nowhere.png", "missing_image"), (b"junk", "bad_image"), (png_bytes(0)[:40], "bad_image"),
    (Image.new("RGB", (402, 2)), "bad_image"), (3.5, "bad_image"),
])
def test_unusable_images_are_skips(ref, reason):
    with pytest.raises(Skip) as e:
        image_entry(ref)
    assert e.value.reason == reason


def test_answer_helpers():
    assert strip_boxed("\\boxed{3}") == "3" and strip_boxed("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert strip_boxed("\\boxed{a} + \\boxed{b}") == "\\boxed{a} + \\boxed{b}"
    assert [option_letter(a) for a in ("B", "(C)", "D.", "b", "AB", "10")] == ["B", "C", "D", None, None, None]
    assert letter_for(" Equal  to", ["larger than", "equal to"]) == "B"
    with pytest.raises(Skip, match="matches options"):
        letter_for("x", ["x", "X"])
    assert options_block(["1", "B", "C"]) == "Options:\nA. 1\nB\nC"
    assert [answer_type(Problem("q", "", [], a)) for a in ("3", "-2.5", "1e3", "50%", "x+1", "24/7")] == \
        ["number", "number", "number", "number", "text", "text"]
    assert answer_type(Problem("q", "", [], "A", choice=True)) == "choice"


def test_image_archive_lookup_is_read_only_and_bounded(tmp_path, monkeypatch):
    import zipfile

    from specs_verl.data_prep import images
    from specs_verl.data_prep.images import ImageArchive

    data = png_bytes(2)
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as zf:
        zf.writestr("ViRL39K/images/a.png", data)  # an archive with one more leading folder
        zf.writestr("../escape.png", data)
        zf.writestr("/abs/b.png", data)
        zf.writestr("images/big.png", b"x" * 2048)
    archive = ImageArchive(tmp_path / "images.zip")
    assert image_entry("images/a.png", [archive])["bytes"] == data
    assert image_entry({"bytes": None, "path": "a.png"}, [archive])["bytes"] == data
    for name in ("../escape.png", "escape.png", "/abs/b.png", "b.png"):  # names that climb out are not indexed
        with pytest.raises(Skip, match="not found in .*images.zip"):
            image_entry(name, [archive])
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 1024)
    with pytest.raises(Skip, match="limit 1024") as e:
        image_entry("images/big.png", [archive])
    assert e.value.reason == "bad_image"
    assert not (tmp_path / "escape.png").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["images.zip"]
