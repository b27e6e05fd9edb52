"""A CVAE's `.keras` file: saved atomically, and checked before Keras reads any of it — its members and
their sizes, its config (read here, with a size cap, and validated as an `Architecture`), and the declared
sizes of the weights inside — so that a crafted or foreign file is refused in milliseconds with little memory.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from pathlib import Path

import keras

from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import ConfigError, ModelFileError
from vaestudio.core.tf.model import CVAE, PseudoInputs

CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"
METADATA_MEMBER = "metadata.json"
MAX_FILE_BYTES = 64 * 1024 * 1024  # the largest supported model with an optimizer is ~15 MB
MAX_JSON_BYTES = 64 * 1024  # ours are ~300 bytes
MAX_H5_OBJECTS = 512
MAX_MEMBERS = 16  # a .keras file of ours has 3 (0xFFFF, a ZIP64 archive, is refused too)
MAX_DIRECTORY_BYTES = 64 * 1024
MAX_ZIP_COMMENT = 0xFFFF
_END_RECORD = struct.Struct("<4s4H2LH")  # the zip format's end of central directory record
# The weights member may hold at most this many times the model's parameter bytes (an optimizer's
# state, should a compiled model be saved, is 2-3x), plus room for HDF5's own structures.
WEIGHTS_FACTOR = 4
WEIGHTS_SLACK_BYTES = 1024 * 1024
_CVAE_CONFIG_KEYS = {"latent_dim", "image_size", "channels", "likelihood", "prior", "pseudo_inputs", "model"}
_KERAS_CONFIG_KEYS = {"name", "trainable", "dtype"}


def save_model(model: CVAE, path: str | Path) -> Path:
    """Save as `.keras`, atomically (a failed save leaves any previous file untouched)."""
    from vaestudio.core.store.atomic import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: a model file must end in .keras")
    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")
        try:
            model.save(keras_tmp)
            keras_tmp.replace(tmp)
        finally:
            keras_tmp.unlink(missing_ok=True)
    return path


def load_model(path: str | Path, expected: Architecture | None = None) -> CVAE:
    """Load a `.keras` file saved by vaestudio (0.1.0's too); anything else raises ModelFileError naming
    the file. `expected`: refuse a model of another architecture than this one."""
    path = Path(path)
    architecture = check_model_file(path)
    if expected is not None and architecture != expected:
        raise ModelFileError(f"{path}: a model of {architecture.describe()}, not of {expected.describe()}")
    try:
        model = keras.saving.load_model(path, custom_objects={"CVAE": CVAE, "PseudoInputs": PseudoInputs},
                                        compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for foreign or damaged files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a vaestudio model ({reason[:200]})") from None
    if not isinstance(model, CVAE):
        raise ModelFileError(f"{path}: a Keras model of another architecture ({type(model).__name__}), not a vaestudio CVAE")
    if model.architecture != architecture:
        raise ModelFileError(f"{path}: the model built is not the one its config describes")
    return model


def check_model_file(path: str | Path) -> Architecture:
    """The architecture a `.keras` file holds, checked without letting Keras read it: ModelFileError
    (naming the file) for anything that is not a vaestudio model or asks for more than one can hold."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise ModelFileError(f"{path}: not a file")
    if size > MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: {size} bytes, larger than any vaestudio model file")
    try:
        with open(path, "rb") as handle:
            if not zipfile.is_zipfile(handle):
                raise ModelFileError(f"{path}: not a .keras model file (it is not a zip archive)")
            _check_directory(path, handle, size)
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                return _check_archive(path, archive)
    except ModelFileError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged model file ({type(exc).__name__}: {exc})") from None


def _check_directory(path: Path, handle, size: int) -> None:
    """Refuse archives whose central directory lists more members than a model has, before zipfile
    reads it (a directory of a million empty members costs ZipFile hundreds of megabytes)."""
    tail_size = min(size, MAX_ZIP_COMMENT + _END_RECORD.size)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _END_RECORD.size > len(tail):
        raise ModelFileError(f"{path}: damaged model file (no zip directory)")
    fields = _END_RECORD.unpack_from(tail, at)
    members, directory_bytes = fields[4], fields[5]
    if members > MAX_MEMBERS or directory_bytes > MAX_DIRECTORY_BYTES:
        raise ModelFileError(f"{path}: not a vaestudio model ({members} archive members)")


def _check_archive(path: Path, archive: zipfile.ZipFile) -> Architecture:
    members = {info.filename: info for info in archive.infolist()}
    unexpected = sorted(set(members) - {CONFIG_MEMBER, WEIGHTS_MEMBER, METADATA_MEMBER})
    if unexpected:
        raise ModelFileError(f"{path}: not a vaestudio model (unexpected member {unexpected[0][:100]!r})")
    if len(archive.infolist()) != len(members):
        raise ModelFileError(f"{path}: damaged model file (a member appears twice)")
    for name in (CONFIG_MEMBER, WEIGHTS_MEMBER):
        if name not in members:
            raise ModelFileError(f"{path}: not a .keras model file (no {name})")
    for name in (CONFIG_MEMBER, METADATA_MEMBER):
        if name in members and members[name].file_size > MAX_JSON_BYTES:
            raise ModelFileError(f"{path}: its {name} unpacks to {members[name].file_size} bytes, far more than "
                                 f"a vaestudio model's")
    architecture = _architecture_from_config(path, archive.read(members[CONFIG_MEMBER]))
    limit = WEIGHTS_FACTOR * 4 * architecture.parameter_count() + WEIGHTS_SLACK_BYTES
    weights = members[WEIGHTS_MEMBER]
    if weights.file_size > limit:
        raise ModelFileError(f"{path}: its weights unpack to {weights.file_size} bytes, more than a model of "
                             f"{architecture.describe()} holds")
    _check_weights(path, archive.read(weights), limit)
    return architecture


def _architecture_from_config(path: Path, raw: bytes) -> Architecture:
    def refuse_constant(name: str):
        raise ModelFileError(f"{path}: its config holds {name}, not a number")

    try:
        config = json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ModelFileError(f"{path}: damaged model config ({type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: not a Keras model config")
    class_name = config.get("class_name")
    ours = config.get("registered_name") == "vaestudio>CVAE" or (
        class_name == "CVAE" and str(config.get("module", "")).startswith("vaestudio."))
    if not ours:
        raise ModelFileError(f"{path}: a Keras model of another architecture ({str(class_name)[:80]}), "
                             f"not a vaestudio CVAE")
    values = config.get("config")
    if not isinstance(values, dict):
        raise ModelFileError(f"{path}: its config has no model settings")
    unknown = sorted(set(values) - _CVAE_CONFIG_KEYS - _KERAS_CONFIG_KEYS)
    if unknown:
        raise ModelFileError(f"{path}: unknown model setting {str(unknown[0])[:80]!r}")
    try:  # 0.1.0 saved only latent_dim: the rest default to the tutorial's
        return Architecture.from_dict({key: values[key] for key in _CVAE_CONFIG_KEYS if key in values},
                                      source="model config")
    except ConfigError as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def _check_weights(path: Path, raw: bytes, limit: int) -> None:
    """Walk the HDF5 weights (already in memory, size-checked): refuse datasets whose unpacked size
    exceeds `limit` in total (compressed HDF5 bombs), external or virtual storage, and too many objects."""
    import h5py

    total = 0
    objects = 0
    try:
        with h5py.File(io.BytesIO(raw), "r") as h5:
            pending = [h5]
            while pending:
                group = pending.pop()
                for name in group:
                    objects += 1
                    if objects > MAX_H5_OBJECTS:
                        raise ModelFileError(f"{path}: its weights file holds more than {MAX_H5_OBJECTS} objects")
                    link = group.get(name, getlink=True)
                    if isinstance(link, h5py.ExternalLink):
                        raise ModelFileError(f"{path}: its weights refer to data outside the file")
                    if not isinstance(link, h5py.HardLink):
                        continue  # soft links name objects reached anyway
                    item = group[name]
                    if isinstance(item, h5py.Group):
                        pending.append(item)
                    elif isinstance(item, h5py.Dataset):
                        if item.external or item.is_virtual:
                            raise ModelFileError(f"{path}: its weights refer to data outside the file")
                        total += math.prod(item.shape or ()) * item.dtype.itemsize
                        if total > limit:
                            raise ModelFileError(f"{path}: its weights unpack to more than a model of this "
                                                 f"architecture holds")
    except ModelFileError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, TypeError for damaged files
        raise ModelFileError(f"{path}: damaged weights ({type(exc).__name__})") from None
