"""Issue 21, wrong or missing words: what vaestudio says about a damaged EXIF block, a superscript device
count and the temporary file Keras leaves when killed while saving the model."""

from __future__ import annotations

import io
import struct
import warnings

from hostile_helpers import run_cli, stderr_problems


def jpeg_with_corrupt_exif() -> bytes:
    from PIL import Image

    # A TIFF block whose one entry says its 20 bytes start 5 bytes before the block's end (Pillow: "Possibly
    # corrupt EXIF data"), and an entry whose data lies far past the end ("Tag data larger than file").
    head = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2)
    size = len(head) + 2 * 12 + 4
    tiff = head + struct.pack("<HHII", 0x010E, 2, 20, size - 5) + struct.pack("<HHII", 0x010F, 2, 4000, 100)
    tiff += struct.pack("<I", 0)
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 90).save(buffer, format="JPEG", exif=b"Exif\x00\x00" + tiff)
    return buffer.getvalue()


def test_corrupt_exif_gives_the_picture_and_no_pillow_warning():
    from vaestudio.core.data.decode import decode_image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = decode_image(jpeg_with_corrupt_exif(), 28, 1)
    assert pixels.shape == (28, 28)
    assert not [w for w in caught if "PIL" in w.filename], [str(w.message) for w in caught]


def test_a_superscript_device_count_is_a_one_line_error(tmp_path):
    result = run_cli(["train", "--dataset", "mnist", "--devices", "²", "--out", str(tmp_path / "run")], timeout=120)
    assert result.returncode == 2, result.stderr
    assert not stderr_problems(result.stderr) and "--devices '²'" in result.stderr, result.stderr


def test_keras_temporary_model_files_count_as_leftovers(tmp_path):
    from vaestudio.core.store.run_folder import RunFolder

    folder = tmp_path / "run"
    folder.mkdir()
    keras_part = folder / ".model.keras.k2j4h_9a.part.keras.keras"
    ours = folder / ".model.keras.k2j4h_9a.part.keras"
    for path in (keras_part, ours):
        path.write_bytes(b"PK")
    assert RunFolder(folder).leftovers() == sorted([keras_part, ours])
    assert RunFolder(folder).remove_leftovers() == 2 and not list(folder.iterdir())
