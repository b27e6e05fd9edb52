"""The desktop window: PySide6 widgets and pyqtgraph panels around the Qt-free core.

Nothing on the start-up path imports TensorFlow; it loads in a background thread after the window shows.
"""
