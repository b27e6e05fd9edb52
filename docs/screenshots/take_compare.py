"""The README's pictures of a run family and of the Compare view, of the real window under a real X server,
the window filling the screen (as maximized):

    xvfb-run -a -s "-screen 0 1400x900x24" python docs/screenshots/take_compare.py docs/screenshots \
        PARENT BRANCH OTHER [--suffix=-1280x720]

PARENT is a finished run folder, BRANCH a run branched from it (`vaestudio train --from PARENT@epoch:1
--beta 4`), OTHER a run with another batch size. Writes run-family<suffix>.png (the Runs panel's family
tree, the three runs ticked, their ELBO curves aligned by images seen) and compare-view<suffix>.png (the
Compare view where the three have ended epoch 2). Runs are opened read-only; settings go to a temporary folder.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("out", type=Path)
parser.add_argument("runs", type=Path, nargs=3, metavar="RUN", help="parent, branch, other")
parser.add_argument("--suffix", default="", help="added to the PNG names, e.g. --suffix=-1280x720")
args = parser.parse_args()
for folder in args.runs:
    if not (folder / "config.json").is_file():
        sys.exit(f"{folder}: not a run folder (no config.json)")
args.out.mkdir(parents=True, exist_ok=True)

sys.path.insert(0, str(Path(__file__).parent))
from shots import leave_after, open_run, pump, scratch_window, wait  # noqa: E402

win, _scratch = scratch_window()
from vaestudio.gui.docks import size_docks  # noqa: E402
from vaestudio.gui.state.alignment import IMAGES  # noqa: E402

win.setGeometry(win.screen().geometry())  # no window manager under Xvfb: the whole screen, as maximized
size_docks(win, win.docks, win.controls.sizeHint().width() + 24)  # the start proportions at this size
win.show()


def grab(name: str) -> None:
    pump(1.0)
    path = args.out / f"{name}{args.suffix}.png"
    print("saved", path, win.grab().save(str(path)), win.errors, flush=True)


pump(1.0)
studio, runs_panel = win.studio, win.runs_panel
parent, branch, other = (open_run(win, folder) for folder in args.runs)
wait(lambda: win.device_ready, 300, "TensorFlow")
wait(lambda: studio.explorer.probe is not None, 300, "the test images")
order = [(history.title(), depth) for history, depth in runs_panel.family_order()]
print("runs shown:", order, flush=True)
for history in (parent, branch, other):
    studio.set_compared(history, True)
studio.comparison.unit = IMAGES

# The family: the branch shown (its parent above it in the tree), the curves of the three runs overlaid.
studio.activate(branch)
win.docks["runs"].raise_()
win.docks["elbo"].raise_()
wait(lambda: studio.explorer.pictures.grid is not None, 120, "the branch's grid")
grab("run-family")

# One moment of the three: where every run has ended epoch 2, in images seen (the branch has trained one
# epoch at its own β by then). Images seen count each epoch's last, smaller batch as a full one: the runs'
# ends of epoch 2 differ by a few images, the latest is taken.
win.compare_action.trigger()
view, comparison = win.panel("compare_view"), studio.comparison


def end_of_epoch_two(history) -> float:
    snapshot = next(s for s in history.snapshots if s.label == "epoch 2")
    return float(comparison.convert(history, [snapshot.step])[0])


studio.view.move_cursor_on_plane(1.0, -1.0)  # the plane's cursor, decoded by each run: a dress or a coat
view.move_to(max(end_of_epoch_two(history) for history in (parent, branch, other)))
wait(lambda: len(comparison.columns) == 3 and all(m.loaded and m.grid is not None for m in comparison.columns),
     300, "the compared moments")
wait(lambda: all(image is not None for image in comparison.previews), 60, "the cursor previews")
grab("compare-view")

leave_after(win)
