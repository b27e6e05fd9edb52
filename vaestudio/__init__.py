"""vaestudio: train a convolutional VAE and watch it learn.

Importing this package is cheap: TensorFlow is imported only when a model is built.
"""

__version__ = "0.1.0"
