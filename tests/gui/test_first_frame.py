"""The window's first frame: `vaestudio` shows a bare window first and fills the same window right after."""

from __future__ import annotations


def test_the_bare_window_is_filled_in_place(qtbot):
    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow

    create_application(bare=True)
    window = MainWindow(build=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "vaestudio" and not hasattr(window, "panels") and not window.built
    size = window.size()
    window.build()
    assert window.built and window.isVisible() and window.size() == size
    assert {"latent_plane", "run_controls", "elbo", "timeline"} <= set(window.panels)
    assert [action.text() for action in window.menuBar().actions()] == ["&File", "&Run", "&View", "Se&ttings",
                                                                          "&Help"]
    assert window.windowTitle().startswith("vaestudio")
    window.build()  # a second call changes nothing
    window.close()


def test_closing_the_bare_window_before_it_is_filled(qtbot):
    from vaestudio.gui.app import create_application
    from vaestudio.gui.main_window import MainWindow

    create_application(bare=True)
    window = MainWindow(build=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.close() and not window.isVisible() and not window.built
