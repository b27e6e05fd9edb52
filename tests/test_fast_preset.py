"""The `fast` preset is the recipe the README and RESULTS.md report for issue 22 (time to the article's
10-epoch test ELBO in one epoch): its values, and that it trains the tutorial's model to the end."""

from vaestudio.core.config import PRESETS, TrainConfig


def test_fast_preset_is_the_measured_one_epoch_recipe():
    fast = TrainConfig.from_preset("fast")
    assert (fast.epochs, fast.batch_size, fast.learning_rate) == (1, 32, 1e-2)
    assert (fast.lr_schedule, fast.lr_warmup_steps) == ("cosine", 200)
    assert (fast.steps_per_call, fast.precision, fast.latent_dim) == (16, "float32", 2)
    assert set(PRESETS["fast"]) == {"epochs", "latent_dim", "batch_size", "learning_rate", "lr_schedule",
                                    "lr_warmup_steps", "steps_per_call", "precision"}


def test_fast_preset_epoch_is_whole_batches_of_fashion_mnist():
    """60 000 images make 1 875 batches of 32: no short last batch, its warm-up about a tenth of the epoch."""
    fast = TrainConfig.from_preset("fast")
    assert 60_000 % fast.batch_size == 0
    assert round(fast.lr_warmup_steps / (60_000 // fast.batch_size), 3) == 0.107
