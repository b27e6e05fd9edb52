"""A conditional model's class selector on the latent plane (issue 19): the grid, the cursor preview and own
images decode for the class chosen; "All classes" shows one row per class."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt


@pytest.fixture
def conditional_run(zoo_run):
    """A finished 1-epoch conditional run (latent dim 2, 4x4 grid) recorded by the core pipeline."""
    return zoo_run("conditional")


def open_at_last_moment(qtbot, window, folder):
    window.commands.answers["runs"] = folder
    window.open_run_action.trigger()
    history = window.studio.active
    assert history is not None and history.folder == folder, window.last_error
    qtbot.waitUntil(lambda: not window.opening.is_replaying(history), timeout=30_000)
    explorer = window.studio.explorer
    qtbot.waitUntil(lambda: explorer.pictures.vae is not None and explorer.pictures.grid is not None, timeout=20_000)
    return explorer


def test_choosing_a_class_decodes_the_grid_and_preview_for_it(qtbot, window, conditional_run):
    from vaestudio.core.latent import grid_axis_values, mosaic
    from vaestudio.gui.state.latent_view import ALL_CLASSES

    explorer = open_at_last_moment(qtbot, window, conditional_run)
    view, vae = window.studio.view, explorer.pictures.vae
    classes = vae.architecture.classes
    assert classes == 10 and view.classes == classes
    selector = window.panels["latent_plane"].class_box
    assert selector.isVisible() and selector.count() == classes + 1

    selector.choose(3)
    assert view.decode_class == 3
    qtbot.waitUntil(lambda: explorer.pictures.grid_class == 3, timeout=20_000)
    expected = vae.grid(4, (0, 1), np.zeros(2, np.float32), explorer.pictures.grid_spacing, 3)
    np.testing.assert_array_equal(explorer.pictures.grid, expected)
    assert not np.array_equal(expected, vae.grid(4, (0, 1), np.zeros(2, np.float32), explorer.pictures.grid_spacing, 0))

    view.move_cursor_on_plane(0.5, -0.5)
    preview = window.panels["cursor_preview"]
    wanted = vae.decode_uint8(np.array([[0.5, -0.5]], np.float32), 3)[0]
    qtbot.waitUntil(lambda: preview.image is not None and np.array_equal(preview.image, wanted), timeout=10_000)

    # Own images take a class (the drawing pad's and the own images' box; default: the plane's class).
    from vaestudio.core.data.own_image import prepare_own_image

    drawn = np.zeros((28, 28), np.uint8)
    drawn[8:20, 12:16] = 255
    prepared = prepare_own_image(drawn, vae.architecture)
    own_panel = window.panels["own_images"]
    assert own_panel.class_box.count() == classes + 1 and window.panels["drawing_pad"].class_box.count() == classes + 1
    view.add_own_image(prepared)

    def own_decoded_for(label):
        own = explorer.pictures.own
        if not own or len(own) != 1:
            return False
        mean, logvar = vae.encode(prepared.inputs[None], label)
        return np.allclose(own[0].mean, mean[0], atol=1e-5) and np.array_equal(own[0].reconstruction,
                                                                              vae.decode_uint8(mean, label)[0])

    qtbot.waitUntil(lambda: own_decoded_for(3), timeout=10_000)  # as on the plane
    own_panel.select(0)
    own_panel.class_box.setCurrentIndex(own_panel.class_box.findData(5))
    own_panel.class_box.activated.emit(own_panel.class_box.currentIndex())
    assert view.own_images[0].label == 5
    qtbot.waitUntil(lambda: own_decoded_for(5), timeout=10_000)

    selector.choose(ALL_CLASSES)
    qtbot.waitUntil(lambda: explorer.pictures.grid_class == ALL_CLASSES, timeout=20_000)
    grid, tile = explorer.pictures.grid, vae.architecture.image_size
    assert grid.shape[:2] == (classes * tile, 4 * tile)  # one row of 4 tiles per class
    points = np.zeros((4, 2), np.float32)  # along z1, z2 held at 0
    points[:, 0] = grid_axis_values(4, explorer.pictures.grid_spacing)
    for label in (0, 3, 9):
        row = grid[label * tile:(label + 1) * tile]
        np.testing.assert_array_equal(row, mosaic(vae.decode_uint8(points, label), 4))
    assert not window.last_error


def test_the_class_is_checked_and_hidden_for_a_model_without_classes(qtbot, window, recorded_run):
    from vaestudio.gui.state.latent_view import LatentView

    view = LatentView()
    with pytest.raises(ValueError, match="takes no class"):
        view.choose_class(3)
    view.set_classes(10)
    events = []
    view.events.decode_class.connect(events.append)
    view.choose_class(7)
    with pytest.raises(ValueError, match="between 0 and 9"):
        view.choose_class(10)
    view.set_classes(5)  # the class chosen no longer exists: the first class
    assert events == [7, 0] and view.decode_class == 0
    explorer = open_at_last_moment(qtbot, window, recorded_run[0])
    assert window.studio.view.classes == 0 and explorer.pictures.grid_class is None
    assert not window.panels["latent_plane"].class_box.isVisible()


def test_a_conditional_models_iwae_estimate_uses_the_test_labels(qtbot, window, conditional_run):
    from vaestudio.core.probes import model_inputs
    from vaestudio.core.iwae import iwae_log_likelihood

    explorer = open_at_last_moment(qtbot, window, conditional_run)
    estimates = window.panels["quality"].estimates
    history = window.studio.active
    qtbot.waitUntil(lambda: estimates.problem() is None, timeout=60_000)
    assert estimates.start(k=4, images=8)
    qtbot.waitUntil(lambda: estimates.result_for(history, 4, 8) is not None or not estimates.running,
                    timeout=60_000)
    found = estimates.result_for(history, 4, 8)
    assert found is not None, window.last_error
    probe, weights = explorer.probe, history.weights_at(history.current)
    expected = iwae_log_likelihood(weights, model_inputs(probe.images[:8], weights.architecture), k=4,
                                   labels=probe.labels[:8])
    assert abs(found[1].mean - expected.mean) < 1e-3


def test_the_traversal_sheet_decodes_for_the_planes_class(qtbot, window, conditional_run):
    explorer = open_at_last_moment(qtbot, window, conditional_run)
    dock = window.docks["traversals"]
    dock.show()
    dock.raise_()
    panel = dock.widget()
    qtbot.waitUntil(lambda: panel.sheet is not None, timeout=30_000)
    assert panel.sheet.decode_class == 0 and "class 0" in panel.header.text()

    window.panels["latent_plane"].class_box.choose(6)
    qtbot.waitUntil(lambda: panel.sheet is not None and panel.sheet.decode_class == 6, timeout=30_000)
    sheet, vae = panel.sheet, explorer.pictures.vae
    points = np.repeat(sheet.base[None, None], len(sheet.order), axis=0).repeat(sheet.rows.shape[1], axis=1)
    for row, dim in enumerate(sheet.order):
        points[row, :, dim] = sheet.sweeps[row]
    expected = vae.decode_uint8(points.reshape(-1, len(sheet.base)), 6)
    np.testing.assert_array_equal(sheet.rows.reshape(expected.shape), expected)
    assert "class 6" in panel.header.text()


def test_the_class_boxes_name_the_classes_as_the_legend_does(qtbot, window, conditional_run):
    """The plane's class selector, the own images' and the drawing pad's boxes say "Top bar", "Left bar", …
    (the dataset's names, as the plane's legend shows them), not "class 0"; numbers when a dataset names
    none."""
    from vaestudio.gui.state.explorer import Probe

    explorer = open_at_last_moment(qtbot, window, conditional_run)
    qtbot.waitUntil(lambda: explorer.probe is not None, timeout=30_000)
    names = explorer.probe.class_names
    assert len(names) == 10 and not any(name.isdigit() for name in names)
    boxes = {"plane": window.panels["latent_plane"].class_box, "own images": window.panels["own_images"].class_box,
             "drawing pad": window.panels["drawing_pad"].class_box}

    def texts(box) -> list[str]:
        return [box.itemText(i) for i in range(box.count())]

    assert texts(boxes["plane"]) == [*names, "All classes"]
    assert texts(boxes["own images"]) == ["As on the plane", *names]
    assert texts(boxes["drawing pad"]) == ["As on the plane", *names]
    legend = window.panels["latent_plane"].legend.text()
    assert all(name in legend for name in names)
    boxes["plane"].choose(4)
    assert boxes["plane"].currentText() == names[4]

    probe = explorer.probe  # a dataset without class names (an image folder's names are its own)
    window.studio.set_probe(window.studio.active, Probe(probe.images, probe.labels, ()))
    assert texts(boxes["plane"]) == [f"class {label}" for label in range(10)] + ["All classes"]
    assert boxes["plane"].currentText() == "class 4" and window.studio.view.decode_class == 4
    assert texts(boxes["own images"])[1:] == [f"class {label}" for label in range(10)]
    window.studio.set_probe(window.studio.active, probe)  # names that come after the classes still reach the boxes
    assert texts(boxes["plane"]) == [*names, "All classes"] and boxes["plane"].currentText() == names[4]


def test_the_panels_decodes_and_encodings_of_a_conditional_model_take_the_right_class(qtbot, window,
                                                                                      conditional_run, tmp_path):
    """Prior samples, a point endpoint's thumbnail and the recorded morph decode for the plane's class; "Put
    the cursor on its encoding" encodes a test image with its own class."""
    from PySide6.QtGui import QPixmap

    from vaestudio.core import probes
    from vaestudio.gui.panels.image_strip import to_qimage
    from vaestudio.gui.panels.interpolation import THUMB
    from vaestudio.gui.state.latent_view import Endpoint

    explorer = open_at_last_moment(qtbot, window, conditional_run)
    view, vae, probe = window.studio.view, explorer.pictures.vae, explorer.probe
    window.panels["latent_plane"].class_box.choose(3)

    preview = window.panels["cursor_preview"]
    preview.prior_button.click()
    expected = probes.sample_prior(vae, len(preview.prior_images), seed=0, label=3)
    assert not np.array_equal(expected.images, probes.sample_prior(vae, len(preview.prior_images), seed=0).images)
    for thumb, image in zip(preview.prior_images, expected.images):
        np.testing.assert_array_equal(thumb.image, image)

    point = Endpoint.point((0.7, -0.4))
    view.set_endpoint("a", point)
    panel = window.panels["interpolation"]
    window.docks["interpolation"].raise_()  # its tab chosen: a panel behind a tab is not drawn
    qtbot.waitUntil(lambda: not window.docks["interpolation"].visibleRegion().isEmpty())

    def thumbnail(image):
        return QPixmap.fromImage(to_qimage(image)).scaled(THUMB - 2, THUMB - 2, Qt.AspectRatioMode.KeepAspectRatio,
                                                          Qt.TransformationMode.FastTransformation).toImage()

    z = np.array([[0.7, -0.4]], np.float32)
    assert panel.thumbs["a"].pixmap().toImage() == thumbnail(vae.decode_uint8(z, 3)[0])
    assert thumbnail(vae.decode_uint8(z, 3)[0]) != thumbnail(vae.decode_uint8(z)[0])
    window.panels["latent_plane"].class_box.choose(5)
    assert panel.thumbs["a"].pixmap().toImage() == thumbnail(vae.decode_uint8(z, 5)[0])
    window.panels["latent_plane"].class_box.choose(3)

    recorder = window.recorder
    window.commands.answers["exports"] = str(tmp_path / "morph.gif")  # stopping offers to save the GIF
    recorder.set_recording(True)
    view.move_cursor((0.2, 0.9))
    recorder.set_recording(False)
    np.testing.assert_array_equal(recorder.frames[-1], vae.decode_uint8(np.array([[0.2, 0.9]], np.float32), 3)[0])

    strip = window.panels["reconstructions"]
    window.docks["reconstructions"].raise_()
    qtbot.waitUntil(lambda: len(strip.indices) > 1, timeout=10_000)
    column = next(c for c, index in enumerate(strip.indices) if probe.labels[index] not in (0, 3))
    index = strip.indices[column]
    action = next(a for a in strip.context_menu(column).actions() if a.text() == "Put the cursor on its encoding")
    action.trigger()
    own = probes.encode(vae, probe.images[index:index + 1], probe.labels[index:index + 1]).mean[0]
    assert view.cursor == pytest.approx(tuple(own), abs=1e-5)
    assert not np.allclose(own, probes.encode(vae, probe.images[index:index + 1]).mean[0], atol=1e-4)
    assert not window.last_error
