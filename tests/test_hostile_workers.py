"""Issue 21, several machines: a worker whose TF_CONFIG port is taken, and a peer that never starts. Real
sockets and real `vaestudio train --devices workers` processes on this machine."""

from __future__ import annotations

import json
import socket

from hostile_helpers import cli_env, meaningful_lines, run_cli, train_args


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def test_a_port_in_use_is_named(tiny_idx, tmp_path):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = cli_env(TF_CONFIG=tf_config([port, free_port()], 0))
        result = run_cli(train_args(tiny_idx, tmp_path / "run", 1, "--devices", "workers"), env=env, timeout=180)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = meaningful_lines(result.stderr)
    assert len(lines) == 1 and f"port {port}" in lines[0] and "already in use" in lines[0], lines
    assert "Traceback" not in result.stderr


def test_a_missing_peer_is_named_and_waited_for_a_limited_time(tiny_idx, tmp_path):
    peer = free_port()
    env = cli_env(TF_CONFIG=tf_config([free_port(), peer], 0), VAESTUDIO_WORKERS_WAIT="3")
    result = run_cli(train_args(tiny_idx, tmp_path / "run", 1, "--devices", "workers"), env=env, timeout=180)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = meaningful_lines(result.stderr)
    assert f"waiting for worker 1 (127.0.0.1:{peer})" in lines[0], lines
    assert f"worker 1 (127.0.0.1:{peer}) did not start within 3 s" in lines[-1], lines
    assert "VAESTUDIO_WORKERS_WAIT" in lines[-1] and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "config.json").exists()
