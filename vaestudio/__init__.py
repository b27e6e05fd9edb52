"""vaestudio: train a convolutional VAE and watch it learn.

Importing this package is cheap: TensorFlow is imported only when a model is built.
"""

import os

# NumPy's BLAS (OpenBLAS) runs single-threaded unless the user says otherwise: a multi-threaded OpenBLAS
# spins while it waits for its threads, so while training keeps a core busy a 20x20 NumPy grid took
# ~700 ms instead of ~110 ms and one cursor image ~15 ms instead of ~0.7 ms. The NumPy VAE runs blocks
# of images on its own threads instead (numpy_vae.WORKERS). Set before NumPy is first imported; it
# does not touch TensorFlow's threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.2.0"
