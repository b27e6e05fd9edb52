"""The diagnosis as the command line reports it: `inspect --json`'s fields, `render --traversals`, and
the alarm line `train` prints. Thin glue over the diagnosis modules, so the CLI adds a call, not logic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from vaestudio.core import probes
from vaestudio.core.diagnosis import collapse, latent_quality, traversals, worst


def run_alarm(folder: str | Path | None, health: collapse.Health, warmup_steps: int = 0,
              beta: float | None = None, up_to_step: int | None = None) -> collapse.Alarm | None:
    """The collapse alarm of a run up to `up_to_step`, from its metrics.csv epoch rows (cheap: no model
    is run), the snapshot's own `health` closing the sequence; without a run folder (a model file), the
    snapshot's health alone."""
    moments: list[collapse.Health] = []
    if folder is not None:
        from vaestudio.core.store.metrics_log import MetricsLog

        path = Path(folder) / "metrics.csv"
        if path.is_file():
            moments = [h for h in collapse.health_from_metrics(MetricsLog(path).rows())
                       if up_to_step is None or h.step < up_to_step]
    return collapse.detect_collapse(moments + [health], warmup_steps, beta)


def inspect_fields(weights, dataset, *, folder: str | Path | None = None, step: int | None = None,
                   epoch: int | None = None, warmup_steps: int = 0, beta: float | None = None,
                   worst_count: int | None = None, classifier: str = "cached", test_limit: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   posterior: probes.Posterior | None = None) -> dict:
    """`inspect --json`'s diagnosis fields for one snapshot on `dataset` (a Dataset):

    collapse {collapsed, reason}, mutual_information, knn_accuracy, probe_accuracy, sample_classes,
    frechet_distance (+ frechet_distance_is, classifier_test_accuracy) and, with `worst_count`, worst
    [{index, elbo, log_likelihood, kl, nearest_train}]. classifier: "cached" (use it when the dataset's
    classifier was trained before, else the two classifier figures are null), "train" (train it when
    missing; TensorFlow) or "none". progress(done, total): the per-image ELBO's images. `posterior`: the
    test images' posteriors when the caller has them already.
    """
    test_images, test_labels = np.asarray(dataset.test_images), np.asarray(dataset.test_labels)
    if test_limit is not None:
        test_images, test_labels = test_images[:test_limit], test_labels[:test_limit]
    vae = probes.as_vae(weights)
    if posterior is None or len(posterior.mean) != len(test_images):
        posterior = probes.encode(vae, test_images)
    health = collapse.health_of_posterior(posterior.mean, posterior.logvar, step or 0, epoch or 0)
    alarm = run_alarm(folder, health, warmup_steps, beta, step)
    fields: dict = {"collapse": collapse.collapse_summary(alarm), "mutual_information": health.mutual_information}
    judge = None
    if classifier != "none":
        from vaestudio.core.diagnosis import classifier as classifiers

        judge = (classifiers.classifier_for(dataset) if classifier == "train"
                 else classifiers.cached_classifier(dataset))
    quality = latent_quality.latent_quality(vae, dataset.train_images, dataset.train_labels, test_images,
                                            test_labels, judge, test_posterior=posterior)
    fields |= quality.to_json()
    if worst_count:
        _, items = worst.worst_images(vae, test_images, worst_count, progress=progress)
        fields["worst"] = worst.worst_summary(items)
    return fields


def render_traversals(weights, test_images: np.ndarray, out: str | Path, image: int | None = None,
                      scale: int = 2) -> Path:
    """`render --traversals [--image I] [--scale S] --out FILE.png|gif`: the traversal sheet of a snapshot."""
    sheet = traversals.traversal_sheet(weights, test_images, image)
    return traversals.save_sheet(sheet, out, scale=scale)
