"""Exports of one snapshot for use outside vaestudio (Qt-free; TensorFlow is imported only by the writers
that need it): the encoder and decoder as Keras, SavedModel, ONNX, LiteRT or TensorFlow.js models
(formats.py, tfjs.py), the test set's latent codes as a table (latents.py) and as TensorBoard Projector
files (projector.py). target.py checks where they go and writes them complete or not at all."""
