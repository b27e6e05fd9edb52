"""Settings: presets, range checks with clear messages, JSON round trip."""

import json

import pytest

from vaestudio.core.config import PRESETS, TrainConfig
from vaestudio.core.errors import ConfigError


def test_tutorial_preset_is_the_articles_settings():
    config = TrainConfig.from_preset("tutorial")
    assert (config.batch_size, config.learning_rate, config.epochs, config.latent_dim) == (32, 1e-4, 10, 2)
    assert config.grid_size == 20 and config.snapshot_every == 75


def test_explicit_values_override_the_preset_and_none_does_not():
    config = TrainConfig.from_preset("fast", epochs=3, batch_size=None)
    assert config.epochs == 3
    assert config.batch_size == PRESETS["fast"]["batch_size"]


@pytest.mark.parametrize("name, value, words", [
    ("learning_rate", 0.0, "learning_rate must be between"),
    ("latent_dim", 0, "latent_dim must be between 1 and 64"),
    ("batch_size", 100_000, "batch_size must be between"),
    ("epochs", 2.5, "epochs must be a whole number"),
    ("learning_rate", float("nan"), "learning_rate must be a finite number"),
    ("seed", "seven", "seed must be a number"),
])
def test_out_of_range_values_are_refused_with_their_name(name, value, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig.from_preset("custom", **{name: value})


def test_unknown_preset_and_dataset_are_refused():
    with pytest.raises(ConfigError, match="unknown preset 'turbo'"):
        TrainConfig.from_preset("turbo")
    with pytest.raises(ConfigError, match="dataset 'cifar'"):
        TrainConfig.from_preset("tutorial", dataset="cifar")


def test_json_round_trip_and_bad_files(tmp_path):
    config = TrainConfig.from_preset("fast", seed=7, limit=100)
    config.save(tmp_path / "c.json")
    assert TrainConfig.load(tmp_path / "c.json") == config

    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json: not a readable JSON file"):
        TrainConfig.load(tmp_path / "bad.json")
    values = config.to_dict() | {"learning_rate": -1}
    (tmp_path / "range.json").write_text(json.dumps(values))
    with pytest.raises(ConfigError, match="range.json: learning_rate must be"):
        TrainConfig.load(tmp_path / "range.json")
    (tmp_path / "extra.json").write_text(json.dumps(config.to_dict() | {"warp": 9}))
    with pytest.raises(ConfigError, match="unknown setting.*warp"):
        TrainConfig.load(tmp_path / "extra.json")


def test_precision_is_checked():
    assert TrainConfig.from_preset("fast").precision == "float32"  # measured: bfloat16 learned less (issue 22)
    assert TrainConfig.from_preset("fast", precision="auto").precision == "auto"
    with pytest.raises(ConfigError, match="precision 'half' is not one of"):
        TrainConfig.from_preset("tutorial", precision="half")


def test_fast_preset_keeps_the_tutorials_model_and_objective():
    """`fast` may only change how the model is trained, not what is trained or how it is scored."""
    fast, tutorial = TrainConfig.from_preset("fast"), TrainConfig.from_preset("tutorial")
    assert fast.architecture == tutorial.architecture
    assert (fast.beta, fast.kl_warmup_steps) == (tutorial.beta, tutorial.kl_warmup_steps) == (1.0, 0)
    assert fast.grid_size == tutorial.grid_size
    assert fast.epochs < tutorial.epochs


def test_fast_preset_warms_up_then_anneals_to_zero_at_its_last_step():
    """The learning rate a `fast` run on Fashion-MNIST follows: a short linear warm-up to the preset's
    peak, then a steady decay that ends near zero on the run's last step, not before."""
    import math

    from vaestudio.core.tf.steps import Schedule

    config = TrainConfig.from_preset("fast")
    steps_per_epoch = math.ceil(60_000 / config.batch_size)
    total = config.epochs * steps_per_epoch
    schedule = Schedule.of(config, steps_per_epoch)
    rates = [config.learning_rate * schedule.lr_factor(step) for step in range(total)]
    peak = max(rates)
    assert peak == pytest.approx(config.learning_rate)
    assert 0 < rates.index(peak) < steps_per_epoch // 2  # warm-up: a fraction of the first epoch
    assert rates[0] < 0.05 * peak
    assert all(later <= earlier for earlier, later in zip(rates[rates.index(peak):], rates[rates.index(peak) + 1:]))
    assert rates[total // 2] > 0.3 * peak  # still learning halfway
    assert rates[-1] < 1e-3 * peak


def test_more_epochs_on_the_fast_preset_stretch_its_schedule():
    """Asking `fast` for more epochs keeps its schedule, spread over the longer run."""
    import math

    from vaestudio.core.tf.steps import Schedule

    config = TrainConfig.from_preset("fast", epochs=PRESETS["fast"]["epochs"] + 2)
    assert (config.lr_schedule, config.lr_warmup_steps) == (PRESETS["fast"]["lr_schedule"],
                                                           PRESETS["fast"]["lr_warmup_steps"])
    steps_per_epoch = math.ceil(60_000 / config.batch_size)
    schedule = Schedule.of(config, steps_per_epoch)
    end_of_preset_length = PRESETS["fast"]["epochs"] * steps_per_epoch
    assert schedule.lr_factor(end_of_preset_length) > 0.1
    assert schedule.lr_factor(config.epochs * steps_per_epoch - 1) < 1e-3
