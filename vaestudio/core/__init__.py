"""Qt-free core: the run pipeline (runs.py, its controls in control.py, events.py, replay.py, run_facts.py),
data, the run folder (store/), TensorFlow training (tf/), the NumPy VAE and the probes that explore a
snapshot.

Nothing here imports Qt, and TensorFlow is imported lazily inside the functions that need it.
"""
