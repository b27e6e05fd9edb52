"""A VAE's weights as plain arrays: what a snapshot keeps, and what the NumPy VAE and the probes read.

`VaeWeights` holds the encoder's and the decoder's arrays in Keras's `get_weights()` order together with
the `Architecture` they belong to. A weights file is a small uncompressed `.npz` (float32, no pickles)
that carries its architecture, written atomically; reading one checks every size before trusting it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.errors import ConfigError, RunFolderError

FORMAT = 1
_META = "meta"
# No trained VAE has a weight anywhere near this; larger values overflow float32 as soon as they are used.
MAX_ABS_WEIGHT = 1e6


@dataclass(frozen=True, eq=False)
class VaeWeights:
    """Encoder and decoder arrays (float32) of one model at one moment."""

    architecture: Architecture
    encoder: tuple[np.ndarray, ...]
    decoder: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder", tuple(np.asarray(a, dtype=np.float32) for a in self.encoder))
        object.__setattr__(self, "decoder", tuple(np.asarray(a, dtype=np.float32) for a in self.decoder))
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """Why these arrays do not fit the architecture (or are not finite); None when they do."""
        for part, arrays, shapes in (("encoder", self.encoder, self.architecture.encoder_shapes()),
                                     ("decoder", self.decoder, self.architecture.decoder_shapes())):
            found = [tuple(a.shape) for a in arrays]
            if found != shapes:
                return (f"{part} weights of shapes {found} do not fit a model of {self.architecture.describe()} "
                        f"(expected {shapes})")
            if not all(np.isfinite(a).all() for a in arrays):
                return f"{part} weights hold NaN or infinite values"
            largest = max((float(np.abs(a).max()) for a in arrays if a.size), default=0.0)
            if largest > MAX_ABS_WEIGHT:
                return (f"{part} weights hold absurd values (up to {largest:.3g}; a trained model's stay far "
                        f"below {MAX_ABS_WEIGHT:.0e})")
        return None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.encoder + self.decoder)

    @classmethod
    def from_model(cls, model) -> "VaeWeights":
        """Copy a Keras CVAE's weights (call in the thread that trains it)."""
        return cls(model.architecture, tuple(model.encoder.get_weights()), tuple(model.decoder.get_weights()))

    # -- files -----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write as `.npz` atomically; errors become ExportError naming the file."""
        from vaestudio.core.store.atomic import atomic_path

        meta = {"format": FORMAT, "architecture": self.architecture.to_dict(),
                "encoder": len(self.encoder), "decoder": len(self.decoder)}
        arrays = {_META: np.array(json.dumps(meta))}
        arrays |= {f"encoder_{i}": a for i, a in enumerate(self.encoder)}
        arrays |= {f"decoder_{i}": a for i, a in enumerate(self.decoder)}
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path, error: type[Exception] = RunFolderError) -> "VaeWeights":
        """Read a weights file; anything damaged, foreign or oversized raises `error` naming the file."""
        from vaestudio.core.store.npz import read_npz
        from vaestudio.core.store.safe_files import short

        path = Path(path)
        arrays = read_npz(path, error, MAX_WEIGHTS_BYTES, "weights file")
        try:
            return cls._from_arrays(path, arrays, error)
        except error as exc:
            raise error(short(str(exc))) from None

    @classmethod
    def _from_arrays(cls, path: Path, arrays: dict[str, np.ndarray], error: type[Exception]) -> "VaeWeights":
        if _META not in arrays or arrays[_META].size * arrays[_META].itemsize > 1 << 20:
            raise error(f"{path}: damaged weights file (no metadata, or metadata larger than 1 MB)")
        try:
            meta = json.loads(str(arrays[_META]))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise error(f"{path}: weights format {meta.get('format') if isinstance(meta, dict) else meta!r} "
                            f"is not supported (this vaestudio reads format {FORMAT})")
            architecture = Architecture.from_dict(meta["architecture"], source=str(path))
            counts = int(meta["encoder"]), int(meta["decoder"])
            if counts != (len(architecture.encoder_shapes()), len(architecture.decoder_shapes())):
                raise error(f"{path}: holds {counts[0]} encoder and {counts[1]} decoder arrays, "
                            f"which does not fit a model of {architecture.describe()}")
            encoder = tuple(arrays[f"encoder_{i}"] for i in range(counts[0]))
            decoder = tuple(arrays[f"decoder_{i}"] for i in range(counts[1]))
            for array in encoder + decoder:
                if not np.issubdtype(array.dtype, np.floating):
                    raise error(f"{path}: weights of type {array.dtype}, expected floating point")
            return cls(architecture, encoder, decoder)
        except RecursionError:
            raise error(f"{path}: damaged weights file (its metadata is nested too deeply)") from None
        except (ValueError, KeyError, TypeError, ConfigError, json.JSONDecodeError) as exc:
            if isinstance(exc, error):
                raise
            raise error(f"{path}: damaged weights file ({type(exc).__name__}: {str(exc)[:200]})") from None


# A weights file of the largest supported model stays far below this; anything bigger is not ours.
MAX_WEIGHTS_BYTES = 256 * 1024 * 1024
