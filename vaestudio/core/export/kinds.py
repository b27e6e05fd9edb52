"""Every export a snapshot offers, by name, with one function that writes any of them (the window's
File → Export… uses it; `vaestudio export` calls the same writers)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import ExportError
from vaestudio.core.export.formats import MODEL_FORMATS, missing_converter
from vaestudio.core.weights import VaeWeights

# name -> what the user picks from
EXPORT_KINDS = {
    "keras": "Keras 3 models (encoder.keras, decoder.keras)",
    "savedmodel": "TensorFlow SavedModel (signatures encode, decode)",
    "onnx": "ONNX models (encoder.onnx, decoder.onnx)",
    "tflite": "LiteRT / TensorFlow Lite models (.tflite)",
    "tfjs": "TensorFlow.js layers models (model.json + weights)",
    "latents": "Latent codes of the test set (.npz or .csv)",
    "projector": "TensorBoard Projector files of the test set's codes",
}
FILE_KINDS = ("latents",)  # the others write a folder


def unavailable(kind: str) -> str | None:
    """Why `kind` cannot be written on this machine, or None."""
    return missing_converter(kind) if kind in MODEL_FORMATS else None


def export_kind(kind: str, weights: VaeWeights, path: str | Path, source: str = "", config: TrainConfig | None = None,
                load_dataset: Callable[[TrainConfig], object] | None = None) -> str:
    """Write export `kind` of one snapshot to `path`; a short description of what was written. The latent
    codes need the run's `config` (its test set, loaded by `load_dataset`, by default from its files)."""
    if kind not in EXPORT_KINDS:
        raise ExportError(f"{kind!r}: unknown export (choose one of {', '.join(EXPORT_KINDS)})")
    path = Path(path)
    if kind in MODEL_FORMATS:
        from vaestudio.core.export.formats import export_model

        export_model(weights, kind, path, source)
        return f"the {kind} encoder and decoder"
    if config is None:
        raise ExportError(f"{path}: the latent codes need the run's test set, and this model has no settings")
    from vaestudio.core.export.latents import LATENT_SUFFIXES, encode_test_set, write_latents
    from vaestudio.core.export.projector import CONFIG, FILES, write_projector
    from vaestudio.core.export.target import check_file_target, check_folder_target

    if kind == "latents":
        check_file_target(path, LATENT_SUFFIXES)
    else:
        check_folder_target(path, marker=CONFIG, only=FILES)
    if load_dataset is None:
        from vaestudio.core.runs import default_dataset_loader as load_dataset
    dataset = load_dataset(config)
    codes = encode_test_set(weights, dataset.test_images, dataset.test_labels, tuple(dataset.class_names))
    if kind == "latents":
        write_latents(codes, path)
        return f"the latent codes of {len(codes.mean)} test images"
    _folder, count = write_projector(codes, path)
    return f"the Projector files of {count} test images"
