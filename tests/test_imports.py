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
