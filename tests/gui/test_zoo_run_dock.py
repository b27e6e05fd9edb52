"""The Run dock's Model group (issue 19): a variant is chosen, checked in one line, trained, and remembered."""

from __future__ import annotations

from window_helpers import set_fields, train


def choose(window, **choices) -> None:
    variant = window.controls.variant
    for name, value in choices.items():
        combo = variant.combos[name]
        combo.setCurrentIndex(combo.findData(value))


def test_a_conditional_run_is_trained_from_the_run_dock_and_offers_the_class_selector(qtbot, window):
    choose(window, model="conditional")
    train(qtbot, window, epochs=1, latent_dim=2)
    history = window.studio.active
    assert history.config.model == "conditional" and history.config.architecture.classes == 10
    explorer = window.studio.explorer
    qtbot.waitUntil(lambda: explorer.pictures.vae is not None and window.studio.view.classes == 10, timeout=20_000)
    selector = window.panels["latent_plane"].class_box
    assert selector.isVisible()
    selector.choose(3)
    qtbot.waitUntil(lambda: explorer.pictures.grid_class == 3, timeout=20_000)


def test_variant_choices_are_checked_in_one_line_naming_the_setting(qtbot, window):
    controls = window.controls
    variant = controls.variant
    assert not variant.numbers["pseudo_inputs"].isEnabled() and not variant.numbers["samples"].isEnabled()
    choose(window, prior="vamp", objective="tcvae")
    assert not controls.start_button.isEnabled()
    assert "objective tcvae" in controls.message.text() and "prior vamp" in controls.message.text()
    choose(window, prior="standard", objective="iwae")
    assert variant.numbers["samples"].isEnabled() and controls.start_button.isEnabled()
    variant.numbers["samples"].setText("1")
    assert "samples" in controls.message.text() and not controls.start_button.isEnabled()
    variant.numbers["samples"].setText("3")
    choose(window, kl_schedule="cyclical")
    set_fields(window, kl_warmup_steps=100)
    assert "kl_warmup_steps" in controls.message.text() and not controls.start_button.isEnabled()
    set_fields(window, kl_warmup_steps=0)
    variant.numbers["cycles"].setText("0")
    assert controls.message.text().startswith("Cycles") and "\n" not in controls.message.text()
    variant.numbers["cycles"].setText("2")
    config = controls.config()
    assert (config.objective, config.samples, config.kl_schedule, config.cycles, config.prior) == \
        ("iwae", 3, "cyclical", 2, "standard")


def test_variant_choices_are_remembered(qtbot, make_window):
    first = make_window()
    choose(first, prior="vamp")
    first.controls.variant.numbers["pseudo_inputs"].setText("12")
    first.close()
    second = make_window()
    config = second.controls.config()
    assert (config.prior, config.pseudo_inputs, config.model) == ("vamp", 12, "vae")
    second.close()
