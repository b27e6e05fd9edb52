"""Qt-free core: data, model, objective, trainer, decoding and export.

Nothing here imports Qt, and TensorFlow is imported lazily inside the functions that need it.
"""
