"""Image folders: classes, every pixel mode, the centre crop, the split, the cache, and hostile files."""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from idx_files import png_16bit, run_unprivileged, save_image

from vaestudio.core.data import Dataset, load_image_folder
from vaestudio.core.data import image_folder as image_folder_module
from vaestudio.core.data.cache import cache_file, cache_root
from vaestudio.core.data.image_folder import split
from vaestudio.core.data.scan import UNLABELLED, ImageFile
from vaestudio.core.errors import DataError

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Every test gets its own cache folder (never the user's)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def decodes(monkeypatch):
    """Counts the images actually decoded (the cache's whole point is that the second start decodes none)."""
    calls = []
    real = image_folder_module.decode_image

    def counting(data, image_size, channels):
        calls.append(len(data))
        return real(data, image_size, channels)

    monkeypatch.setattr(image_folder_module, "decode_image", counting)
    return calls


def colour_folder(root: Path, per_class: int = 6, size=(40, 30)) -> Path:
    """One subfolder per colour of COLOURS, each holding `per_class` solid images of slightly varied shade."""
    for name, colour in COLOURS.items():
        for i in range(per_class):
            shade = tuple(max(0, c - 3 * i) for c in colour)
            save_image(root / name / f"{i:02d}.png", ("RGB", size, shade))
    return root


def _load(folder, image_size=28, channels=3, **kwargs) -> Dataset:
    return load_image_folder(folder, image_size, channels, **kwargs)


def _all(dataset):
    return (np.concatenate([dataset.train_images, dataset.test_images]),
            np.concatenate([dataset.train_labels, dataset.test_labels]))


# ---------------------------------------------------------------------------------------------- classes


def test_subfolders_are_classes_and_loose_images_one_more(tmp_path):
    folder = colour_folder(tmp_path / "shapes")
    for i in range(3):
        save_image(folder / f"loose{i}.png", ("L", (20, 20), 128))
    (folder / "notes.txt").write_text("not an image")
    dataset = _load(folder)
    assert dataset.class_names == ("blue", "green", "red", UNLABELLED)
    images, labels = _all(dataset)
    assert len(images) == 21 and dataset.image_size == 28 and dataset.channels == 3
    for label, name in enumerate(dataset.class_names):
        wanted = np.array(COLOURS.get(name, (128, 128, 128)))
        mean = images[labels == label].reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - wanted).max() < 10, name
    assert dataset.describe().startswith(f"Image folder, {len(dataset.train_images)} train / "
                                         f"{len(dataset.test_images)} test images (28x28 colour, 4 classes) "
                                         f"from {folder}")
    assert dataset.skipped == ()


def test_images_in_nested_folders_belong_to_their_first_level_class(tmp_path):
    save_image(tmp_path / "d" / "cats" / "a.png", ("RGB", (9, 9), (255, 0, 0)))
    save_image(tmp_path / "d" / "cats" / "indoor" / "deeper" / "b.png", ("RGB", (9, 9), (255, 0, 0)))
    save_image(tmp_path / "d" / "dogs" / "c.png", ("RGB", (9, 9), (0, 0, 255)))
    (tmp_path / "d" / "empty_class").mkdir()
    save_image(tmp_path / "d" / ".hidden" / "x.png", ("RGB", (9, 9), (0, 255, 0)))
    dataset = _load(tmp_path / "d")
    assert dataset.class_names == ("cats", "dogs")  # empty and hidden folders are no classes
    images, labels = _all(dataset)
    assert sorted(labels.tolist()) == [0, 0, 1]
    assert (images[labels == 0][..., 0] > 200).all()


# ---------------------------------------------------------------------------------------------- pixel modes


def _palette(path):
    from PIL import Image

    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, 200, 100, 50])
    image.save(path)


def _palette_transparent(path):
    from PIL import Image

    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 200, 100, 50])
    image.save(path, transparency=0)


def _animated_gif(path):
    from PIL import Image

    frames = [Image.new("RGB", (20, 20), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)


def _cmyk_jpeg(path):
    save_image(path, ("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG", quality=95)


def _exif_rotated(path):
    from PIL import Image

    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the white half on top
    image.save(path, "JPEG", exif=exif, quality=95)


MODES = {
    # name: (file name, writer, expected RGB at the centre)
    "RGB PNG": ("a.png", lambda p: save_image(p, ("RGB", (20, 20), (10, 20, 30))), (10, 20, 30)),
    "grey JPEG": ("a.jpg", lambda p: save_image(p, ("L", (24, 24), 90), "JPEG", quality=95), (90, 90, 90)),
    "palette PNG": ("a.png", _palette, (200, 100, 50)),
    "transparent palette PNG": ("a.png", _palette_transparent, (255, 255, 255)),
    "RGBA over white": ("a.png", lambda p: save_image(p, ("RGBA", (20, 20), (255, 0, 0, 128))), (255, 127, 127)),
    "fully transparent": ("a.png", lambda p: save_image(p, ("RGBA", (20, 20), (0, 0, 0, 0))), (255, 255, 255)),
    "LA over white": ("a.png", lambda p: save_image(p, ("LA", (20, 20), (0, 128))), (127, 127, 127)),
    "16-bit grey": ("a.png", lambda p: p.write_bytes(png_16bit(20, 20, 0, (40000,))), (156, 156, 156)),
    "16-bit RGB": ("a.png", lambda p: p.write_bytes(png_16bit(20, 20, 2, (65535, 32896, 0))), (255, 128, 0)),
    "16-bit RGBA": ("a.png", lambda p: p.write_bytes(png_16bit(20, 20, 6, (0, 0, 0, 0))), (255, 255, 255)),
    "1-bit": ("a.png", lambda p: save_image(p, ("1", (20, 20), 1)), (255, 255, 255)),
    "1-bit BMP": ("a.bmp", lambda p: save_image(p, ("1", (20, 20), 0), "BMP"), (0, 0, 0)),
    "CMYK JPEG": ("a.jpg", _cmyk_jpeg, (255, 0, 0)),
    "GIF first frame": ("a.gif", _animated_gif, (255, 0, 0)),
    "WebP": ("a.webp", lambda p: save_image(p, ("RGB", (20, 20), (0, 200, 0)), "WEBP", lossless=True), (0, 200, 0)),
    "BMP": ("a.bmp", lambda p: save_image(p, ("RGB", (20, 20), (0, 0, 250)), "BMP"), (0, 0, 250)),
    "JPEG named .png": ("a.png", lambda p: save_image(p, ("RGB", (24, 24), (200, 0, 0)), "JPEG", quality=95),
                        (200, 0, 0)),
}


@pytest.mark.parametrize("case", MODES)
def test_every_mode_becomes_8_bit_colour(tmp_path, case):
    name, write, expected = MODES[case]
    folder = tmp_path / "m"
    folder.mkdir()
    for i in range(2):
        write(folder / f"{i}{name}")
    dataset = _load(folder, 28, 3)
    assert dataset.skipped == ()
    images, _ = _all(dataset)
    assert images.dtype == np.uint8 and images.shape == (2, 28, 28, 3)
    centre = images[:, 10:18, 10:18].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(centre, expected, atol=6)


def test_exif_orientation_is_applied(tmp_path):
    (tmp_path / "r").mkdir()
    _exif_rotated(tmp_path / "r" / "a.jpg")
    _exif_rotated(tmp_path / "r" / "b.jpg")
    images, _ = _all(_load(tmp_path / "r", 28, 1))
    assert (images[:, :10].mean() > 200) and (images[:, 18:].mean() < 50)  # white above, black below


def test_grey_is_luma_and_colour_repeats_grey(tmp_path):
    folder = tmp_path / "g"
    save_image(folder / "red.png", ("RGB", (30, 30), (255, 0, 0)))
    save_image(folder / "grey.png", ("L", (30, 30), 200))
    grey = _load(folder, 28, 1)
    images, _ = _all(grey)
    assert images.shape == (2, 28, 28) and sorted(np.unique(images).tolist()) == [76, 200]  # ITU-R 601: 0.299*255
    colour_images, _ = _all(_load(folder, 28, 3))
    assert {tuple(px) for px in colour_images.reshape(-1, 3).tolist()} == {(255, 0, 0), (200, 200, 200)}


def test_centre_crop_keeps_the_middle_square(tmp_path):
    wide = np.zeros((30, 90, 3), np.uint8)
    wide[:, :30], wide[:, 30:60], wide[:, 60:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    save_image(tmp_path / "c" / "wide.png", wide)
    save_image(tmp_path / "c" / "tall.png", wide.transpose(1, 0, 2))
    images, _ = _all(_load(tmp_path / "c", 64, 3))
    assert images.shape == (2, 64, 64, 3)
    assert (np.abs(images.astype(int) - (0, 255, 0)).max(axis=-1) <= 3).all()  # only the green middle is left


@pytest.mark.parametrize("size,channels,shape", [(28, 1, (28, 28)), (64, 1, (64, 64)), (28, 3, (28, 28, 3)),
                                                 (64, 3, (64, 64, 3))])
def test_image_size_and_channels(tmp_path, size, channels, shape):
    folder = colour_folder(tmp_path / "c", per_class=2, size=(300, 200))
    dataset = _load(folder, size, channels)
    assert dataset.train_images.shape[1:] == shape and dataset.test_images.shape[1:] == shape
    assert dataset.image_size == size and dataset.channels == channels


# ---------------------------------------------------------------------------------------------- split


def _files(count, classes=3, prefix="f"):
    return [ImageFile(f"c{i % classes}/{prefix}{i}.png", i % classes, 100, 0) for i in range(count)]


def test_split_is_seeded_per_class_and_mixes_classes():
    files = _files(60)
    train, test = split(files, 0.1, seed=0)
    assert len(test) == 6 and sorted(f.label for f in test) == [0, 0, 1, 1, 2, 2]
    assert {f.relative for f in train} | {f.relative for f in test} == {f.relative for f in files}
    again = split(list(reversed(files)), 0.1, seed=0)  # listing order does not matter
    assert [f.relative for f in again[1]] == [f.relative for f in test]
    other = split(files, 0.1, seed=1)
    assert {f.relative for f in other[1]} != {f.relative for f in test}
    labels = [f.label for f in train]
    assert labels != sorted(labels)  # classes are interleaved, so the first test images show every class


def test_small_classes_still_have_a_test_image_and_a_lone_image_trains():
    files = [ImageFile("a/1.png", 0, 1, 0), ImageFile("a/2.png", 0, 1, 0), ImageFile("b/1.png", 1, 1, 0)]
    train, test = split(files, 0.1, seed=0)
    assert [f.label for f in test] == [0] and sorted(f.relative for f in train)[-1] == "b/1.png"
    lone = [ImageFile(f"{c}/1.png", i, 1, 0) for i, c in enumerate("abc")]
    assert len(split(lone, 0.1, seed=0)[1]) == 1


def test_adding_files_moves_at_most_one_other_file_each_time():
    files = _files(40, classes=2)
    before = {f.relative for f in split(files, 0.2, seed=3)[1]}
    for i in range(40, 140):
        files.append(ImageFile(f"c{i % 2}/new{i}.png", i % 2, 100, 0))
        after = {f.relative for f in split(files, 0.2, seed=3)[1]}
        moved = (before ^ after) - {files[-1].relative}
        assert len(moved) <= 1, i
        before = after


def test_limit_decodes_only_the_images_it_keeps(tmp_path, decodes):
    folder = colour_folder(tmp_path / "c", per_class=10)
    full = _load(folder)
    decodes.clear()
    limited = _load(folder, limit=4, cache=False)
    assert len(limited.train_images) == 4 and len(limited.test_images) == 3
    assert len(decodes) == 7
    np.testing.assert_array_equal(limited.train_images, full.train_images[:4])
    np.testing.assert_array_equal(limited.test_labels, full.test_labels[:3])


def test_one_thread_and_many_give_the_same_dataset(tmp_path):
    folder = colour_folder(tmp_path / "c", per_class=8)
    one = _load(folder, cache=False, workers=1)
    many = _load(folder, cache=False, workers=3)
    for a, b in zip(_all(one), _all(many)):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------- cache


def test_second_start_decodes_nothing(tmp_path, cache_dir, decodes):
    folder = colour_folder(tmp_path / "c")
    first = _load(folder, 64, 3)
    assert len(decodes) == 18
    files = list((cache_dir / "image-folders").iterdir())
    assert len(files) == 1 and files[0] == cache_file(folder, 64, 3)
    second = _load(folder, 64, 3)
    assert len(decodes) == 18
    for a, b in zip(_all(first), _all(second)):
        np.testing.assert_array_equal(a, b)
    assert second.class_names == first.class_names and second.describe() == first.describe()
    _load(folder, 28, 3)  # another size has its own cache
    assert len(decodes) == 36 and len(list((cache_dir / "image-folders").iterdir())) == 2


def test_a_changed_added_or_removed_file_is_noticed(tmp_path, decodes):
    folder = colour_folder(tmp_path / "c")
    _load(folder)
    decodes.clear()
    changed = folder / "red" / "00.png"
    save_image(changed, ("RGB", (40, 30), (255, 255, 255)))
    os.utime(changed, ns=(1, 1_000_000_000))  # a different time, whatever the clock's resolution
    save_image(folder / "green" / "new.png", ("RGB", (40, 30), (0, 255, 0)))
    (folder / "blue" / "00.png").unlink()
    dataset = _load(folder)
    assert len(decodes) == 2
    images, labels = _all(dataset)
    assert len(images) == 18
    white = (images.reshape(len(images), -1) == 255).all(axis=1)
    assert white.sum() == 1 and labels[white][0] == dataset.class_names.index("red")
    decodes.clear()
    _load(folder)
    assert decodes == []


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])


def _flip_a_pixel_byte(path):
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def _garbage(path):
    path.write_bytes(os.urandom(5000))


def _huge_header_length(path):
    data = bytearray(path.read_bytes())
    magic = len(b"vaestudio image cache\n")
    data[magic:magic + 8] = (2**62).to_bytes(8, "little")
    path.write_bytes(bytes(data))


def _foreign_header(path):
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"format":1', b'"format":7'))


def _hostile_entries(path):
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"entries":[[', b'"entries":[[[],'))


CACHE_DAMAGE = {"truncated": _truncate, "flipped pixel": _flip_a_pixel_byte, "garbage": _garbage,
                "empty": lambda p: p.write_bytes(b""), "huge header length": _huge_header_length,
                "other format": _foreign_header, "hostile entries": _hostile_entries,
                "a folder": lambda p: (p.unlink(), p.mkdir())}


@pytest.mark.parametrize("damage", CACHE_DAMAGE)
def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path, decodes, damage):
    folder = colour_folder(tmp_path / "c", per_class=3)
    first = _load(folder)
    path = cache_file(folder, 28, 3)
    CACHE_DAMAGE[damage](path)
    decodes.clear()
    again = _load(folder)
    for a, b in zip(_all(first), _all(again)):
        np.testing.assert_array_equal(a, b)
    if damage != "a folder":  # a folder in its place cannot be replaced; the data still loads
        assert len(decodes) == 9
        decodes.clear()
        _load(folder)
        assert decodes == []  # rebuilt


def test_a_cache_of_another_folder_is_not_used(tmp_path, decodes):
    one = colour_folder(tmp_path / "one", per_class=2)
    other = colour_folder(tmp_path / "other", per_class=2)
    _load(one)
    os.replace(cache_file(one, 28, 3), cache_file(other, 28, 3))  # as if two folders' names collided
    decodes.clear()
    _load(other)
    assert len(decodes) == 6


def test_an_unwritable_cache_folder_only_costs_speed(tmp_path, monkeypatch, decodes):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(blocker))
    folder = colour_folder(tmp_path / "c", per_class=2)
    assert len(_all(_load(folder))[0]) == 6
    assert len(_all(_load(folder))[0]) == 6
    assert len(decodes) == 12
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("VAESTUDIO_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("VAESTUDIO_CACHE_DIR")
    assert cache_root() == tmp_path / "xdg" / "vaestudio"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    assert cache_root() == tmp_path / "home" / ".cache" / "vaestudio"


def test_a_file_skipped_once_is_remembered_not_decoded_again(tmp_path, decodes):
    folder = colour_folder(tmp_path / "c", per_class=2)
    (folder / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    first = _load(folder)
    decodes.clear()
    second = _load(folder)
    assert decodes == [] and [s.path for s in second.skipped] == ["red/broken.png"] == [s.path for s in first.skipped]


def test_the_cache_keeps_images_a_limited_load_did_not_need(tmp_path, decodes):
    folder = colour_folder(tmp_path / "c", per_class=6)
    _load(folder)
    _load(folder, limit=2)
    decodes.clear()
    _load(folder)
    assert decodes == []


# ---------------------------------------------------------------------------------------------- hostile files


def _fifo(path):
    os.mkfifo(path)


def _decompression_bomb(path):
    save_image(path, ("1", (12000, 8000), 0))  # 96 million pixels in a few kilobytes


HOSTILE = {
    "text named .png": ("text.png", lambda p: p.write_text("hello"), "not a PNG, JPEG, BMP, GIF or WebP image"),
    "empty file": ("empty.jpg", lambda p: p.write_bytes(b""), "empty file"),
    "truncated PNG": ("cut.png", lambda p: p.write_bytes(_solid_bytes("PNG")[:-30]), "truncated"),
    "truncated JPEG": ("cut.jpg", lambda p: p.write_bytes(_solid_bytes("JPEG")[:200]), "truncated"),
    "TIFF named .jpg": ("tiff.jpg", lambda p: save_image(p, ("RGB", (10, 10)), "TIFF"), "not a PNG, JPEG"),
    "PNG with a bad checksum": ("crc.png", lambda p: p.write_bytes(_bad_crc_png()), "cannot decode"),
    "FIFO": ("pipe.png", _fifo, "a FIFO, not a regular file"),
    "device": ("zero.png", lambda p: p.symlink_to("/dev/zero"), "a character device, not a regular file"),
    "broken link": ("gone.png", lambda p: p.symlink_to(p.parent / "nowhere.png"), "broken link"),
    "link to itself": ("self.png", lambda p: p.symlink_to(p), "symbolic link loop"),
    "decompression bomb": ("bomb.png", _decompression_bomb, "too large (12000 x 8000 pixels"),
}


def _solid_bytes(fmt):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def _bad_crc_png():
    data = bytearray(_solid_bytes("PNG"))
    data[40] ^= 0xFF  # inside the image data
    return bytes(data)


@pytest.fixture
def no_hang():
    """Fail (instead of hanging the test run) if loading blocks, e.g. on a FIFO."""
    def timeout(*_):
        raise TimeoutError("loading blocked for 20 s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_are_skipped_and_named(tmp_path, case, no_hang):
    name, make, reason = HOSTILE[case]
    folder = colour_folder(tmp_path / "c", per_class=2)
    make(folder / "red" / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = _load(folder)
    assert [w.message for w in caught] == []  # no DecompressionBombWarning or any other
    assert len(_all(dataset)[0]) == 6
    assert [s.path for s in dataset.skipped] == [f"red/{name}"]
    assert reason in dataset.skipped[0].reason
    line = dataset.describe()
    assert f"skipped 1 file: red/{name} (" in line and "\n" not in line


def test_pillows_own_limit_is_respected_without_a_warning(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 40 x 30 = 1200: Pillow would only warn
    folder = colour_folder(tmp_path / "c", per_class=2)
    save_image(folder / "red" / "small.png", ("RGB", (20, 20), (255, 0, 0)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = _load(folder)
    assert caught == [] and len(_all(dataset)[0]) == 1
    assert all("too large (40 x 30 pixels, more than 1000)" in s.reason for s in dataset.skipped)


def test_oversized_file_is_not_read(tmp_path, monkeypatch):
    from vaestudio.core.data import decode

    monkeypatch.setattr(decode, "MAX_FILE_BYTES", 1000)
    folder = colour_folder(tmp_path / "c", per_class=2)
    (folder / "red" / "big.png").write_bytes(_solid_bytes("PNG"))
    dataset = _load(folder)
    assert [s.path for s in dataset.skipped] == ["red/big.png"] and "more than" in dataset.skipped[0].reason


def test_link_loops_end_and_linked_folders_count_once(tmp_path):
    folder = colour_folder(tmp_path / "c", per_class=2)
    (folder / "red" / "loop").symlink_to(folder)
    (folder / "red" / "again").symlink_to(folder / "red")
    (folder / "crimson").symlink_to(folder / "red")  # the same real folder: walked once
    dataset = _load(folder)
    assert dataset.class_names == ("blue", "green", "red") and len(_all(dataset)[0]) == 6


def test_describe_names_the_first_three_skipped_files(tmp_path):
    folder = colour_folder(tmp_path / "c", per_class=2)
    for i in range(5):
        (folder / "green" / f"bad{i}.png").write_text("no")
    line = _load(folder).describe()
    assert "skipped 5 files: green/bad0.png (not a PNG" in line and "green/bad2.png" in line
    assert "green/bad3.png" not in line and line.endswith("and 2 more")


def test_non_utf8_file_and_folder_names(tmp_path):
    root = os.fsencode(tmp_path / "d")
    save_image(os.path.join(root, b"caf\xe9", b"\xff.png"), ("RGB", (10, 10), (255, 0, 0)))
    save_image(os.path.join(root, b"caf\xe9", b"b.png"), ("RGB", (10, 10), (255, 0, 0)))
    save_image(os.path.join(root, b"tea", b"c.png"), ("RGB", (10, 10), (0, 0, 255)))
    os.mkfifo(os.path.join(root, b"tea", b"\xfe.png"))
    dataset = _load(os.fsdecode(root))
    assert dataset.class_names == ("caf\\xe9", "tea")
    assert [str(s) for s in dataset.skipped] == ["tea/\\xfe.png (a FIFO, not a regular file)"]
    dataset.describe().encode("utf-8")  # printable with strict UTF-8 output
    again = _load(os.fsdecode(root))  # and cached under that name
    np.testing.assert_array_equal(_all(again)[0], _all(dataset)[0])


# ---------------------------------------------------------------------------------------------- errors


def test_folders_without_usable_images_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match=f"^{tmp_path / 'nowhere'}: no such folder$"):
        _load(tmp_path / "nowhere")
    (tmp_path / "file.png").write_text("x")
    with pytest.raises(DataError, match="file.png: not a folder"):
        _load(tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no PNG, JPEG, BMP, GIF or WebP images found$"):
        _load(tmp_path / "empty")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "scan.tif").write_text("x")
    with pytest.raises(DataError, match=r"docs: no PNG.* found \(ignored 1 other file: scan.tif\)"):
        _load(tmp_path / "docs")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_text("x")
    with pytest.raises(DataError, match=r"bad: no PNG.*\(skipped 1: a.png \(not a PNG"):
        _load(tmp_path / "bad")


def test_progress_reports_and_can_stop_loading(tmp_path):
    folder = colour_folder(tmp_path / "c", per_class=10)
    seen = []
    _load(folder, progress=lambda done, total: seen.append((done, total)), cache=False)
    assert seen[0] == (0, 30) and seen[-1] == (30, 30)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    threads = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        _load(folder, progress=lambda done, total: (_ for _ in ()).throw(KeyboardInterrupt) if done else None,
              cache=False, workers=2)
    assert threading.active_count() == threads  # the decoding threads are gone


def test_unreadable_subfolder_is_skipped_and_unreadable_folder_is_a_data_error(tmp_path):
    folder = colour_folder(tmp_path / "c", per_class=2)
    (folder / "green").chmod(0o000)
    try:
        code = ("import sys; from vaestudio.core.data import load_image_folder as load\n"
                "from vaestudio.core.errors import DataError\n"
                "d = load(sys.argv[1], 28, 3, cache=False); print(d.describe())\n"
                "try: load(sys.argv[1] + '/green', 28, 3, cache=False)\n"
                "except DataError as e: print('DataError:', e)")
        result = run_unprivileged([sys.executable, "-c", code, str(folder)])
    finally:
        (folder / "green").chmod(0o755)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert "(28x28 colour, 2 classes)" in first
    assert first.endswith("skipped 1 file: green/ (cannot read folder (Permission denied))")
    assert second == f"DataError: {folder}/green: cannot read folder (Permission denied)"


def test_a_killed_cache_write_leaves_nothing_behind_for_long(tmp_path, cache_dir):
    folder = colour_folder(tmp_path / "c", per_class=2)
    parts = cache_dir / "image-folders"
    parts.mkdir(parents=True)
    old, fresh = parts / ".abc-28px-3ch.bin.x1.part.bin", parts / ".abc-28px-3ch.bin.x2.part.bin"
    old.write_bytes(b"half"), fresh.write_bytes(b"half")
    os.utime(old, (1, 1))
    _load(folder)
    assert not old.exists() and fresh.exists()  # a fresh one may belong to a write still going on


def test_names_with_line_breaks_stay_on_one_line(tmp_path):
    folder = colour_folder(tmp_path / "c", per_class=2)
    (folder / "red" / "two\nlines.png").write_text("x")
    (folder / "red\u2028class").mkdir()
    save_image(folder / "red\u2028class" / "ok.png", ("RGB", (9, 9), (255, 0, 0)))
    dataset = _load(folder)
    assert "red\\u2028class" in dataset.class_names
    line = dataset.describe()
    assert "red/two\\nlines.png (not a PNG" in line and line.isprintable()
