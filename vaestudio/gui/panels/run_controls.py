"""The Run dock: the new run's settings (run_form.py); Start / Pause / Stop; progress with ETA; the learning
rate and β of the run under way, changed live.

Values are checked where they are typed (a red field and one line saying why; Start is disabled). The
dock hands run actions to the `TrainingController` (`commands.training`); what it shows of the run comes
from the studio (`training`, `live`), redrawn on a timer, never per event.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from vaestudio.core.config import TrainConfig
from vaestudio.core.errors import ConfigError
from vaestudio.gui.branch_dialog import BranchButton
from vaestudio.gui.commands import Commands
from vaestudio.gui.panels.run_form import LIVE_FIELDS, RunForm
from vaestudio.gui.panels.run_progress import RunProgress
from vaestudio.gui.state.studio import IDLE, PAUSED, TRAINING, WAITING, Studio
from vaestudio.gui.widgets import subscribe

REDRAW_MS = 250


class RunControlsPanel(QWidget):
    """The new run's settings (RunForm), Start / Pause / Stop, progress; live learning rate and β."""

    title = "Run"

    def __init__(self, studio: Studio, commands: Commands, parent: QWidget | None = None):
        super().__init__(parent)
        self.studio, self.commands = studio, commands
        self._shown = None  # the RunHistory whose progress is shown (the live run, then the last one)

        self.form = RunForm(commands, self._refresh, lambda: self.studio.is_training, self)
        self.data, self.variant, self.fields = self.form.data, self.form.variant, self.form.fields
        self.dataset_combo, self.size_combo, self.channels_combo = (self.data.dataset_combo, self.data.size_combo,
                                                                    self.data.channels_combo)
        self.folder_button, self.folder_label = self.data.folder_button, self.data.folder_label
        self.preset_combo, self.preset_note = self.form.preset_combo, self.form.preset_note
        self.apply_button = QPushButton("Apply to this run", toolTip="Put the learning rate and β above in force "
                                        "from the run's next steps (marked on the ELBO plot)")
        self.apply_button.hide()
        self.form.rows.addRow("", self.apply_button)
        # which settings these are while another run is shown
        self.shown_note = QLabel(wordWrap=True, styleSheet="background: palette(alternate-base); padding: 4px;")
        self.shown_note.hide()

        self.message = QLabel(wordWrap=True, styleSheet="color: #c9302c;")
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.message.hide()

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause", toolTip="Pause or resume training (Space)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current steps; the run is kept and can be continued")
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)

        self.progress = RunProgress()
        self.epoch_label, self.epoch_bar = self.progress.epoch_label, self.progress.epoch_bar
        self.run_label, self.run_bar = self.progress.run_label, self.progress.run_bar
        self.eta_label = self.progress.eta_label

        layout = QVBoxLayout(self)
        layout.addWidget(self.shown_note)
        layout.addWidget(self.form.box)
        layout.addWidget(self.variant.box)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.branch_button = BranchButton(studio, commands)  # a new run from the moment shown (issue 17)
        layout.addWidget(self.branch_button)
        layout.addWidget(self.progress)
        layout.addStretch(1)

        for name in LIVE_FIELDS:
            self.fields[name].returnPressed.connect(self._apply_if_live)
        self.apply_button.clicked.connect(self.apply_live_values)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(self.stop)

        subscribe(self, [(studio.training_changed, self._on_training_changed),
                         (studio.runs_changed, self._on_runs_changed),
                         (studio.active_hyper_changed, self._show_live_values),
                         (studio.active_changed, self._show_which_settings)])
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.show_progress)

        self._refresh()

    # -- the form (run_form.py) ------------------------------------------------------------------------------
    @property
    def dataset(self) -> str:
        return self.form.dataset

    @property
    def preset(self) -> str:
        return self.form.preset

    def errors(self) -> list[str]:
        return self.form.errors()

    def config(self) -> TrainConfig:
        """The config the fields describe; raises ConfigError when a value is invalid."""
        return self.form.config()

    def apply_preset(self, preset: str) -> None:
        """Fill the fields from a preset ('custom' keeps what is there)."""
        self.form.apply_preset(preset)

    def show_config(self, config: TrainConfig) -> None:
        """Show a run's settings (the run being continued)."""
        self.form.show_config(config)

    # -- run actions ----------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start: a new run with these settings, or — after a run was stopped — continue it if the user says so."""
        training = self.commands.training
        if training is None or self.studio.is_training:
            return False
        try:
            config = self.config()
        except ConfigError as exc:
            self._show_message(str(exc))
            return False
        outcome = training.last_outcome
        if outcome is not None and outcome.can_continue and outcome.folder is not None and outcome.folder.is_dir():
            finished = outcome.finished
            choice = self.commands.ask_choice(
                "continue_or_new", "Start",
                f"The last run ({outcome.folder.name}) was stopped at step {finished.step} with "
                f"{finished.epoch} epoch{'s' if finished.epoch != 1 else ''} complete.\n\n"
                "Continue that run from where it stopped, or start a new run (step 0, a new folder) with the "
                "settings shown?", ("Continue that run", "Start a new run"), default="Continue that run")
            if choice is None:
                return False
            if choice == "Continue that run":
                return training.continue_run(outcome.folder)
        return training.start(config)

    def stop(self) -> None:
        if self.commands.training is not None:
            self.commands.training.stop()

    def _on_pause_clicked(self) -> None:
        if self.commands.training is not None:
            self.commands.training.toggle_pause()

    def _apply_if_live(self) -> None:
        if self.studio.training in (TRAINING, PAUSED, WAITING):
            self.apply_live_values()

    def apply_live_values(self) -> bool:
        """Send the learning rate and β typed here to the run under way; True when both were accepted."""
        training = self.commands.training
        if training is None or training.run is None:
            return False
        problems = []
        for name in LIVE_FIELDS:
            field = self.fields[name]
            if field.error:
                problems.append(field.error)
                continue
            current = getattr(training.run.config, name)
            in_force = self._in_force(name)
            if in_force is not None:
                current = in_force
            if not math.isclose(field.value(), current, rel_tol=1e-9):
                error = getattr(training, f"set_{name}")(field.value())
                if error:
                    problems.append(error)
        if problems:
            self._show_message(problems[0])
            return False
        self.studio.say("New values go in force from the run's next steps (marked on the ELBO plot)", 5000)
        return True

    def _show_which_settings(self, *_args) -> None:
        """While an opened run (not the one training here) is shown, say that these fields are a new run's
        and what the run shown was trained with."""
        shown = self.studio.active
        config = shown.config if shown is not None and not shown.live else None
        self.shown_note.setVisible(config is not None)
        if config is not None and shown.folder is None:  # a model file: only its shape is certain
            self.shown_note.setText(f"<b>Settings for a new run.</b> The model shown, {shown.title()}, is a model "
                                    f"file of latent dim {config.latent_dim} ({config.image_size}×{config.image_size})")
        elif config is not None:
            self.shown_note.setText(
                f"<b>Settings for a new run.</b> The run shown, {shown.title()}, was trained with: latent dim "
                f"{config.latent_dim}, {config.epochs} epochs, batch {config.batch_size}, learning rate "
                f"{config.learning_rate:g}, β {config.beta:g} ({config.dataset})")

    def _show_live_values(self, *_args) -> None:
        """The learning rate and β the live run trains at (a continued run: those applied before it stopped)."""
        live = self.studio.live
        if live is None or live is not self.studio.active or not live.hyper_changes:
            return
        for name in LIVE_FIELDS:
            self.fields[name].set_value(getattr(live.hyper_changes[-1], name))

    def _in_force(self, name: str) -> float | None:
        history = self.studio.live
        if history is not None and history.hyper_changes:
            return getattr(history.hyper_changes[-1], name)
        return None

    # -- state -----------------------------------------------------------------------------------------------
    def _on_training_changed(self, state: str) -> None:
        if self.studio.live is not None:
            self._shown = self.studio.live
        if state == IDLE:
            self._timer.stop()
        elif not self._timer.isActive():
            self._timer.start()
        self._refresh()
        self.show_progress()

    def _on_runs_changed(self) -> None:
        if self.studio.live is not None and self._shown is not self.studio.live:
            self._shown = self.studio.live
            if self.studio.live.config is not None:
                self.show_config(self.studio.live.config)
            self._show_live_values()
            self.show_progress()

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _refresh(self) -> None:
        state = self.studio.training
        problems = self.errors()
        self._show_message(problems[0] if problems else "")
        idle = state == IDLE
        running = state in (TRAINING, PAUSED, WAITING)
        self.form.refresh(idle, running)
        self.apply_button.setVisible(running)
        self.apply_button.setEnabled(running and not any(self.fields[n].error for n in LIVE_FIELDS))
        self.start_button.setEnabled(idle and not problems)
        self.start_button.setToolTip(problems[0] if problems else "Train with these settings (Ctrl+Return)")
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Resume" if state == PAUSED else "Pause")
        self.stop_button.setEnabled(running)

    def show_progress(self) -> None:
        """Progress bars, ETA and rate of the live run (or how the last one ended)."""
        self.progress.show_run(self._shown, self.studio.training)

    # -- persistence ------------------------------------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        self.form.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.form.restore_settings(settings)
