"""Start-up discipline: importing the package, the core's light modules or the CLI never loads TensorFlow or Qt."""

import subprocess
import sys


def test_light_imports_do_not_load_tensorflow_or_qt():
    code = ("import sys, vaestudio, vaestudio.cli, vaestudio.core.config, vaestudio.core.data, "
            "vaestudio.core.events, vaestudio.core.store.images, vaestudio.core.store.run_folder, "
            "vaestudio.core.runs, vaestudio.core.progress, vaestudio.core.weights, vaestudio.core.store.recorder; "
            "heavy = sorted(m for m in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph') if m in sys.modules); "
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_core_never_imports_qt():
    from pathlib import Path

    import vaestudio.core

    offenders = [path.name for path in Path(vaestudio.core.__file__).parent.rglob("*.py")
                 if any(word in path.read_text() for word in ("PySide6", "pyqtgraph", "vaestudio.gui"))]
    assert offenders == []


def test_the_windows_first_frame_waits_for_no_heavy_module():
    """Plain `vaestudio` shows its bare window (title, size, place) before importing NumPy, pyqtgraph, the
    studio or the panels, so that it appears about as soon as an empty Qt window does (issue 22)."""
    import os

    code = ("import os, sys\n"
            "from vaestudio.gui import main_window\n"
            "def build(window):\n"
            "    heavy = ('numpy', 'pyqtgraph', 'PIL', 'imageio', 'tensorflow', 'keras', 'vaestudio.gui.state',\n"
            "             'vaestudio.gui.panels', 'vaestudio.core.numpy_vae', 'vaestudio.reports')\n"
            "    print(window.isVisible(), window.windowTitle(), sorted(m for m in heavy if m in sys.modules))\n"
            "    sys.stdout.flush()\n"
            "    os._exit(0)\n"
            "main_window.MainWindow.build = build\n"
            "from vaestudio.cli import main\n"
            "main([])\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DISPLAY=os.environ.get("DISPLAY") or ":offscreen")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.strip() == "True vaestudio []", result.stdout + result.stderr
