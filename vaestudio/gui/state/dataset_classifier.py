"""The diagnosis's dataset side, without Qt: each run's loaded dataset, a seeded pool of its training images
(probed for latent quality, searched for nearest images) and the active run's dataset classifier, loaded
from the cache at once or trained (TensorFlow; 95 s for Fashion-MNIST on a busy 2-core machine) only on
`train()`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from psygnal import Signal

from vaestudio.gui.state.explorer import Executor
from vaestudio.gui.state.run_history import RunHistory

if TYPE_CHECKING:
    from vaestudio.gui.state.studio import Studio

TRAIN_POOL = 2000  # training images (a seeded choice) probed for latent quality and searched for nearest ones


class RunDatasets:
    """The runs' datasets, their training-image pools and the classifier of the active run's dataset."""

    classifier_changed = Signal(object)  # classifier.DatasetClassifier | None
    failed = Signal(str)  # one line

    def __init__(self, studio: Studio, executor: Executor, long_executor: Executor | None = None):
        """`long_executor` runs the classifier's training (a minute or more); default: `executor`."""
        self.studio = studio
        self.executor = executor
        self.long_executor = long_executor or executor
        self.classifier = None
        self.datasets: dict[int, Any] = {}  # id(history) -> its Dataset
        self._train_pool: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # indices, images, labels

    def add(self, history: RunHistory, dataset) -> bool:
        """Keep `history`'s loaded dataset; the active run's starts loading its cached classifier. Returns
        whether `history` is the active run."""
        self.datasets[id(history)] = dataset
        if history is not self.studio.active:
            return False
        self._load_cached(dataset)
        return True

    def dataset(self):
        """The active run's dataset, or None (no run or not loaded)."""
        active = self.studio.active
        return self.datasets.get(id(active)) if active is not None else None

    def follow_active(self) -> None:
        """The active run changed: drop the classifier and load its dataset's cached one."""
        self._set_classifier(None)
        dataset = self.dataset()
        if dataset is not None:
            self._load_cached(dataset)

    def pool(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(dataset indices, images, labels) of the training images searched and probed; None: no dataset."""
        dataset = self.dataset()
        if dataset is None:
            return None
        key = id(dataset)
        if key not in self._train_pool:
            count = len(dataset.train_images)
            chosen = np.sort(np.random.default_rng(0).choice(count, min(count, TRAIN_POOL), replace=False))
            self._train_pool[key] = (chosen, np.asarray(dataset.train_images)[chosen],
                                     np.asarray(dataset.train_labels)[chosen])
        return self._train_pool[key]

    def train(self) -> None:
        """Train (once per dataset; TensorFlow) and cache the classifier of the active run's dataset."""
        dataset = self.dataset()
        if dataset is None:
            self.failed.emit("The run's dataset is not loaded: no classifier can be trained.")
            return
        from vaestudio.core.diagnosis.classifier import classifier_for

        self.long_executor.submit(lambda: classifier_for(dataset), lambda found: self._ready(found, dataset),
                                  self.failed.emit, key="diagnosis-classifier-training")

    def _load_cached(self, dataset) -> None:
        from vaestudio.core.diagnosis.classifier import cached_classifier

        self.executor.submit(lambda: cached_classifier(dataset), lambda found: self._ready(found, dataset),
                             self.failed.emit, key="diagnosis-classifier")

    def _ready(self, found, dataset) -> None:
        if found is None or found is self.classifier or dataset is not self.dataset():
            return  # none cached, already in use, or the active run changed to another dataset meanwhile
        self._set_classifier(found)

    def _set_classifier(self, classifier) -> None:
        if classifier is not self.classifier:
            self.classifier = classifier
            self.classifier_changed.emit(classifier)
