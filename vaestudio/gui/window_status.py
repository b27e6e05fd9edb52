"""What the main window's title, run label and menu items say, worked out from the studio (Qt-free)."""

from __future__ import annotations

from vaestudio.gui.state.studio import FAILED, IDLE, PAUSED, STOPPING, TRAINING, WAITING, Studio

LIVE_STATES = {WAITING: "starting", TRAINING: "training", PAUSED: "paused", STOPPING: "stopping"}


def window_title(studio: Studio) -> tuple[str, str, str]:
    """(window title, run label, the run label's tooltip) for the run shown."""
    history = studio.active
    if history is None:
        return "vaestudio: watch a VAE learn", "No run yet", "Press Start, or open a run (File → Open run…)"
    if history is studio.live:
        state = LIVE_STATES.get(studio.training, "")
    elif history.folder is None:
        state = "opened model"
    elif history.finished_event is not None:
        state = {"completed": "finished"}.get(history.finished_event.reason, history.finished_event.reason)
    else:
        state = "read-only"
    where = str(history.folder) if history.folder is not None else "a model file, without a run folder"
    return (f"vaestudio: {history.title()}" + (f" ({state})" if state else ""), f"Run: {history.title()}",
            f"Shown: {where}")


def enabled_actions(studio: Studio) -> dict[str, bool]:
    """Whether each menu action (named as the window's attribute) can be used now."""
    training = studio.training
    busy = training != IDLE
    running = training in (WAITING, TRAINING, PAUSED)
    history = studio.active
    info = history.current if history is not None else None
    return {
        "start_action": not busy, "new_run_action": not busy, "pause_action": running, "stop_action": running,
        "continue_action": not busy,
        "save_action": info is not None and info.has_weights and training != WAITING,
        "export_animation_action": history is not None and history.folder is not None and bool(history.snapshots),
        "export_png_action": studio.explorer.pictures.grid is not None,
        "export_model_action": info is not None and info.has_weights,
        "encode_action": True,
        "open_model_action": studio.tf_status != FAILED,
    }
