"""The CVAE: the tutorial's architecture, .keras round trip, and clear errors for foreign files."""

import zipfile

import numpy as np
import pytest

from vaestudio.core.errors import ModelFileError

keras = pytest.importorskip("keras")
from vaestudio.core.tf.model import build_cvae, load_model, save_model  # noqa: E402


def test_architecture_matches_the_tutorial():
    model = build_cvae(2)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.encoder.layers]
    assert shapes == [(13, 13, 32), (6, 6, 64), (2304,), (4,)]
    shapes = [tuple(layer.output.shape[1:]) for layer in model.decoder.layers]
    assert shapes == [(1568,), (7, 7, 32), (14, 14, 64), (28, 28, 32), (28, 28, 1)]
    assert model.decoder.layers[-1].activation.__name__ == "linear"  # logits


def test_save_and_load_round_trip(tmp_path):
    model = build_cvae(3)
    path = save_model(model, tmp_path / "m.keras")
    loaded = load_model(path)
    assert loaded.latent_dim == 3
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.decode(z).numpy(), model.decode(z).numpy(), atol=1e-6)


def test_not_a_model_file_is_refused_by_name(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"\x89PNG not a model")
    with pytest.raises(ModelFileError, match="junk.keras: not a .keras model file"):
        load_model(junk)
    with pytest.raises(ModelFileError, match="missing.keras: no such model file"):
        load_model(tmp_path / "missing.keras")


def test_model_of_another_architecture_is_refused(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "other.keras"
    other.save(path)
    with pytest.raises(ModelFileError, match="other.keras: .*another architecture"):
        load_model(path)


def test_damaged_archive_is_refused(tmp_path):
    path = save_model(build_cvae(2), tmp_path / "ok.keras")
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith(".h5"):
                target.writestr(item, source.read(item))
    with pytest.raises(ModelFileError, match="damaged.keras"):
        load_model(damaged)


def test_failed_save_keeps_the_previous_model(tmp_path, monkeypatch):
    path = save_model(build_cvae(2), tmp_path / "m.keras")
    before = path.read_bytes()
    model = build_cvae(2)

    def broken_save(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(model), "save", broken_save)
    with pytest.raises(Exception):
        save_model(model, path)
    assert path.read_bytes() == before
