"""Diagnosis of the moment shown, without Qt: the traversal sheet, the worst-modelled test images, the
latent quality and the health of the moment; it composes the run's dataset side (gui/state/
dataset_classifier.py: training-image pool, classifier) and the collapse alarm (gui/state/collapse_alarm.py).

Follows the explorer: a new moment (`moment_loaded`) starts scoring every test image of the probe (the
worst images); once the probe's encodings arrive (`encodings_changed`) the traversal sheet, the health
(KL, active units, I(x;z)) and the latent quality are computed from them. Each part runs on the
executor (the explorer's Executor protocol) and is announced by its own event; a result for a moment the
user has left is dropped, a running scoring stops at its next chunk, and the parts of the last moments
seen are kept (going back shows them at once; `quality_by_moment` is latent quality over training).
With `on_demand` (the window) a part is only computed while a panel shows it (`want(part, on)`): docks
tabbed away cost nothing while the timeline is scrubbed.
While the window's own run trains (`later` given: the window), the scans over the test images (worst
images, latent quality) are paced (gui/state/pacing.py): each kind takes at most a twentieth of the time,
a scan started is not dropped when a newer snapshot arrives, and until the newest moment's scan is done
the panels keep the last one, whose moment is `scanned[part]`. Pausing or ending the training lifts it.

`bound_image(index)` estimates one probe image's ELBO beside its importance-weighted (IWAE, Burda et al.)
bound from the same k samples of q(z|x), under the model's prior and (conditional model) the image's class:
core/iwae.py on that image (core/diagnosis/worst.py), in NumPy (a fraction of a second for k = 500): `bounds_changed`.

Latent quality and nearest training images need the run's dataset (`set_dataset`); the class histogram
and the Fréchet distance need the dataset's classifier: a cached one is used at once, training one only
happens on `train_classifier()`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from psygnal import Signal

from vaestudio.core.diagnosis.worst import IWAE_SAMPLES, importance_bounds
from vaestudio.gui.state.collapse_alarm import CollapseAlarm
from vaestudio.gui.state.dataset_classifier import RunDatasets
from vaestudio.gui.state.explorer import Executor, Pictures
from vaestudio.gui.state.pacing import ScanTurns
from vaestudio.gui.state.run_history import RunHistory

if TYPE_CHECKING:  # the studio owns a Diagnosis (Studio.start_diagnosis): no import back at run time
    from vaestudio.gui.state.studio import Studio

WORST_COUNT = 12
SAMPLES = 1000
KEPT = 4 * 48  # parts of moments kept, so that going back to a moment shows it at once
CHUNK = 128  # probe images scored between two looks at whether the moment moved on
COMPUTED = ("traversals", "worst", "quality", "health")  # per moment, each on the executor
SCANS = ("worst", "quality")  # the parts that decode the test images: paced while the window's run trains
PACED_STATES = ("waiting", "training")  # Studio.training states in which the scans are paced
SCAN_KEYS = tuple(f"diagnosis-{part}" for part in SCANS)  # their executor keys


@dataclass(frozen=True, eq=False)
class WorstResult:
    """The scores of every probe image and the worst of them, for one moment."""

    scores: Any = field(repr=False)  # worst.ImageScores
    items: tuple = ()  # worst.WorstImage, worst first; indices are the probe's
    train_indices: np.ndarray | None = field(default=None, repr=False)  # nearest_train -> dataset index


@dataclass(frozen=True)
class ImageBounds:
    """One image's ELBO and IWAE bound on log p(x), nats, from the same `samples` draws of q(z|x)."""

    index: int  # in the probe
    elbo: float
    iwae: float
    samples: int


class Diagnosis:
    """Keeps the diagnosis of the active run's moment current."""

    traversals_changed = Signal(object)  # traversals.TraversalSheet | None
    worst_changed = Signal(object)  # WorstResult | None
    worst_progress = Signal(int, int)  # probe images scored, in all
    quality_changed = Signal(object)  # latent_quality.LatentQuality | None
    health_changed = Signal(object)  # collapse.Health | None: the moment's KL, active units, I(x;z)
    alarm_changed = Signal(object)  # collapse.Alarm | None: the active run's
    classifier_changed = Signal(object)  # classifier.DatasetClassifier | None
    bounds_changed = Signal(object)  # ImageBounds | None: of the image `bound_image` was last asked for
    failed = Signal(str)  # one line

    def __init__(self, studio: Studio, executor: Executor, post: Callable[[Callable[[], None]], None] | None = None,
                 worst_count: int = WORST_COUNT, samples: int = SAMPLES, long_executor: Executor | None = None,
                 on_demand: bool = False, later: Callable[[float, Callable[[], None]], None] | None = None):
        """`long_executor` runs the classifier's training (a minute or more; e.g. tasks.ThreadedExecutor, so
        it does not hold one of the explorer's workers); default: `executor`. `later(seconds, fn)` runs `fn`
        on the UI thread after a while: given, the scans are paced while the window's run trains."""
        self.studio = studio
        self._post = post or (lambda fn: fn())  # runs a callable on the UI thread (progress from the work)
        self.explorer = studio.explorer
        self.executor = executor
        self.worst_count = worst_count
        self.samples = samples  # prior samples judged by the classifier
        self.wanted = set() if on_demand else set(COMPUTED)  # the parts computed for each moment
        self.traversal_image: int | None = None  # probe index the sheet starts from; None: the origin
        self.traversals = self.worst = self.quality = self.health = self.bounds = None
        self.data = RunDatasets(studio, executor, long_executor)
        self.data.classifier_changed.connect(self._on_classifier)
        self.data.failed.connect(self._report)
        self._test_features: tuple[int, np.ndarray] | None = None  # (id(classifier), features of the probe)
        self._generation = 0
        self._kept: OrderedDict[tuple, Any] = OrderedDict()  # (moment, part, signature) -> value
        self.quality_by_moment: dict[tuple, Any] = {}  # (id(history), index, step, id(probe)) -> LatentQuality
        self.turns = ScanTurns(SCANS, later, self._start_scans) if later is not None else None
        self.scanned: dict[str, Any] = {part: None for part in SCANS}  # SnapshotInfo of the scan shown
        self._coming: set[str] = set()  # parts of the moment shown kept from a visit before: published soon
        self.explorer.moment_loaded.connect(self._on_moment)
        self.explorer.encodings_changed.connect(self._on_encodings)
        studio.view.events.decode_class.connect(self._on_class)  # a conditional sheet decodes the plane's class
        studio.active_changed.connect(self._on_active)
        studio.training_changed.connect(self._on_training)
        self.collapse = CollapseAlarm(studio)  # after _on_active: a new run's classifier is dropped first
        self.collapse.alarm_changed.connect(self.alarm_changed.emit)

    @property
    def alarm(self):
        """The active run's collapse.Alarm, or None."""
        return self.collapse.alarm

    @property
    def classifier(self):
        """The classifier of the active run's dataset (classifier.DatasetClassifier), or None."""
        return self.data.classifier

    @property
    def datasets(self) -> dict[int, Any]:
        """id(history) -> its loaded Dataset."""
        return self.data.datasets

    # -- inputs from the window ---------------------------------------------------------------------------
    def set_dataset(self, history: RunHistory, dataset) -> None:
        """The run's dataset is loaded (call where `studio.set_probe` is called): quality, nearest images."""
        if self.data.add(history, dataset):
            self._start_quality(self.explorer.pictures)
            self._start_worst(self.explorer.pictures)  # again, now with the nearest training images

    def want(self, part: str, on: bool) -> None:
        """A panel showing `part` (one of COMPUTED) appeared (on) or went; an appearing one gets the moment's."""
        if part not in COMPUTED:
            raise ValueError(f"unknown diagnosis part {part!r}: expected one of {', '.join(COMPUTED)}")
        if not on:
            self.wanted.discard(part)
            return
        if part in self.wanted:
            return
        self.wanted.add(part)
        if getattr(self, part) is None:
            getattr(self, f"_start_{part}")(self.explorer.pictures)

    def set_traversal_image(self, index: int | None) -> None:
        """Start the traversal sheet's rows from probe image `index` (None: from the origin)."""
        self.traversal_image = index
        self._start_traversals(self.explorer.pictures)

    def set_worst_count(self, count: int) -> None:
        self.worst_count = max(1, int(count))
        self._start_worst(self.explorer.pictures)

    def bound_image(self, index: int, samples: int = IWAE_SAMPLES) -> None:
        """Estimate probe image `index`'s ELBO and IWAE bound at the moment shown (off the UI thread)."""
        vae, probe, generation = self.explorer.pictures.vae, self.explorer.probe, self._generation
        self.bounds = None
        self.bounds_changed.emit(None)
        if vae is None or probe is None or not 0 <= index < len(probe.images):
            return
        image, label = probe.images[index], int(probe.labels[index])  # a conditional model's bound is log p(x | y)

        def done(found: tuple[float, float]) -> None:
            if generation == self._generation:
                self._publish("bounds", ImageBounds(index, found[0], found[1], samples))

        self.executor.submit(lambda: importance_bounds(vae, image, samples, label=label), done, self._report,
                             key="diagnosis-bounds")

    def train_classifier(self) -> None:
        """Train (once per dataset; TensorFlow) and cache the classifier of the active run's dataset."""
        self.data.train()

    # -- following the studio ------------------------------------------------------------------------------
    def _on_active(self, history: RunHistory | None) -> None:
        self._test_features = None
        self.data.follow_active()

    def _on_classifier(self, classifier) -> None:
        self.classifier_changed.emit(classifier)
        if classifier is not None:
            self._start_quality(self.explorer.pictures)

    def paced(self) -> bool:
        """Whether the scans are paced now: the run shown is the one this window is training."""
        studio = self.studio
        return (self.turns is not None and studio.training in PACED_STATES and studio.active is not None
                and studio.active is studio.live)

    def _on_moment(self, pictures: Pictures) -> None:
        self._generation += 1
        paced = self.paced()
        kept = self._parts_kept_of(self._moment_key())
        self._coming = set()
        for part in ("traversals", "worst", "quality", "health", "bounds"):
            if part in kept and getattr(self, part) is not None:
                self._coming.add(part)  # a moment seen: its kept part replaces this one in a few turns, unblanked
                continue
            if part in SCANS:
                if paced and getattr(self, part) is not None:
                    continue  # the last scan stays, labelled with its moment, until this one's is done
                self.scanned[part] = None
            setattr(self, part, None)
            getattr(self, f"{part}_changed").emit(None)
        self._start_worst(pictures)

    def _parts_kept_of(self, moment: tuple | None) -> set[str]:
        return set() if moment is None else {key[1] for key in self._kept if key[0] == moment}

    def older_scan(self, part: str):
        """The SnapshotInfo of the scan of `part` shown when it is not of the moment shown (paced), else None."""
        info, shown = self.scanned.get(part), self.explorer.pictures.info
        if part in self._coming:
            return None  # the moment shown's own, kept, comes in a few turns
        return info if info is not None and shown is not None and info != shown else None

    def _on_training(self, _state: str) -> None:
        if not self.paced():  # paused or ended: the moment shown gets its scans now
            self._start_scans()

    def _start_scans(self) -> None:
        self._start_worst(self.explorer.pictures)
        self._start_quality(self.explorer.pictures)

    def _on_encodings(self, pictures: Pictures) -> None:
        if pictures.vae is None or pictures.means is None:
            return
        self._start_traversals(pictures)
        self._start_health(pictures)
        self._start_quality(pictures)

    # -- the parts (work on the executor, results on the UI thread) ------------------------------------------
    def _submit(self, part: str, work, signature: tuple = (), generation: int | None = None,
                unpack=None) -> None:
        """Run `work` for `part` of the moment shown, unless a result for the same moment and `signature` is
        kept (then at once). `unpack(value) -> part's value` runs on the UI thread first."""
        generation = self._generation if generation is None else generation
        moment, info = self._moment_key(), self.explorer.pictures.info
        key = None if moment is None else (moment, part, signature)
        if key is not None and key in self._kept:
            self._kept.move_to_end(key)
            self._publish(part, self._kept[key], info)
            return
        paced = part in SCANS and self.paced()
        if paced and not self.turns.may_start(part):
            return  # its turn comes later (ScanTurns retries)

        def done(value) -> None:
            if paced:
                self.turns.ended(part)
            if value is None:
                return
            if unpack is not None:
                value = unpack(value)
            if key is not None:
                self._kept[key] = value
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)
                if part == "quality":
                    self.quality_by_moment[moment] = value
            if generation == self._generation or (paced and self.paced()):
                self._publish(part, value, info)

        def failed(message: str) -> None:
            if paced:
                self.turns.ended(part)
            self._report(message)

        self.executor.submit(work, done, failed, key=f"diagnosis-{part}")

    def _publish(self, part: str, value, info=None) -> None:
        self._coming.discard(part)
        if part in SCANS:
            self.scanned[part] = info
        setattr(self, part, value)
        getattr(self, f"{part}_changed").emit(value)

    def _moment_key(self) -> tuple | None:
        info, history = self.explorer.pictures.info, self.studio.active
        if info is None or history is None:
            return None
        return (id(history), info.index, info.step, id(self.explorer.probe))

    def _start_traversals(self, pictures: Pictures) -> None:
        if "traversals" not in self.wanted:
            return
        probe = self.explorer.probe
        if pictures.vae is None or pictures.means is None or probe is None:
            return
        from vaestudio.core.diagnosis.traversals import traversal_sheet
        from vaestudio.core.probes import Posterior

        vae, posterior = pictures.vae, Posterior(pictures.means, pictures.logvars)
        image = self.traversal_image if self.traversal_image is not None and \
            0 <= self.traversal_image < len(probe.images) else None
        label = self.studio.view.single_label if vae.architecture.classes else None
        self._submit("traversals", lambda: traversal_sheet(vae, probe.images, image, posterior=posterior, label=label),
                     (image, label))

    def _on_class(self, *_args) -> None:
        vae = self.explorer.pictures.vae
        if vae is not None and vae.architecture.classes:
            self._start_traversals(self.explorer.pictures)

    def _start_health(self, pictures: Pictures) -> None:
        if "health" not in self.wanted or pictures.info is None or pictures.means is None:
            return
        from vaestudio.core.diagnosis.collapse import health_of_posterior

        info, means, logvars = pictures.info, pictures.means, pictures.logvars
        self._submit("health", lambda: health_of_posterior(means, logvars, info.step, info.epoch))

    def _start_worst(self, pictures: Pictures) -> None:
        if "worst" not in self.wanted:
            return
        probe, vae = self.explorer.probe, pictures.vae
        if vae is None or probe is None:
            return
        from vaestudio.core.diagnosis import worst
        from vaestudio.core.errors import Cancelled

        generation, count, pool = self._generation, self.worst_count, self.data.pool()

        paced = self.paced()

        def cancelled() -> bool:  # read from the worker between chunks; a paced scan is not dropped
            return generation != self._generation and not paced

        def progress(done: int, total: int) -> None:
            self._post(lambda: self.worst_progress.emit(done, total) if generation == self._generation else None)

        def work():
            from vaestudio.core.probes import encode

            try:
                scores = worst.per_image_elbo(vae, probe.images, chunk=CHUNK, progress=progress,
                                                cancelled=cancelled, labels=probe.labels)
            except Cancelled:
                return None
            train_labels = pool[2] if pool is not None and vae.architecture.classes else None
            train_means = None if pool is None else encode(vae, pool[1], train_labels).mean
            _, items = worst.worst_images(vae, probe.images, count, scores=scores, train_means=train_means,
                                          test_labels=probe.labels)
            return WorstResult(scores, tuple(items), None if pool is None else pool[0])

        self._submit("worst", work, (count, pool is not None), generation)

    def _start_quality(self, pictures: Pictures) -> None:
        if "quality" not in self.wanted:
            return
        probe, pool, vae = self.explorer.probe, self.data.pool(), pictures.vae
        if probe is None or pool is None or vae is None or pictures.means is None:
            return
        from vaestudio.core.diagnosis.latent_quality import latent_quality
        from vaestudio.core.probes import Posterior

        classifier, posterior = self.classifier, Posterior(pictures.means, pictures.logvars)
        samples = self.samples
        known = self._test_features
        features = known[1] if known is not None and classifier is not None and known[0] == id(classifier) else None

        def work():
            test_features = features
            if classifier is not None and test_features is None:
                test_features = classifier.features(probe.images)
            quality = latent_quality(vae, pool[1], pool[2], probe.images, probe.labels, classifier,
                                     test_features, samples=samples, test_posterior=posterior)
            return quality, test_features

        def unpack(result):
            quality, test_features = result
            if classifier is not None and classifier is self.classifier:
                self._test_features = (id(classifier), test_features)
            return quality

        self._submit("quality", work, (id(classifier), samples), unpack=unpack)

    def _report(self, message: str) -> None:
        self.failed.emit(message)

