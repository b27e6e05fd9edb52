"""Fixtures for driving the real window: private settings and run folders, tiny synthetic training runs,
and a tiny recorded run to open (no training needed)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Every test gets its own empty settings folder (never the user's)."""
    monkeypatch.setenv("VAESTUDIO_SETTINGS_ORG", "vaestudio-tests")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    return tmp_path / "settings"


@pytest.fixture(autouse=True)
def collect_closed_windows():
    """After each test, free the closed windows' reference cycles here, on the UI thread: left to the
    collector, a later test's training thread could free their Qt objects (which must not happen there).
    What survives is then frozen (gc.freeze: never collected, never scanned again), so each collection
    scans only the objects of one test, not the half million that TensorFlow, Qt and earlier tests left
    (0.4-1 s a test, over two minutes a run)."""
    yield
    import gc

    from vaestudio.gui.threads import collect_cycles_here

    collect_cycles_here()
    gc.freeze()


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    """Runs started in the window are recorded under the test's own folder (never the user's)."""
    path = tmp_path / "runs"
    monkeypatch.setenv("VAESTUDIO_RUNS_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def tiny_data():
    from vaestudio.core.data import synthetic_dataset

    return synthetic_dataset(n_train=128, n_test=32, seed=0)


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory, tiny_data):
    """A finished 2-epoch run folder (latent dim 2, 6x6 grid) recorded by the core pipeline: (path, config)."""
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.runs import Run

    config = TrainConfig.from_preset("custom", epochs=2, batch_size=32, learning_rate=3e-3, grid_size=6,
                                     metrics_every=1, snapshot_every=2, seed=1)
    run = Run.new(tmp_path_factory.mktemp("recorded") / "run-a", config, load_dataset=lambda _config: tiny_data)
    list(run.events())
    return run.path, config


# The model zoo's variants as tiny 1-epoch runs (latent dim 2, 4x4 grid), each trained once per test run by the
# first test that asks for it: the GUI tests of the zoo open them, none writes into them.
ZOO_VARIANTS = {"vamp": dict(prior="vamp", pseudo_inputs=5, objective="iwae", samples=2),
                "conditional": dict(model="conditional"), "tcvae": dict(objective="tcvae", beta=2.0)}


@pytest.fixture(scope="session")
def zoo_run(tmp_path_factory, tiny_data):
    """zoo_run(name): the folder of the ZOO_VARIANTS run `name`, recorded by the core pipeline."""
    from vaestudio.core.config import TrainConfig
    from vaestudio.core.runs import Run

    folders = {}

    def folder(name: str):
        if name not in folders:
            config = TrainConfig.from_preset("custom", epochs=1, batch_size=32, learning_rate=3e-3, grid_size=4,
                                             metrics_every=1, snapshot_every=2, seed=1, **ZOO_VARIANTS[name])
            run = Run.new(tmp_path_factory.mktemp("zoo") / name, config, load_dataset=lambda _config: tiny_data)
            list(run.events())
            folders[name] = run.path
        return folders[name]

    return folder


@pytest.fixture
def make_window(qtbot, tiny_data):
    """Opens real windows that train on the tiny synthetic data, small grids and frequent events."""

    def make():
        from vaestudio.gui.app import create_application
        from vaestudio.gui.main_window import MainWindow

        create_application()  # configures pytest-qt's QApplication as the app's start-up does
        win = MainWindow()
        qtbot.addWidget(win)
        win.dataset_provider = lambda config: tiny_data
        win.config_overrides = dict(grid_size=6, metrics_every=1, snapshot_every=2)
        win.show()
        qtbot.waitExposed(win)
        return win

    return make


@pytest.fixture
def window(make_window):
    win = make_window()
    yield win
    win.close()

