"""The model zoo: what its variants share without TensorFlow (their objectives are in core/tf/variants.py)."""
