"""The shape of a vaestudio VAE: what the Keras model, the NumPy VAE and every weights file agree on.

The tutorial's CVAE is the 28x28x1 case: encoder Conv2D(32, 3, s2) -> Conv2D(64, 3, s2) -> Flatten ->
Dense(2 * latent); decoder Dense(7*7*32) -> Reshape -> Conv2DTranspose(64, 3, s2) -> Conv2DTranspose(32,
3, s2) -> Conv2DTranspose(channels, 3, s1) (logits). Larger images add one stride-2 stage on each side
(64x64: 64 -> 31 -> 15 -> 7 in the encoder, 8 -> 16 -> 32 -> 64 in the decoder).

The prior is N(0, I) (the tutorial's) or a VampPrior (Tomczak & Welling 2018): the mixture of the encoder's
posteriors at K learned pseudo-inputs. The pseudo-inputs are part of the generative model, so their logits
(K, H, W, C) are the decoder's first weights (an identity layer that holds them: model.PseudoInputs), and
travel with the decoder through checkpoints, snapshots and weights files.

A class-conditional model (model "conditional") takes an image's label, one-hot over CLASSES classes, as
extra input channels of the encoder (constant over the image) and as extra inputs of the decoder
(concatenated to z); its first convolution and its decoder's dense layer grow accordingly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vaestudio.core.errors import ConfigError

IMAGE_SIZES = (28, 64)
CHANNELS = (1, 3)
# bernoulli: pixels binarized at 0.5, independent Bernoulli likelihood (the tutorial's).
# continuous_bernoulli: grey levels in [0, 1] as targets, a normalised density on [0, 1] per pixel
# (Loaiza-Ganem & Cunningham 2019), so the ELBO and the IWAE estimate stay true bounds on log p(x).
LIKELIHOODS = ("bernoulli", "continuous_bernoulli")
MAX_LATENT_DIM = 64
PRIORS = ("standard", "vamp")
MODELS = ("vae", "conditional")
CLASSES = 10  # of a conditional model: the labels of Fashion-MNIST and MNIST
MAX_PSEUDO_INPUTS = 2000
KERNEL = 3
DECODER_BASE_CHANNELS = 32


@dataclass(frozen=True)
class Architecture:
    """Image size, channels, latent size and likelihood; everything else follows from them."""

    latent_dim: int = 2
    image_size: int = 28
    channels: int = 1
    likelihood: str = "bernoulli"
    prior: str = "standard"
    pseudo_inputs: int = 0  # K of the VampPrior; 0 for the standard normal
    model: str = "vae"  # or "conditional" on the image's class

    def __post_init__(self) -> None:
        for name, value in (("latent_dim", self.latent_dim), ("image_size", self.image_size),
                            ("channels", self.channels)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number, got {value!r}")
        if not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise ConfigError(f"latent_dim must be between 1 and {MAX_LATENT_DIM}, got {self.latent_dim}")
        if self.image_size not in IMAGE_SIZES:
            raise ConfigError(f"image_size must be one of {', '.join(map(str, IMAGE_SIZES))}, got {self.image_size}")
        if self.channels not in CHANNELS:
            raise ConfigError(f"channels must be 1 (grey) or 3 (colour), got {self.channels}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}")
        if self.prior not in PRIORS:
            raise ConfigError(f"prior must be one of {', '.join(PRIORS)}, got {self.prior!r}")
        if isinstance(self.pseudo_inputs, bool) or not isinstance(self.pseudo_inputs, int):
            raise ConfigError(f"pseudo_inputs must be a whole number, got {self.pseudo_inputs!r}")
        if self.prior == "vamp" and not 1 <= self.pseudo_inputs <= MAX_PSEUDO_INPUTS:
            raise ConfigError(f"pseudo_inputs must be between 1 and {MAX_PSEUDO_INPUTS} for prior vamp, "
                              f"got {self.pseudo_inputs}")
        if self.prior == "standard" and self.pseudo_inputs:
            raise ConfigError(f"pseudo_inputs ({self.pseudo_inputs}) needs prior vamp")
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.model == "conditional" and self.vamp:
            raise ConfigError("model conditional cannot have prior vamp (its pseudo-inputs would need a class): "
                              "use prior standard")

    # -- layers --------------------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    @property
    def encoder_filters(self) -> tuple[int, ...]:
        return (32, 64) if self.image_size == 28 else (32, 64, 128)

    @property
    def decoder_filters(self) -> tuple[int, ...]:
        """Filters of the stride-2 transposed convolutions (the last, stride-1 one has `channels`)."""
        return (64, 32) if self.image_size == 28 else (128, 64, 32)

    @property
    def encoder_output_size(self) -> int:
        """Side of the last encoder feature map (valid 3x3 convolutions with stride 2)."""
        size = self.image_size
        for _ in self.encoder_filters:
            size = (size - KERNEL) // 2 + 1
        return size

    @property
    def decoder_base_size(self) -> int:
        """Side of the decoder's first feature map: 7 for 28x28, 8 for 64x64."""
        return self.image_size // 2 ** len(self.decoder_filters)

    @property
    def binarized(self) -> bool:
        """Whether inputs are binarized at 0.5 before training and evaluation."""
        return self.likelihood == "bernoulli"

    # -- weights, in Keras's get_weights() order -------------------------------------------------------
    def encoder_shapes(self) -> list[tuple[int, ...]]:
        shapes: list[tuple[int, ...]] = []
        channels_in = self.channels + self.classes
        for filters in self.encoder_filters:
            shapes += [(KERNEL, KERNEL, channels_in, filters), (filters,)]
            channels_in = filters
        flat = self.encoder_output_size ** 2 * channels_in
        return shapes + [(flat, 2 * self.latent_dim), (2 * self.latent_dim,)]

    @property
    def vamp(self) -> bool:
        return self.prior == "vamp"

    @property
    def classes(self) -> int:
        """Classes a conditional model takes (0: unconditional)."""
        return CLASSES if self.model == "conditional" else 0

    def decoder_shapes(self) -> list[tuple[int, ...]]:
        """The VampPrior's pseudo-input logits first (its prior), then the decoder's layers."""
        base = self.decoder_base_size ** 2 * DECODER_BASE_CHANNELS
        shapes: list[tuple[int, ...]] = [(self.pseudo_inputs, *self.image_shape)] if self.vamp else []
        shapes += [(self.latent_dim + self.classes, base), (base,)]
        channels_in = DECODER_BASE_CHANNELS
        for filters in (*self.decoder_filters, self.channels):
            # Conv2DTranspose kernels are (height, width, filters out, channels in).
            shapes += [(KERNEL, KERNEL, filters, channels_in), (filters,)]
            channels_in = filters
        return shapes

    def parameter_count(self) -> int:
        total = 0
        for shape in self.encoder_shapes() + self.decoder_shapes():
            count = 1
            for dim in shape:
                count *= dim
            total += count
        return total

    # -- (de)serialisation -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fields; the prior's only when it is not the standard normal (files as before for those)."""
        values = asdict(self)
        if not self.vamp:
            del values["prior"], values["pseudo_inputs"]
        if not self.classes:
            del values["model"]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "architecture") -> "Architecture":
        known = {"latent_dim", "image_size", "channels", "likelihood", "prior", "pseudo_inputs", "model"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown architecture setting(s) {', '.join(unknown)}")
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def of(cls, config: Any) -> "Architecture":
        """The architecture a TrainConfig names."""
        return cls(config.latent_dim, config.image_size, config.channels, config.likelihood,
                   getattr(config, "prior", "standard"), getattr(config, "pseudo_inputs", 0),
                   getattr(config, "model", "vae"))

    def describe(self) -> str:
        colour = "grey" if self.channels == 1 else "colour"
        prior = f", VampPrior of {self.pseudo_inputs} pseudo-inputs" if self.vamp else ""
        prior += f", conditional on {self.classes} classes" if self.classes else ""
        return (f"{self.image_size}x{self.image_size} {colour}, latent dim {self.latent_dim}, "
                f"{self.likelihood.replace('_', ' ')} likelihood{prior}")
