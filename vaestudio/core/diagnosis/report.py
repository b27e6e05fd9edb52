"""The diagnosis as the command line reports it: `inspect --json`'s fields and their lines in the text
report, and `render --traversals`. Thin glue over the diagnosis modules, so the CLI adds a call, not logic.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from vaestudio.core import probes
from vaestudio.core.diagnosis import collapse, latent_quality, traversals, worst

CLASSIFIER_CHOICES = ("train", "cached", "none")


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
                   worst_count: int | None = None, classifier="cached", test_limit: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   posterior: probes.Posterior | None = None) -> dict:
    """`inspect --json`'s diagnosis fields for one snapshot on `dataset` (a Dataset):

    collapse {collapsed, reason[, started, last_healthy, advice]}, mutual_information, knn_accuracy,
    probe_accuracy, sample_classes, frechet_distance (+ frechet_distance_is, classifier_test_accuracy),
    diagnosis_seconds (what each figure cost) and, with `worst_count`, worst [{index, elbo,
    log_likelihood, kl, nearest_train}]. classifier: "cached" (use it when the dataset's classifier was
    trained before, else the classifier figures are null), "train" (train it when missing; TensorFlow),
    "none", or a DatasetClassifier. Without two classes among the labels, the label figures are null.
    progress(done, total): the per-image ELBO's images. `posterior`: the test images' posteriors when the
    caller has them already.
    """
    seconds: dict[str, float] = {}
    test_images, test_labels = np.asarray(dataset.test_images), np.asarray(dataset.test_labels)
    if test_limit is not None:
        test_images, test_labels = test_images[:test_limit], test_labels[:test_limit]
    vae = probes.as_vae(weights)
    if posterior is None or len(posterior.mean) != len(test_images):
        posterior = probes.encode(vae, test_images, test_labels if vae.architecture.classes else None)
    started = time.perf_counter()
    health = collapse.health_of_posterior(posterior.mean, posterior.logvar, step or 0, epoch or 0)
    seconds["mutual_information"] = time.perf_counter() - started
    alarm = run_alarm(folder, health, warmup_steps, beta, step)
    summary = collapse.collapse_summary(alarm)
    if alarm is not None:
        summary |= {key: value for key, value in alarm.to_json().items() if key not in ("collapse", "reason")}
    fields: dict = {"collapse": summary, "mutual_information": health.mutual_information}
    if len(np.unique(np.asarray(dataset.train_labels))) < 2:
        fields |= {"knn_accuracy": None, "probe_accuracy": None, "sample_classes": None, "frechet_distance": None,
                   "frechet_distance_is": latent_quality.FRECHET_NAME, "classifier_test_accuracy": None,
                   "labels": "the data has fewer than two classes: no label figures"}
    else:
        started = time.perf_counter()
        judge = _classifier(classifier, dataset)
        if classifier == "train":
            seconds["classifier_training_or_loading"] = time.perf_counter() - started
        quality = latent_quality.latent_quality(vae, dataset.train_images, dataset.train_labels, test_images,
                                                test_labels, judge, test_posterior=posterior)
        fields |= quality.to_json()
        fields["chance_accuracy"] = quality.chance
        seconds |= {_QUALITY_COSTS.get(name, name): value for name, value in quality.seconds.items()}
    if worst_count:
        started = time.perf_counter()
        _, items = worst.worst_images(vae, test_images, worst_count, train_images=dataset.train_images,
                                      progress=progress, test_labels=test_labels,
                                      train_labels=dataset.train_labels)
        fields["worst"] = worst.worst_summary(items)
        seconds["worst_with_nearest_train"] = time.perf_counter() - started
    fields["diagnosis_seconds"] = {name: round(value, 2) for name, value in seconds.items()}
    return fields


_QUALITY_COSTS = {"encode": "encode_train_sample", "knn": "knn_accuracy", "probe": "probe_accuracy",
                  "classifier": "sample_classes_and_frechet"}


def _classifier(choice, dataset):
    if choice == "none" or choice is None:
        return None
    if not isinstance(choice, str):
        return choice  # a DatasetClassifier
    from vaestudio.core.diagnosis import classifier as classifiers

    return classifiers.classifier_for(dataset) if choice == "train" else classifiers.cached_classifier(dataset)


def diagnosis_lines(report: dict) -> list[str]:
    """The text report's lines for the fields of `inspect_fields` present in `report`."""
    lines = []
    if "collapse" in report:
        found = report["collapse"]
        lines.append("Posterior collapse  " + (f"ALARM {found['reason']}" if found["collapsed"] else "none"))
        if found["collapsed"] and found.get("advice"):
            lines.append(f"                    try {', '.join(found['advice'])}")
    if report.get("mutual_information") is not None:
        count = min(int(report.get("images") or collapse.MI_IMAGES), collapse.MI_IMAGES)
        lines.append(f"I(x; z)             {report['mutual_information']:10.2f} nats (minibatch estimate on {count} "
                     f"test images, at most log {count} = {np.log(count):.2f})")
    if report.get("knn_accuracy") is not None:
        chance = report.get("chance_accuracy")
        lines.append(f"Latent quality      kNN (k={latent_quality.KNN_K}) {_percent(report['knn_accuracy'])}, "
                     f"linear probe {_percent(report['probe_accuracy'])} on the posterior means"
                     + (f" (chance {_percent(chance)})" if chance else ""))
    elif report.get("labels"):
        lines.append(f"Latent quality      none: {report['labels']}")
    if report.get("sample_classes") is not None:
        shares = sorted(report["sample_classes"].items(), key=lambda item: -item[1])
        lines.append("Prior samples       " + ", ".join(f"{name} {_percent(share)}" for name, share in shares
                                                         if share > 0))
        lines.append(f"                    as judged by the dataset's classifier "
                     f"({_percent(report['classifier_test_accuracy'])} test accuracy)")
        lines.append(f"Fréchet distance    {report['frechet_distance']:10.2f}  between test images and prior samples, "
                     f"on the classifier's features (not Inception FID)")
    elif "knn_accuracy" in report and report.get("knn_accuracy") is not None:
        lines.append("Prior samples       not judged: no classifier of this dataset (use --classifier train)")
    for rank, item in enumerate(report.get("worst") or (), 1):
        nearest = ", ".join(map(str, item["nearest_train"]))
        lines.append(("Worst test images   " if rank == 1 else " " * 20) +
                     f"#{item['index']:<6d} ELBO {item['elbo']:9.2f} = {item['log_likelihood']:.2f} − KL "
                     f"{item['kl']:.2f}" + (f"; nearest training images {nearest}" if nearest else ""))
    return lines


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def render_traversals(weights, test_images: np.ndarray, out: str | Path, image: int | None = None,
                      scale: int = 2, labels=None, label: int | None = None) -> Path:
    """`render --traversals [--image I] [--class C] [--scale S] --out FILE.png|gif`: the traversal sheet of a
    snapshot (`labels`, `label`: a conditional model's test classes and decoded class, traversal_sheet's)."""
    sheet = traversals.traversal_sheet(weights, test_images, image, labels=labels, label=label)
    return traversals.save_sheet(sheet, out, scale=scale)
