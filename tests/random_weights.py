"""Random VaeWeights for tests: the right shapes, and logits of a few units as a trained model has."""

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.weights import VaeWeights


def random_weights(architecture: Architecture, seed: int = 0, scale: float = 0.15) -> VaeWeights:
    rng = np.random.default_rng(seed)

    def arrays(shapes):
        out = []
        for shape in shapes:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            spread = scale if len(shape) == 1 else 1.5 / np.sqrt(fan_in)
            out.append(rng.normal(0.0, spread, shape).astype(np.float32))
        return out

    return VaeWeights(architecture, tuple(arrays(architecture.encoder_shapes())),
                      tuple(arrays(architecture.decoder_shapes())))
