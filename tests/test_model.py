"""The CVAE: the tutorial's architecture and its larger sibling, .keras round trips (0.1.0's files too),
and model files refused by name, quickly and with little memory when crafted or foreign."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import ModelFileError
from vaestudio.core.latent import grid_axis_values
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
from vaestudio.core.tf.model import build_cvae, decode_grid, model_from_weights  # noqa: E402
from vaestudio.core.tf.model_file import check_model_file, load_model, save_model  # noqa: E402


def rewrite_member(source, target, name, data: bytes, compress=zipfile.ZIP_STORED):
    """Copy a .keras archive, replacing one member's bytes."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compress) as new:
        for item in old.infolist():
            new.writestr(item.filename, data if item.filename == name else old.read(item))
    return target


def config_of(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def test_architecture_matches_the_tutorial():
    model = build_cvae(2)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.encoder.layers]
    assert shapes == [(13, 13, 32), (6, 6, 64), (2304,), (4,)]
    shapes = [tuple(layer.output.shape[1:]) for layer in model.decoder.layers]
    assert shapes == [(1568,), (7, 7, 32), (14, 14, 64), (28, 28, 32), (28, 28, 1)]
    assert model.decoder.layers[-1].activation.__name__ == "linear"  # logits
    assert model.architecture == Architecture(2) and build_cvae(Architecture(2)).count_params() == model.count_params()


def test_larger_images_add_one_stage_on_each_side():
    model = build_cvae(Architecture(5, 64, 3))
    shapes = [tuple(layer.output.shape[1:]) for layer in model.encoder.layers]
    assert shapes == [(31, 31, 32), (15, 15, 64), (7, 7, 128), (6272,), (10,)]
    shapes = [tuple(layer.output.shape[1:]) for layer in model.decoder.layers]
    assert shapes == [(2048,), (8, 8, 32), (16, 16, 128), (32, 32, 64), (64, 64, 32), (64, 64, 3)]


@pytest.mark.parametrize("arch", [Architecture(1), Architecture(7), Architecture(2, 64, 1), Architecture(3, 64, 3)])
def test_weights_come_in_the_order_and_shapes_the_architecture_names(arch):
    model = build_cvae(arch)
    assert [w.shape for w in model.encoder.get_weights()] == arch.encoder_shapes()
    assert [w.shape for w in model.decoder.get_weights()] == arch.decoder_shapes()
    assert model.count_params() == arch.parameter_count()


def test_model_from_weights_round_trips_and_agrees_with_numpy():
    arch = Architecture(3, 64, 3, "continuous_bernoulli")
    rng = np.random.default_rng(0)
    weights = VaeWeights(arch, tuple(rng.normal(0, 0.05, s) for s in arch.encoder_shapes()),
                         tuple(rng.normal(0, 0.05, s) for s in arch.decoder_shapes()))
    model = model_from_weights(weights)
    assert model.architecture == arch
    again = VaeWeights.from_model(model)
    for a, b in zip(again.encoder + again.decoder, weights.encoder + weights.decoder):
        np.testing.assert_array_equal(a, b)
    z = rng.normal(size=(3, 3)).astype(np.float32)
    np.testing.assert_allclose(model.decoder(z).numpy(), NumpyVAE(weights).decode_logits(z), atol=1e-4)


@pytest.mark.parametrize("arch", [Architecture(3), Architecture(2, 64, 3, "continuous_bernoulli")])
def test_save_and_load_round_trip(tmp_path, arch):
    model = build_cvae(arch)
    path = save_model(model, tmp_path / "m.keras")
    assert check_model_file(path) == arch
    loaded = load_model(path)
    assert loaded.architecture == arch and loaded.latent_dim == arch.latent_dim
    z = np.random.default_rng(0).normal(size=(4, arch.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(loaded.decode(z).numpy(), model.decode(z).numpy(), atol=1e-6)


def test_a_model_file_written_by_version_0_1_0_still_loads(tmp_path):
    model = build_cvae(2)
    path = save_model(model, tmp_path / "new.keras")
    config = config_of(path)
    config["config"] = {"latent_dim": 2, "name": "cvae"}  # all that 0.1.0 wrote
    old = rewrite_member(path, tmp_path / "old.keras", "config.json", json.dumps(config).encode())
    loaded = load_model(old)
    assert loaded.architecture == Architecture(2)
    z = np.ones((2, 2), np.float32)
    np.testing.assert_allclose(loaded.decode(z).numpy(), model.decode(z).numpy(), atol=1e-6)


def test_a_model_of_another_architecture_than_expected_is_refused(tmp_path):
    path = save_model(build_cvae(3), tmp_path / "three.keras")
    with pytest.raises(ModelFileError, match="three.keras: a model of 28x28 grey, latent dim 3.*not of.*latent dim 2"):
        load_model(path, expected=Architecture(2))


def test_not_a_model_file_is_refused_by_name(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"\x89PNG not a model")
    with pytest.raises(ModelFileError, match="junk.keras: not a .keras model file"):
        load_model(junk)
    with pytest.raises(ModelFileError, match="missing.keras: no such model file"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ModelFileError, match="not a file"):
        load_model(tmp_path)


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
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(ModelFileError, match="truncated.keras"):
        load_model(truncated)


def test_weights_of_another_shape_than_the_config_says_are_refused(tmp_path):
    path = save_model(build_cvae(2), tmp_path / "two.keras")
    config = config_of(path)
    config["config"]["latent_dim"] = 3
    liar = rewrite_member(path, tmp_path / "liar.keras", "config.json", json.dumps(config).encode())
    with pytest.raises(ModelFileError, match="liar.keras: not a vaestudio model"):
        load_model(liar)


@pytest.mark.parametrize("settings, match", [
    ({"latent_dim": 400000, "name": "cvae"}, "latent_dim must be between 1 and 64"),
    ({"latent_dim": 2.0}, "latent_dim must be a whole number"),
    ({"latent_dim": True}, "latent_dim must be a whole number"),
    ({"latent_dim": 2, "image_size": 4096}, "image_size must be one of 28, 64"),
    ({"latent_dim": 2, "likelihood": "gaussian"}, "likelihood must be one of"),
    ({"latent_dim": 2, "layers": 900}, "unknown model setting 'layers'"),
])
def test_config_values_are_checked_before_anything_is_built(tmp_path, settings, match):
    path = save_model(build_cvae(2), tmp_path / "ok.keras")
    config = config_of(path)
    config["config"] = settings
    crafted = rewrite_member(path, tmp_path / "crafted.keras", "config.json", json.dumps(config).encode())
    with pytest.raises(ModelFileError, match="crafted.keras: .*" + match):
        load_model(crafted)


def test_non_finite_and_damaged_configs_are_refused(tmp_path):
    path = save_model(build_cvae(2), tmp_path / "ok.keras")
    text = json.dumps(config_of(path)).replace('"latent_dim": 2', '"latent_dim": NaN')
    nan = rewrite_member(path, tmp_path / "nan.keras", "config.json", text.encode())
    with pytest.raises(ModelFileError, match="nan.keras: its config holds NaN"):
        load_model(nan)
    for name, data in (("deep", b"[" * 60000), ("binary", b"\xff\xfe{"), ("list", b"[1, 2]")):
        bad = rewrite_member(path, tmp_path / f"{name}.keras", "config.json", data)
        with pytest.raises(ModelFileError, match=f"{name}.keras: "):
            load_model(bad)


def test_oversized_and_unexpected_members_are_refused_unread(tmp_path):
    path = save_model(build_cvae(2), tmp_path / "ok.keras")
    bomb = rewrite_member(path, tmp_path / "bomb.keras", "config.json", b" " * 20_000_000, zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 400_000  # a small file that unpacks to 20 MB
    with pytest.raises(ModelFileError, match="bomb.keras: its config.json unpacks to 20000000 bytes"):
        load_model(bomb)
    fat = rewrite_member(path, tmp_path / "fat.keras", "model.weights.h5", bytes(5_000_000), zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="fat.keras: its weights unpack to 5000000 bytes, more than a model of "
                                             "28x28 grey, latent dim 2"):
        load_model(fat)
    extra = tmp_path / "extra.keras"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(extra, "w") as new:
        for item in old.infolist():
            new.writestr(item, old.read(item))
        new.writestr("assets/../../payload.py", b"print('hi')")
    with pytest.raises(ModelFileError, match="extra.keras: not a vaestudio model \\(unexpected member"):
        load_model(extra)


def test_an_archive_of_many_members_is_refused_before_it_is_listed(tmp_path):
    many = tmp_path / "many.keras"
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(5000):
            archive.writestr(f"m{index}", b"")
    with pytest.raises(ModelFileError, match="many.keras: not a vaestudio model \\(5000 archive members\\)"):
        load_model(many)


def test_a_compressed_hdf5_bomb_in_the_weights_is_refused(tmp_path):
    import h5py

    path = save_model(build_cvae(2), tmp_path / "ok.keras")
    h5_path = tmp_path / "bomb.h5"
    with h5py.File(h5_path, "w") as h5:  # 64 MB of zeros that pack into a few kilobytes
        h5.create_dataset("layers/dense/vars/0", data=np.zeros((4096, 4096), np.float32), compression="gzip",
                          chunks=(512, 512))
    assert h5_path.stat().st_size < 200_000
    crafted = rewrite_member(path, tmp_path / "h5bomb.keras", "model.weights.h5", h5_path.read_bytes())
    with pytest.raises(ModelFileError, match="h5bomb.keras: its weights unpack to more than"):
        load_model(crafted)


def test_a_crafted_latent_dim_is_refused_fast_and_small(tmp_path):
    """Issue 9 item 9: latent_dim 400000 in a 315 KB file took 15.5 GB and 54 s before being refused."""
    path = save_model(build_cvae(2), tmp_path / "ok.keras")
    config = config_of(path)
    config["config"]["latent_dim"] = 400000
    crafted = rewrite_member(path, tmp_path / "crafted.keras", "config.json", json.dumps(config).encode())
    assert 250_000 < crafted.stat().st_size < 400_000
    script = (
        "import json, resource, sys, time\n"
        "from vaestudio.core.tf.model_file import load_model\n"
        "from vaestudio.core.errors import ModelFileError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    load_model(sys.argv[1]); message = 'loaded'\n"
        "except ModelFileError as exc:\n"
        "    message = str(exc)\n"
        "seconds = time.perf_counter() - start\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(json.dumps({'message': message, 'seconds': seconds, 'peak_growth_kb': grown}))\n")
    result = subprocess.run([sys.executable, "-c", script, str(crafted)], capture_output=True, text=True, check=True,
                            timeout=300)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "latent_dim must be between 1 and 64, got 400000" in report["message"]
    assert report["seconds"] < 10, report  # refused before building anything (it took 54 s); not a speed check
    assert report["peak_growth_kb"] < 50_000, report  # the process's peak grew by less than 50 MB


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


def test_batched_grid_matches_the_tutorials_per_point_loop():
    import tensorflow_probability as tfp

    rng = np.random.default_rng(1)
    model = build_cvae(2)
    model.decoder.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.decoder.get_weights()])
    n = 4
    norm = tfp.distributions.Normal(0, 1)
    grid = norm.quantile(np.linspace(0.05, 0.95, n))
    np.testing.assert_allclose(grid.numpy(), grid_axis_values(n), atol=1e-5)
    expected = np.zeros((n * 28, n * 28))
    for i, yi in enumerate(grid):  # the article's loop
        for j, xi in enumerate(grid):
            z = np.array([[xi, yi]], np.float32)
            expected[i * 28:(i + 1) * 28, j * 28:(j + 1) * 28] = tf.sigmoid(model.decoder(z))[0, ..., 0]
    mosaic = decode_grid(model, n)
    # The article's figure has z2 growing downwards; vaestudio's grows upwards, like the plane's axis.
    expected = expected.reshape(n, 28, n * 28)[::-1].reshape(n * 28, n * 28)
    assert np.abs(mosaic.astype(float) - expected * 255).max() <= 1.0
    numpy_grid = NumpyVAE(VaeWeights(Architecture(2), tuple(model.encoder.get_weights()),
                                     tuple(model.decoder.get_weights()))).grid(n)
    assert np.abs(numpy_grid.astype(int) - mosaic).max() <= 1  # float rounding may flip a grey level
