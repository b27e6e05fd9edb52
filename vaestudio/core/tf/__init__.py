"""Everything that needs TensorFlow: the model, the objective, the device and the trainer.

Importing this package does not import TensorFlow; its modules do, so import them lazily.
"""
