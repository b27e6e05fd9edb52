"""Issue 20: `vaestudio export --format tfjs` loaded back by its own runtime — TensorFlow.js's
`tf.loadLayersModel` in Debian's Chromium (the browser of tests/test_report_browser.py) — encodes and
decodes as the NumPy VAE does, within 1e-4 (float32 on TF.js's cpu backend against float32 NumPy).

The page inlines the pinned tf.min.js and the exported files (model.json, weights.bin as base64) and hands
them to `tf.io.fromMemory`: a file:// page may not fetch its neighbours, and the files are what is tested.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from hostile_helpers import tiny_idx, trained_runs
from test_report_browser import _missing, browser

__all__ = ["browser", "tiny_idx", "trained_runs"]  # fixtures

TOLERANCE = 1e-4

PAGE = """<!doctype html><html><head><meta charset="utf-8"><script>{tfjs}</script></head><body><script>
async function load(files) {{
  const model = files.model;
  const bytes = Uint8Array.from(atob(files.weights), c => c.charCodeAt(0));
  const specs = model.weightsManifest.flatMap(group => group.weights);
  return tf.loadLayersModel(tf.io.fromMemory(model.modelTopology, specs, bytes.buffer));
}}
(async () => {{
  try {{
    await tf.setBackend('cpu');
    const data = {data};
    const encoder = await load(data.encoder), decoder = await load(data.decoder);
    const images = tf.tensor(data.images, data.image_shape);
    const encoded = encoder.predict(images);
    const pixels = decoder.predict(tf.tensor2d(data.points, data.point_shape));
    window.RESULT = {{mean: Array.from(await encoded[0].data()), logvar: Array.from(await encoded[1].data()),
                      pixels: Array.from(await pixels.data())}};
  }} catch (error) {{
    window.RESULT = {{error: String(error)}};
  }}
}})();
</script></body></html>
"""


def _files(folder: Path) -> dict:
    model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    (group,) = model["weightsManifest"]
    data = b"".join((folder / path).read_bytes() for path in group["paths"])
    return {"model": model, "weights": base64.b64encode(data).decode("ascii")}


def test_tensorflow_js_loads_the_exported_models_and_computes_the_numpy_vaes_numbers(browser, trained_runs,
                                                                                       tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    from vaestudio.cli import main
    from vaestudio.core import probes
    from vaestudio.core.numpy_vae import NumpyVAE
    from vaestudio.core.store.run_folder import RunFolder
    from vaestudio.report.tfjs import TfjsMissing, read_tfjs
    from vaestudio.reports import test_split

    try:
        tfjs = read_tfjs()
    except TfjsMissing as exc:
        _missing(str(exc))
    out = tmp_path / "tfjs"
    assert main(["export", str(trained_runs.finished), "--format", "tfjs", "--out", str(out)]) == 0
    folder = RunFolder(trained_runs.finished)
    weights = folder.snapshots.load_weights(folder.snapshots.records()[-1])
    images, *_ = test_split(folder.read_config(), None)
    inputs = probes.model_inputs(images[:8], weights.architecture).astype(np.float32)
    points = np.random.default_rng(3).normal(0, 1.5, (9, weights.architecture.latent_dim)).astype(np.float32)
    data = {"encoder": _files(out / "encoder"), "decoder": _files(out / "decoder"),
            "images": inputs.ravel().tolist(), "image_shape": list(inputs.shape),
            "points": points.ravel().tolist(), "point_shape": list(points.shape)}
    page = tmp_path / "tfjs.html"
    page.write_text(PAGE.format(tfjs=tfjs, data=json.dumps(data)), encoding="utf-8")
    browser.get(page.as_uri())
    result = WebDriverWait(browser, 60).until(lambda driver: driver.execute_script("return window.RESULT || null"))
    assert "error" not in result, result["error"]
    vae = NumpyVAE(weights)
    mean, logvar = vae.encode(inputs)
    expected = vae.decode(points)
    if json.loads((out / "vaestudio-export.json").read_text(encoding="utf-8")).get("decoder_output") == "logits":
        expected = vae.decode_logits(points)
    differences = {"mean": np.abs(np.reshape(result["mean"], mean.shape) - mean).max(),
                   "logvar": np.abs(np.reshape(result["logvar"], logvar.shape) - logvar).max(),
                   "pixels": np.abs(np.reshape(result["pixels"], expected.shape) - expected).max()}
    assert max(differences.values()) < TOLERANCE, differences
    print(f"TF.js against NumPy: {differences}")  # the figures for the README (pytest -s)
