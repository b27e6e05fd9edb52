"""Your own images (files and drawings), brought to the model shown, without Qt.

A file is prepared off the UI thread (on the explorer's executor) by `core.data.prepare_own_image`: any
Pillow format, size and colour becomes the model's input (light backgrounds inverted when the training
images are dark, binarized like the training data) and is added to the view's own images. When another
run becomes active, images made for another image size or colour are prepared again for it
(`refit_own_images`, which the studio calls), from their file, or from what the model saw for a drawing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from vaestudio.core.data.dataset import shown
from vaestudio.gui.state.explorer import Probe
from vaestudio.gui.state.latent_view import OwnImage

if TYPE_CHECKING:
    from vaestudio.gui.state.studio import Studio

MAX_FILES_PER_DROP = 64


def active_architecture(studio: Studio):
    """The architecture own images are prepared for: the model shown, else the active run's config."""
    from vaestudio.core.architecture import Architecture

    if studio.explorer.vae is not None:
        return studio.explorer.vae.architecture
    if studio.active is not None and studio.active.config is not None:
        return studio.active.config.architecture
    return Architecture()


def training_background(probe: Probe | None) -> str:
    """'dark' or 'light': the background of the run's test images (dark when unknown, as Fashion-MNIST)."""
    if probe is None or len(probe.images) == 0:
        return "dark"
    from vaestudio.core.data.dataset import border_mean

    return "light" if border_mean(probe.images[:200]) > 127.5 else "dark"


def encode_image_files(studio: Studio, paths: Iterable[str | Path],
                       on_added: Callable[[int, str], None] | None = None,
                       on_error: Callable[[str], None] | None = None) -> int:
    """Prepare each file off the UI thread and add it to the view's own images (in the order given).

    on_added(position, name) after each image arrives; on_error(one line) for each file that cannot be
    used (default: `studio.report`). Returns how many files were submitted.
    """
    from vaestudio.core.data.own_image import prepare_own_image

    paths = [Path(p) for p in paths]
    report = on_error or (lambda text: studio.report("Cannot encode image", text))
    if len(paths) > MAX_FILES_PER_DROP:
        report(f"{len(paths)} files dropped: only the first {MAX_FILES_PER_DROP} are encoded")
        paths = paths[:MAX_FILES_PER_DROP]
    architecture = active_architecture(studio)
    background = training_background(studio.explorer.probe)

    def prepare_in_order(_task):  # one task: the images arrive in the order given, each as it is ready
        from vaestudio.gui.state.tasks import describe_error

        for path in paths:
            try:
                prepared = prepare_own_image(path, architecture, background=background)
            except Exception as exc:  # noqa: BLE001 - one line per file that cannot be used
                yield None, describe_error(exc)
                continue
            yield OwnImage(shown(path.name or path), prepared.model_input[0], prepared.preview, str(path)), \
                prepared.inverted

    def added(result) -> None:
        image, inverted = result  # or (None, the one line saying why it cannot be used)
        if image is None:
            report(inverted)
            return
        if image.inputs.shape != active_architecture(studio).image_shape:
            image = refitted(image, studio)  # another run became active meanwhile
            if image is None:
                return
        position = studio.view.add_own_image(image)
        studio.say(f"Encoded {shown(image.name)}" + (" (its light background inverted, as the training images are "
                                               "dark)" if inverted else ""), 6000)
        if on_added is not None:
            on_added(position, image.name)

    studio.explorer.executor.start(prepare_in_order, on_error=report, on_partial=added)
    return len(paths)


def refitted(image: OwnImage, studio: Studio) -> OwnImage | None:
    """`image` prepared again for the model now shown (another image size or colour): from its file, or from
    what the model saw for a drawing. None (and one line said) when its file cannot be read any more."""
    from vaestudio.core.data.own_image import prepare_own_image
    from vaestudio.core.errors import VaeStudioError

    architecture = active_architecture(studio)
    try:
        if image.source and image.source != "drawing" and Path(image.source).is_file():
            prepared = prepare_own_image(image.source, architecture,
                                         background=training_background(studio.explorer.probe))
        else:
            prepared = prepare_own_image(np.asarray(image.preview), architecture, invert=False)
    except (VaeStudioError, ValueError, OSError) as exc:
        studio.say(f"{shown(image.name)} cannot be shown to this model: {exc}", 8000)
        return None
    return OwnImage(image.name, prepared.model_input[0], prepared.preview, image.source, label=image.label)


def refit_own_images(studio: Studio) -> None:
    """Prepare the own images again when the run shown has another image size or colour than they were made
    for (the ones that cannot be prepared again are removed)."""
    shape = active_architecture(studio).image_shape
    view = studio.view
    for index in reversed(range(len(view.own_images))):
        image = view.own_images[index]
        if image.inputs.shape == shape:
            continue
        again = refitted(image, studio)
        if again is None:
            view.remove_own_image(index)
        else:
            view.replace_own_image(index, again)
