"""Shared test settings: headless Qt, quiet TensorFlow, small thread pools."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("VAESTUDIO_SETTINGS_ORG", "vaestudio-tests")

# Tiny IDX data and trained run folders, made once per test run for every module that asks for them.
from hostile_helpers import tiny_idx, trained_runs  # noqa: E402,F401  (session fixtures)
