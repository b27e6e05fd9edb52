"""Issue 9 #7, #8, #11 (config values), #16: absurd values get one line naming the value, exit 2.

config.json is hand-editable, so every hostile value there is tried through `--resume` on a copy of a
real run (refused with nothing changed); command-line values and data files through a new run.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from hostile_helpers import (assert_run_complete, assert_unchanged, copy_run, tiny_idx, train_args, trained_runs,
                             tree_state)
from vaestudio.cli import main

__all__ = ["tiny_idx", "trained_runs"]  # fixtures


# -- #8, #11: config.json ----------------------------------------------------------------------------------------


def _edit(text: str, key: str, raw_value: str) -> str:
    """config.json text with `key`'s value replaced by the raw JSON token `raw_value` (NaN, 1e999, ...)."""
    values = json.loads(text)
    values[key] = "__HOSTILE__"
    return json.dumps(values, indent=2).replace('"__HOSTILE__"', raw_value)


CONFIG_VALUES = [  # (key, raw JSON token); the message must name the key or the value
    ("learning_rate", "NaN"),
    ("epochs", "Infinity"),
    ("beta", "-Infinity"),
    ("batch_size", "1e999"),
    ("grid_size", "-1e999"),
    ("data_dir", "5"),  # #11: was a TypeError, exit 1
    ("data_dir", '["a", "b"]'),
    ("latent_dim", "400000"),
    ("latent_dim", "2.5"),
    ("epochs", "true"),
    ("epochs", '"10"'),
    ("seed", "-1"),
    ("seed", "99999999999999999999999"),
    ("limit", "0"),
    ("dataset", "null"),
    ("precision", '"float64"'),
    ("image_size", "29"),
]


@pytest.mark.parametrize("key, raw", CONFIG_VALUES, ids=[f"{k}={r}" for k, r in CONFIG_VALUES])
def test_a_hostile_config_value_is_refused_by_name_with_nothing_changed(key, raw, trained_runs, tmp_path, capsys):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    config = run / "config.json"
    config.write_text(_edit(config.read_text(), key, raw))
    before = tree_state(run)
    code = main(["train", "--resume", str(run)])
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert "config.json" in err and (key in err or raw.strip('"') in err), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert_unchanged(before, run)


CONFIG_FILES = {
    "deeply_nested": b'{"epochs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "top_level_list": b"[1, 2, 3]",
    "not_utf8": b'{"epochs": 2, "dataset": "fashion\xff"}',
    "utf8_bom": b"\xef\xbb\xbf{}",
    "two_megabytes": b'{"pad": "' + b"x" * (2 << 20) + b'"}',
    "empty": b"",
    "unknown_setting": b'{"version": 1, "epochs": 2, "rm -rf": true}',
    "version_as_text": b'{"version": "1"}',
}


@pytest.mark.parametrize("data", list(CONFIG_FILES.values()), ids=list(CONFIG_FILES))
def test_a_hostile_config_file_is_refused_by_name_with_nothing_changed(data, trained_runs, tmp_path, capsys):
    run = copy_run(trained_runs.stale, tmp_path / "run")
    (run / "config.json").write_bytes(data)
    before = tree_state(run)
    code = main(["train", "--resume", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "config.json" in err, f"exit {code}: {err}"
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and len(err) < 1000
    assert_unchanged(before, run)


def test_a_config_that_is_a_fifo_does_not_hang_the_resume(trained_runs, tmp_path, capsys):
    import os
    import threading

    run = copy_run(trained_runs.stale, tmp_path / "run")
    (run / "config.json").unlink()
    os.mkfifo(run / "config.json")
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("code", main(["train", "--resume", str(run)])),
                              daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock the reader so the thread can end, then fail
        with open(run / "config.json", "wb"):
            pass
        worker.join(20)
        pytest.fail("a resume with config.json as a FIFO waits forever for a writer")
    assert result["code"] == 2 and "config.json" in capsys.readouterr().err


# -- #7: a one-dimensional latent space ----------------------------------------------------------------------------


def test_latent_dim_1_trains_and_draws_its_grid_as_a_strip(tiny_idx, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(train_args(tiny_idx, out, 2, "--latent-dim", "1"))
    assert code == 0, capsys.readouterr().err
    with Image.open(out / "grid_final.png") as grid:
        assert grid.size == (4 * 28, 28), f"grid_final.png is {grid.size}, expected one row of 4 tiles"
    assert_run_complete(out, 2)
    assert main(["train", "--resume", str(out), "--epochs", "3"]) == 0
    assert_run_complete(out, 3)


# -- #16 ------------------------------------------------------------------------------------------------------------


def test_a_text_file_named_npz_is_called_not_a_zip_file(tmp_path, capsys):
    fake = tmp_path / "x.npz"
    fake.write_text("x_train,y_train\n1,2\n")
    code = main(train_args(fake, tmp_path / "run", 1))
    err = capsys.readouterr().err
    assert code == 2 and str(fake) in err
    assert "pickle" not in err.lower(), err
    assert "zip" in err.lower() or "not a .npz" in err.lower(), err
    assert not (tmp_path / "run").exists()


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("make", [
    pytest.param(lambda p: p.write_bytes(b""), id="empty_file"),
    pytest.param(lambda p: p.write_bytes(_npy_bytes(np.zeros(3))), id="npy_named_npz"),
    pytest.param(lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 100), id="truncated_zip"),
    pytest.param(lambda p: np.savez(p, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8),
                                    x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.array([0, 12], np.uint8)),
                 id="label_out_of_range"),
    pytest.param(lambda p: np.savez(p, x_train=np.zeros((2, 28, 28), np.float64) - 1.0,
                                    y_train=np.zeros(2, np.uint8), x_test=np.zeros((2, 28, 28), np.uint8),
                                    y_test=np.zeros(2, np.uint8)), id="negative_float_images"),
])
def test_a_hostile_npz_is_refused_by_name_before_a_run_folder_exists(make, tmp_path, capsys):
    fake = tmp_path / "x.npz"
    make(fake)
    code = main(train_args(fake, tmp_path / "run", 1))
    err = capsys.readouterr().err
    assert code == 2 and str(fake) in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, value, bound", [
    ("--seed", "9999999999", "2147483647"),
    ("--seed", "-1", "2147483647"),
    ("--epochs", "99999999", "10000"),
    ("--batch-size", "100000", "8192"),
    ("--grid", "1000", "40"),
    ("--limit", "0", "1"),
    ("--lr", "1e999", "learning_rate"),
    ("--lr", "nan", "learning_rate"),
])
def test_out_of_range_options_print_the_bound_in_full(option, value, bound, tmp_path, capsys):
    code = main(["train", "--dataset", "fashion_mnist", option, value, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and bound in err, err
    assert "e+" not in err, f"a bound printed in exponent form: {err}"
    assert not (tmp_path / "run").exists()
