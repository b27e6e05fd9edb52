"""Shared test settings: headless Qt, quiet TensorFlow, small thread pools."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("VAESTUDIO_SETTINGS_ORG", "vaestudio-tests")
