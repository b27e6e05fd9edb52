"""The KL weight's schedules as plain functions of the global step (TensorFlow mirrors them in tf/steps.py).

linear (the tutorial's, with `kl_warmup_steps`): beta_t = beta * min(1, (step + 1) / warmup), constant when
warmup is 0. cyclical (Fu et al. 2019): the run's steps are split into `cycles` equal cycles; within each,
beta_t rises linearly from 0 to beta over the first half and then stays at beta. The ramp counts steps as
the warm-up does (the update that makes step s + 1 uses (s + 1) / ramp), so a first cycle is a warm-up.
"""

from __future__ import annotations

# Share of each cycle over which beta rises (Fu et al.'s R = 0.5).
RAMP_SHARE = 0.5


def linear_factor(step: float, warmup_steps: int) -> float:
    """Multiplier of beta for the update that makes step `step + 1` under a linear warm-up."""
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0


def cyclical_factor(step: float, total_steps: float, cycles: int) -> float:
    """Multiplier of beta for the update that makes step `step + 1` under the cyclical schedule."""
    cycle_length = max(float(total_steps), 1.0) / cycles
    position = step % cycle_length
    return min(1.0, (position + 1.0) / max(RAMP_SHARE * cycle_length, 1.0))
