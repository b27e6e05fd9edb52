"""What a report shows, read from a run folder: settings, lineage, metrics, the snapshots' grids, and the
chosen snapshot's weights, reconstructions, KL per dimension and inspect's figures. Plain data (no HTML):
page.py lays it out.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaestudio.core.errors import RunFolderError, VaeStudioError

# The page's target is 10 MB for the 10-epoch tutorial run: TensorFlow.js (1.5 MB), the decoder's weights
# (0.2 MB), the snapshots' grids and the training animation share the rest.
PAGE_BUDGET = 10_000_000
GRID_BUDGET = 4_500_000  # bytes of base64 for the snapshots' grids at most
MIN_GRID_BUDGET = 1_500_000  # the training animation is left out rather than leave the grids less than this
FIXED_BYTES = 2_300_000  # TensorFlow.js, the decoder's weights, the reconstructions and the rest
MAX_SNAPSHOTS = 40  # grids in the slider at most (evenly spread, the chosen one always among them)
RECONSTRUCTION_CLASSES = 10


@dataclass(frozen=True)
class Snapshot:
    frame: int
    epoch: int
    step: int
    label: str
    grid_png: str  # data URI


@dataclass
class Figures:
    """inspect's figures at the chosen snapshot, with the settings they were computed with."""

    images: int = 0
    data: str = ""
    elbo: float | None = None
    elbo_standard_error: float | None = None
    log_likelihood_term: float | None = None
    kl: float | None = None
    iwae: dict | None = None
    kl_per_dimension: list[float] = field(default_factory=list)
    active_units: int | None = None
    diagnosis: list[str] = field(default_factory=list)
    reconstructions_png: str | None = None  # data URI: originals above their reconstructions
    means: np.ndarray | None = None  # the test images' posterior means (N, latent_dim), for the plane's dots
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


@dataclass
class ReportContent:
    folder: Path
    name: str
    settings: dict
    architecture: str
    lineage: list[tuple[str, int]]
    metrics: list[dict]
    snapshots: list[Snapshot]
    chosen: Snapshot
    weights: object  # VaeWeights of the chosen snapshot
    plane_axes: tuple[int, int]
    figures: Figures
    animation_gif: str | None
    notes: list[str]


def png_data_uri(picture: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def gather(target: str | Path, at: str | None = None, iwae_k: int = 100, images: int = 1000,
           progress=None, load_dataset=None) -> ReportContent:
    """Everything a report of the run folder `target` shows, at snapshot `at` (`load_dataset(config)` reads
    the run's data; default: where the run's config says)."""
    from vaestudio.core.store.run_folder import ANIMATION
    from vaestudio.core.store.snapshots import spread
    from vaestudio.reports import snapshot_at

    path = Path(target)
    if not path.is_dir():
        raise RunFolderError(f"{path}: no such run folder")
    folder, config, records, record, weights = snapshot_at(path, at, "its decoder cannot be put in a report")
    notes: list[str] = []
    gif, animation = folder.file(ANIMATION), None
    grid_budget = GRID_BUDGET
    if gif.is_file():
        encoded = -(-gif.stat().st_size // 3) * 4
        if PAGE_BUDGET - FIXED_BYTES - encoded >= MIN_GRID_BUDGET:
            try:
                animation = "data:image/gif;base64," + base64.b64encode(gif.read_bytes()).decode("ascii")
            except OSError as exc:
                raise RunFolderError(f"{gif}: cannot be read ({exc.strerror or exc})") from None
            grid_budget = min(GRID_BUDGET, PAGE_BUDGET - FIXED_BYTES - encoded)
        else:
            notes.append(f"{gif.name} ({gif.stat().st_size / 1e6:.1f} MB) is not embedded: it would take the page "
                         f"over {PAGE_BUDGET / 1e6:.0f} MB; the slider shows the same grids")
    _say(progress, "reading the snapshots' grids")
    snapshots, grid_notes = _grids(folder, records, record, spread, grid_budget)
    notes += grid_notes
    chosen = next(s for s in snapshots if s.frame == record.frame)
    figures = _figures(weights, config, folder.path, record, iwae_k, images, progress, load_dataset)
    kl = figures.kl_per_dimension
    order = sorted(range(len(kl)), key=lambda d: -kl[d]) if kl else list(range(weights.architecture.latent_dim))
    axes = (order[0], order[1]) if len(order) > 1 else (0, 0)
    from vaestudio.core.branching import lineage

    chain = [(str(p), step) for p, step in lineage(path)]
    return ReportContent(path, path.absolute().name, {k: v for k, v in config.to_dict().items()},
                         weights.architecture.describe(), chain, folder.metrics().rows(), snapshots, chosen,
                         weights, axes, figures, animation, notes)


def _grids(folder, records, record, spread, budget: int) -> tuple[list[Snapshot], list[str]]:
    """Grids of at most MAX_SNAPSHOTS snapshots (fewer while they exceed `budget` bytes)."""
    notes: list[str] = []
    limit = MAX_SNAPSHOTS
    cache: dict[int, str] = {}
    while True:
        picked = spread(records, limit)
        if record not in picked:
            picked = sorted([*picked, record], key=lambda r: r.frame)
        for r in picked:
            if r.frame not in cache:
                cache[r.frame] = png_data_uri(folder.snapshots.load_mosaic(r))
        total = sum(len(cache[r.frame]) for r in picked)
        if total <= budget or limit <= 2:
            break
        limit = max(2, min(limit - 1, int(limit * budget / total)))
    if len(picked) < len(records):
        notes.append(f"the slider shows {len(picked)} of the run's {len(records)} snapshots, evenly spread")
    return [Snapshot(r.frame, r.epoch, r.step, r.label, cache[r.frame]) for r in picked], notes


def _figures(weights, config, folder: Path, record, iwae_k: int, limit: int, progress,
             load_dataset=None) -> Figures:
    """inspect's figures on the first `limit` test images (cheap settings); a note instead when the run's
    data cannot be read."""
    from vaestudio.core import latent, probes
    from vaestudio.core.runs import default_dataset_loader

    figures = Figures()
    try:
        dataset = (load_dataset or default_dataset_loader)(config)
        test_images = np.asarray(dataset.test_images)[:limit]
        labels = np.asarray(dataset.test_labels)[:limit]
        figures.data = dataset.describe()
        figures.class_names = tuple(str(name) for name in dataset.class_names)
    except VaeStudioError as exc:
        figures.notes.append(f"the run's data could not be read ({exc}): no reconstructions or test figures")
        return figures
    if len(test_images) == 0:
        figures.notes.append("the run's data has no test images: no reconstructions or test figures")
        return figures
    figures.images = int(len(test_images))
    architecture = weights.architecture
    vae = probes.as_vae(weights)
    inputs = probes.model_inputs(test_images, architecture)
    _say(progress, f"encoding {len(inputs)} test images")
    posterior = probes.encode(vae, test_images, labels if architecture.classes else None)
    figures.means, figures.labels = posterior.mean, labels
    kl_dims = probes.kl_per_dimension(posterior.mean, posterior.logvar)  # against N(0, I), for the bars
    figures.kl_per_dimension = [float(v) for v in kl_dims]
    figures.kl = float(probes.PriorKl(vae)(posterior.mean, posterior.logvar).mean())  # the ELBO's: the model's prior
    figures.active_units = int(probes.active_units(posterior.mean).count)
    chosen: dict[int, int] = {}
    for index, label in enumerate(labels):
        chosen.setdefault(int(label), index)
        if len(chosen) >= RECONSTRUCTION_CLASSES:
            break
    picks = [chosen[k] for k in sorted(chosen)]
    result = probes.reconstruct(vae, test_images[picks], labels=labels[picks] if architecture.classes else None)
    top = latent.strip(latent.to_uint8(probes.model_inputs(test_images[picks], architecture)))
    figures.reconstructions_png = png_data_uri(np.concatenate([top, latent.strip(result.images)], axis=0))
    _say(progress, f"estimating log p(x) (IWAE, k = {iwae_k}) on {len(inputs)} test images")
    from vaestudio.core.iwae import iwae_log_likelihood  # NumPy (core/iwae.py): no TensorFlow to load

    started = time.perf_counter()
    estimate = iwae_log_likelihood(vae, inputs, k=max(1, iwae_k), labels=labels)  # a conditional one's log p(x|y)
    figures.elbo, figures.elbo_standard_error = float(estimate.elbo), float(estimate.elbo_standard_error)
    figures.log_likelihood_term = float(estimate.elbo + figures.kl)
    if iwae_k:
        figures.iwae = {"log_px": float(estimate.mean), "standard_error": float(estimate.standard_error),
                        "k": int(estimate.samples), "seconds": round(time.perf_counter() - started, 1)}
    _say(progress, "the diagnosis (cached classifier only)")
    from vaestudio.core.diagnosis.report import diagnosis_lines, inspect_fields

    fields = inspect_fields(weights, dataset, folder=folder, step=record.step, epoch=record.epoch,
                            warmup_steps=config.kl_warmup_steps, beta=config.beta, classifier="cached",
                            test_limit=limit, posterior=posterior)
    figures.diagnosis = diagnosis_lines(fields | {"images": figures.images})
    return figures


def _say(progress, text: str) -> None:
    if progress is not None:
        progress(text)
