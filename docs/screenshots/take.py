"""The README's screenshots, of the real window under a real X server:

    xvfb-run -s "-screen 0 1600x1000x24" python docs/screenshots/take.py docs/screenshots RUN_A [RUN_B]

RUN_A is a finished run folder (opened read-only; the README's is the 10-epoch tutorial run), RUN_B a
second run to compare. Settings and runs go to a temporary folder, never the user's.
"""
from __future__ import annotations

import sys
from pathlib import Path

OUT, RUN_A = Path(sys.argv[1]), Path(sys.argv[2])
RUN_B = Path(sys.argv[3]) if len(sys.argv) > 3 else None
OUT.mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(Path(__file__).parent))
from shots import leave_after, open_run, pump, scratch_window, wait  # noqa: E402

win, SCRATCH = scratch_window()
from PIL import Image, ImageDraw  # noqa: E402

from vaestudio.gui.state.latent_view import Endpoint  # noqa: E402

win.resize(1500, 940)
win.show()


def grab(name):
    pump(1.0)
    print("saved", name, win.grab().save(str(OUT / name)), win.errors, flush=True)


def open_shown(folder):
    history = open_run(win, folder)
    wait(lambda: win.studio.explorer.probe is not None, 300, "probe")
    return history


pump(1.0)
history = open_shown(RUN_A)
ex = win.studio.explorer
wait(lambda: win.device_ready, 300, "TensorFlow")


def settled(index):
    p = ex.pictures
    return p.info is not None and p.info.index == index and p.grid is not None and p.means is not None \
        and p.reconstructions is not None


early = next((s.index for s in history.snapshots if s.label.startswith("epoch 1, batch") and s.step > 150), 2)
win.timeline.slider.setValue(early)
wait(lambda: settled(early), 120, "early")
win.docks["reconstructions"].raise_()
win.docks["kl"].raise_()
grab("time-machine.png")

last = len(history.snapshots) - 1
win.timeline.slider.setValue(last)
wait(lambda: settled(last), 120, "last")
probe = ex.probe
means = ex.pictures.means
import numpy as np  # noqa: E402


def typical(label):
    """The test image of a class nearest its class's median encoding."""
    chosen = np.flatnonzero(probe.labels == label)
    centre = np.median(means[chosen], axis=0)
    return int(chosen[np.argmin(((means[chosen] - centre) ** 2).sum(axis=1))])


a, b = typical(0), typical(9)  # T-shirt/top -> Ankle boot
view = win.studio.view
view.pick_endpoint(Endpoint.test_image(a, f"test image {a} ({probe.class_name(a)})"))
view.pick_endpoint(Endpoint.test_image(b, f"test image {b} ({probe.class_name(b)})"))
win.docks["interpolation"].raise_()
wait(lambda: ex.pictures.interpolation is not None, 60, "interpolation")
grab("interpolation.png")

shoe = SCRATCH / "my-sneaker.png"
img = Image.new("L", (112, 112), 255)
ImageDraw.Draw(img).polygon([(10, 70), (40, 60), (60, 40), (80, 50), (100, 70), (100, 85), (10, 85)], fill=0)
img.save(shoe)
win.commands.answers["images"] = shoe
win.encode_action.trigger()
win.docks["own_images"].raise_()
pad = win.panel("drawing_pad")
wait(lambda: ex.pictures.own is not None and len(ex.pictures.own) == 1, 60, "own")
grab("own-images.png")

if RUN_B is not None:
    other = open_shown(RUN_B)
    win.studio.set_compared(history, True)
    win.studio.set_compared(other, True)
    win.docks["runs"].raise_()
    win.docks["elbo"].raise_()
    wait(lambda: ex.pictures.grid is not None, 60, "grid b")
    grab("runs.png")
leave_after(win)
