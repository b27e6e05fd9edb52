"""PNG/GIF export: what a user opens afterwards, and that failures never damage an existing file."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from PIL import Image

from vaestudio.core.store import images as export
from vaestudio.core.errors import ExportError


def _binary_mosaic(seed: int, size: int = 56) -> np.ndarray:
    return (np.random.default_rng(seed).random((size, size)) > 0.5).astype(np.uint8) * 255


def _gif_frames(path) -> tuple[list[np.ndarray], list[int], dict]:
    """Every frame as displayed (composited, grayscale), each frame's duration in ms, and the file info."""
    with Image.open(path) as im:
        info = dict(im.info)
        frames, durations = [], []
        for index in range(im.n_frames):
            im.seek(index)
            durations.append(im.info["duration"])
            frames.append(np.asarray(im.convert("L")))
    return frames, durations, info


def test_png_round_trip_keeps_every_gray_level(tmp_path):
    mosaic = np.arange(256, dtype=np.uint8).reshape(16, 16)
    path = export.save_png(mosaic, tmp_path / "grid.png")
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("L")), mosaic)


def test_scale_upscales_each_pixel_to_a_block(tmp_path):
    mosaic = np.array([[0, 255], [128, 7]], dtype=np.uint8)
    frame = export.to_rgb_frame(mosaic, scale=3)
    assert frame.shape == (6, 6, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[:3, 3:, 0], np.full((3, 3), 255))
    np.testing.assert_array_equal(frame[3:, :3, 1], np.full((3, 3), 128))
    np.testing.assert_array_equal(frame[..., 0], frame[..., 2])


def test_caption_adds_a_band_with_text_below_the_untouched_image():
    mosaic = _binary_mosaic(1, size=280)  # a 10 x 10 grid of 28-pixel garments
    plain = export.to_rgb_frame(mosaic)
    captioned = export.to_rgb_frame(mosaic, caption="epoch 1 · batch 75")
    assert captioned.shape[1] == plain.shape[1] and captioned.shape[0] > plain.shape[0]
    np.testing.assert_array_equal(captioned[: plain.shape[0]], plain)
    band = captioned[plain.shape[0] :, :, 0]
    assert band.max() > 200, "caption text should be drawn in the band"
    # A different caption changes the pixels but not the band height (GIF frames must match).
    other = export.to_rgb_frame(mosaic, caption="epoch 12 · batch 1875")
    assert other.shape == captioned.shape
    assert not np.array_equal(other, captioned)


def test_gif_has_all_frames_duration_and_loops_forever(tmp_path):
    mosaics = [_binary_mosaic(seed) for seed in range(4)]
    path = export.save_gif(mosaics, tmp_path / "anim.gif", frame_seconds=0.25)
    frames, durations, info = _gif_frames(path)
    assert len(frames) == 4
    assert durations == [250] * 4
    assert info.get("loop") == 0  # NETSCAPE extension present, 0 = forever
    for written, read in zip(mosaics, frames):
        np.testing.assert_array_equal(read, written)  # binary stays exactly 0/255, no dithering


def test_gif_loop_count_and_captions_are_written(tmp_path):
    mosaics = [_binary_mosaic(seed, size=28) for seed in range(3)]
    captions = [f"epoch {i + 1} · batch 75" for i in range(3)]
    path = export.save_gif(mosaics, tmp_path / "anim.gif", frame_seconds=0.5, captions=captions, scale=2, loop=3)
    frames, durations, info = _gif_frames(path)
    assert info.get("loop") == 3
    assert durations == [500] * 3
    expected = [export.to_rgb_frame(m, caption=c, scale=2)[..., 0] for m, c in zip(mosaics, captions)]
    assert frames[0].shape == expected[0].shape
    for written, read in zip(expected, frames):
        np.testing.assert_array_equal(read, written)


def test_gif_rejects_empty_and_mismatched_frames(tmp_path):
    target = tmp_path / "anim.gif"
    with pytest.raises(ExportError, match="no frames"):
        export.save_gif([], target)
    frames = [_binary_mosaic(0, 56), _binary_mosaic(1, 56), _binary_mosaic(2, 28)]
    with pytest.raises(ExportError, match=r"frame 2 has shape \(28, 28\)"):
        export.save_gif(frames, target)
    with pytest.raises(ExportError, match="2 captions given for 3 frames"):
        export.save_gif(frames[:2] + [frames[0]], target, captions=["a", "b"])
    with pytest.raises(ExportError, match="frame_seconds"):
        export.save_gif(frames[:1], target, frame_seconds=0)
    assert not target.exists()


def test_bad_mosaic_is_an_export_error_naming_the_path(tmp_path):
    target = tmp_path / "grid.png"
    with pytest.raises(ExportError, match="grid.png.*uint8"):
        export.save_png(np.zeros((28, 28), dtype=np.float32), target)
    with pytest.raises(ExportError, match="scale"):
        export.save_png(np.zeros((28, 28), dtype=np.uint8), target, scale=0)
    assert not target.exists()


def test_parent_that_is_a_file_is_an_export_error(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    target = blocker / "anim.gif"
    with pytest.raises(ExportError, match="anim.gif"):
        export.save_gif([_binary_mosaic(0)], target)
    with pytest.raises(ExportError, match="grid.png"):
        export.save_png(_binary_mosaic(0), blocker / "grid.png")
    assert blocker.read_text() == "x"


def test_missing_parent_folders_are_created(tmp_path):
    target = tmp_path / "a" / "b" / "grid.png"
    export.save_png(_binary_mosaic(0), target)
    assert target.is_file()


def _existing_gif(tmp_path):
    target = tmp_path / "anim.gif"
    export.save_gif([_binary_mosaic(7), _binary_mosaic(8)], target)
    return target, target.read_bytes()


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def _write_with_file_size_limit(tmp_path, limit: int, code: str):
    """Run `code` in a subprocess whose writes beyond `limit` bytes per file fail for real (EFBIG)."""
    import resource
    import signal
    import subprocess
    import sys

    def limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          preexec_fn=limit_files, timeout=120)


def test_a_full_disk_midway_leaves_the_existing_gif_unchanged_and_says_so_once(tmp_path):
    target, before = _existing_gif(tmp_path)
    code = ("import numpy as np, sys\n"
            "from vaestudio.core.store.images import save_gif\n"
            "from vaestudio.core.errors import ExportError\n"
            "frames = [(np.random.default_rng(i).random((280, 280)) * 255).astype(np.uint8) for i in range(20)]\n"
            "try:\n"
            "    save_gif(frames, 'anim.gif')\n"
            "except ExportError as exc:\n"
            "    print(exc)\n"
            "    sys.exit(2)\n")
    result = _write_with_file_size_limit(tmp_path, 200_000, code)
    assert result.returncode == 2, result.stderr
    assert "anim.gif" in result.stdout and "too large" in result.stdout.lower()
    assert result.stderr == ""  # no "Exception ignored" or traceback noise
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, "anim.gif") == []


def test_read_only_folder_is_an_export_error_and_keeps_existing_file(tmp_path, monkeypatch):
    # Tests run as root, where chmod does not block writes: make the final rename fail as on a read-only folder.
    target, before = _existing_gif(tmp_path)

    def read_only_replace(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))

    monkeypatch.setattr(os, "replace", read_only_replace)
    with pytest.raises(ExportError, match=r"anim\.gif.*Read-only"):
        export.save_gif([_binary_mosaic(3)], target)
    with pytest.raises(ExportError, match=r"grid\.png.*Read-only"):
        export.save_png(_binary_mosaic(3), tmp_path / "grid.png")
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, "anim.gif") == []


def test_fewer_grey_levels_make_a_smaller_gif_of_the_same_frames(tmp_path):
    # Decoded grids are soft blobs: smooth fields pushed through a sigmoid, like the decoder's output.
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(10):
        field = rng.normal(size=(14, 14)).repeat(8, axis=0).repeat(8, axis=1)
        for axis in (0, 1):
            field = (np.roll(field, 2, axis) + field + np.roll(field, -2, axis)) / 3
        frames.append((255 / (1 + np.exp(-4 * field))).astype(np.uint8))
    full = export.save_gif(frames, tmp_path / "full.gif")
    small = export.save_gif(frames, tmp_path / "small.gif", levels=16)
    assert small.stat().st_size < full.stat().st_size * 0.7
    decoded, _, _ = _gif_frames(small)
    assert len(decoded) == len(frames) and len(np.unique(np.concatenate(decoded))) <= 16
    assert np.abs(decoded[3].astype(int) - frames[3]).max() <= 9  # within half a step of 17 levels


def test_colour_mosaics_export_as_png_and_gif(tmp_path):
    rgb = np.zeros((56, 56, 3), np.uint8)
    rgb[:28, :, 0] = 255
    rgb[28:, :, 2] = 200
    export.save_png(rgb, tmp_path / "c.png", caption="epoch 1")
    with Image.open(tmp_path / "c.png") as image:
        assert image.mode == "RGB" and image.getpixel((5, 5)) == (255, 0, 0)
    export.save_gif([rgb, rgb[::-1]], tmp_path / "c.gif")
    frames, _, _ = _gif_frames(tmp_path / "c.gif")
    assert len(frames) == 2
