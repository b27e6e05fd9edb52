"""Posterior collapse: per-snapshot health and an alarm over a run's sequence of moments.

A snapshot's health is read from its test images' posteriors q(z|x) = N(mean, exp(logvar)):
- the KL(q(z|x) || N(0, I)) of each latent dimension (analytic, averaged over the images), N(0, I)'s
  whatever the model's prior (a VampPrior's KL has no per-dimension split; the ELBO's KL against the
  model's prior is probes.PriorKl's);
- the active units (Burda et al. 2016): dimension d is active when Cov_x(E_q[z_d]) > 0.01;
- the mutual information I(x; z) under the encoder, by the standard minibatch estimate (as in He et al.
  2019, "Lagging inference networks"): I = E_x[log q(z|x) - log q(z)] with one z drawn from each
  q(z|x) (a generator seeded by `seed`), q(z) the aggregate posterior of the batch, (1/N) sum_j q(z|x_j).
  Both log-densities are evaluated at the drawn z, so a posterior that ignores x gives exactly 0. The
  estimate is biased low for informative posteriors and can never exceed log N. Its cost grows as N^2,
  so at most MI_IMAGES images (a seeded choice) enter it.

A run's health is also in its metrics.csv (epoch rows carry the test KL of each dimension); there only
the KL is known, so a dimension counts as active when its KL exceeds ACTIVE_KL (a dimension whose posterior
mean varies with variance v over the data has KL >= v/2 when its variance stays 1).

The alarm: after the KL warm-up (and after step 0), a moment is collapsed when fewer than half of the latent dimensions are
active or the total KL is under 0.1 nats; the run is in collapse when its latest moment is, since the first
moment of that unbroken collapsed stretch. `record_alarm` writes it to the run folder's diagnosis.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from vaestudio.core import probes
from vaestudio.core.numpy_vae import NumpyVAE
from vaestudio.core.weights import VaeWeights

MIN_TOTAL_KL = 0.1  # nats: under this the decoder barely hears z
MIN_ACTIVE_FRACTION = 0.5  # fewer active dimensions than this fraction: collapse
ACTIVE_KL = 0.01  # nats: a dimension's KL above which metrics.csv rows count it active
DIAGNOSIS_FILE = "diagnosis.json"
MI_IMAGES = 2000  # images in the mutual-information estimate (a seeded choice when there are more)
_MI_ROWS = 256  # drawn points per block of the N x N density matrix


@dataclass(frozen=True, eq=False)
class Health:
    """How much a snapshot's latent code carries, at one moment of its run."""

    step: int
    epoch: int
    kl_per_dimension: np.ndarray = field(repr=False)  # float64 (d,), nats
    active_count: int
    active_variances: np.ndarray | None = field(default=None, repr=False)  # Cov_x E_q[z_d]; None from metrics.csv
    mutual_information: float | None = None  # nats; None from metrics.csv

    @property
    def latent_dim(self) -> int:
        return int(len(self.kl_per_dimension))

    @property
    def total_kl(self) -> float:
        return float(np.sum(self.kl_per_dimension))

    def collapse_reason(self) -> str | None:
        """Why this moment counts as collapsed (one clause), or None when it is healthy."""
        reasons = []
        if self.active_count < MIN_ACTIVE_FRACTION * self.latent_dim:
            reasons.append(f"{self.active_count} of {self.latent_dim} latent dimensions active (fewer than half)")
        if self.total_kl < MIN_TOTAL_KL:
            reasons.append(f"total KL {self.total_kl:.3g} nats (under {MIN_TOTAL_KL})")
        return " and ".join(reasons) or None

    @property
    def where(self) -> str:
        return f"epoch {self.epoch}, step {self.step}"


@dataclass(frozen=True)
class Alarm:
    """A run in posterior collapse: since when, why, what to try, and where it was last healthy."""

    started_step: int
    started_epoch: int
    reason: str  # one line
    advice: tuple[str, ...]
    last_healthy_step: int | None
    last_healthy_epoch: int | None

    def to_json(self) -> dict:
        return {"collapse": True, "reason": self.reason, "started": {"epoch": self.started_epoch,
                                                                     "step": self.started_step},
                "last_healthy": (None if self.last_healthy_step is None else
                                 {"epoch": self.last_healthy_epoch, "step": self.last_healthy_step}),
                "advice": list(self.advice)}

    def line(self) -> str:
        """The CLI's one-line alarm."""
        return f"ALARM {self.reason}. Try {', '.join(self.advice)}."


# -- one snapshot -------------------------------------------------------------------------------------------
def mutual_information(mean: np.ndarray, logvar: np.ndarray, seed: int = 0) -> float:
    """I(x; z) in nats by the minibatch estimate of the module docstring (one z per image)."""
    mean = np.asarray(mean, np.float64)
    logvar = np.asarray(logvar, np.float64)
    if mean.shape != logvar.shape or mean.ndim != 2 or len(mean) == 0:
        raise ValueError(f"means {mean.shape} and log-variances {logvar.shape} must both be (N >= 1, d)")
    if len(mean) > MI_IMAGES:
        chosen = np.sort(np.random.default_rng(seed).choice(len(mean), MI_IMAGES, replace=False))
        mean, logvar = mean[chosen], logvar[chosen]
    count, dim = mean.shape
    std = np.exp(0.5 * logvar)
    z = mean + std * np.random.default_rng(seed).standard_normal(mean.shape)
    inverse_var = np.exp(-logvar)  # (N, d)
    normaliser = -0.5 * (dim * np.log(2 * np.pi) + logvar.sum(axis=1))  # (N,)
    own = normaliser - 0.5 * (((z - mean) ** 2) * inverse_var).sum(axis=1)
    aggregate = np.empty(count)
    for start in range(0, count, _MI_ROWS):
        block = z[start:start + _MI_ROWS, None, :]  # (B, 1, d) against every posterior (1, N, d)
        log_q = normaliser[None] - 0.5 * (((block - mean[None]) ** 2) * inverse_var[None]).sum(axis=2)
        peak = log_q.max(axis=1)
        aggregate[start:start + _MI_ROWS] = peak + np.log(np.exp(log_q - peak[:, None]).sum(axis=1)) - np.log(count)
    return float(np.mean(own - aggregate))


def health_of_posterior(mean: np.ndarray, logvar: np.ndarray, step: int = 0, epoch: int = 0,
                        seed: int = 0) -> Health:
    """Health from posteriors already computed (e.g. the explorer's encodings)."""
    active = probes.active_units(mean)
    return Health(int(step), int(epoch), probes.kl_per_dimension(mean, logvar), active.count, active.variances,
                  mutual_information(mean, logvar, seed))


def health(model: NumpyVAE | VaeWeights, images: np.ndarray, step: int = 0, epoch: int = 0,
           seed: int = 0, labels=None) -> Health:
    """A snapshot's health on `images` (uint8 pictures or model inputs; `labels`: their classes, which a
    conditional model encodes with)."""
    vae = probes.as_vae(model)
    posterior = probes.encode(vae, images, labels if vae.architecture.classes else None)
    return health_of_posterior(posterior.mean, posterior.logvar, step, epoch, seed)


def health_from_epoch(epoch: int, step: int, kl_per_dimension: Sequence[float]) -> Health:
    """Health from an epoch end's per-dimension test KL alone (a live run, or metrics.csv)."""
    kl = np.asarray(kl_per_dimension, np.float64)
    return Health(int(step), int(epoch), kl, int((kl > ACTIVE_KL).sum()))


def health_from_metrics(rows: Iterable[dict]) -> list[Health]:
    """One Health per metrics.csv epoch row that has the KL of each dimension (MetricsLog.rows())."""
    return [health_from_epoch(row["epoch"], row["step"], row["kl_per_dimension"])
            for row in rows if row.get("kind") == "epoch" and row.get("kl_per_dimension")]


# -- a run ---------------------------------------------------------------------------------------------------
def detect_collapse(moments: Sequence[Health], warmup_steps: int = 0, beta: float | None = None) -> Alarm | None:
    """The alarm for a run whose moments (in training order) are `moments`, or None when it is healthy.

    Moments before the end of the KL warm-up (step < warmup_steps) and the untrained model of step 0
    (which always looks collapsed) never raise it; the alarm started at the first moment of the collapsed
    stretch that reaches the latest moment.
    """
    ordered = sorted(moments, key=lambda h: h.step)

    def watched(h: Health) -> bool:
        return h.step > 0 and h.step >= warmup_steps

    if not ordered or not watched(ordered[-1]) or ordered[-1].collapse_reason() is None:
        return None
    start = len(ordered) - 1
    while start > 0 and watched(ordered[start - 1]) and ordered[start - 1].collapse_reason():
        start -= 1
    first, latest = ordered[start], ordered[-1]
    healthy = [h for h in ordered[:start] if h.collapse_reason() is None]
    last = healthy[-1] if healthy else None
    reason = f"posterior collapse since {first.where}: {latest.collapse_reason()}"
    if latest.mutual_information is not None:
        reason += f", I(x;z) {latest.mutual_information:.3g} nats"
    reason += ": the decoder ignores most of z"
    beta_text = f" (now {beta:g})" if beta is not None else ""
    advice = [f"a lower beta{beta_text}", "a KL warm-up (kl_warmup_steps)", "free bits"]
    if last is not None:
        advice.append(f"branch from the last healthy moment ({last.where})")
    return Alarm(first.step, first.epoch, reason, tuple(advice),
                 None if last is None else last.step, None if last is None else last.epoch)


class LiveWatch:
    """Raises the alarm from a live run's epoch ends (the CLI's alarm line, the window's banner)."""

    def __init__(self, warmup_steps: int = 0, beta: float | None = None):
        self.warmup_steps, self.beta = warmup_steps, beta
        self.moments: list[Health] = []
        self.alarm: Alarm | None = None

    def epoch_ended(self, epoch: int, step: int, kl_per_dimension: Sequence[float]) -> Alarm | None:
        """Take an epoch end; return the alarm when it is newly raised (else None)."""
        if not len(kl_per_dimension):
            return None
        self.moments.append(health_from_epoch(epoch, step, kl_per_dimension))
        alarm = detect_collapse(self.moments, self.warmup_steps, self.beta)
        raised = alarm is not None and self.alarm is None
        self.alarm = alarm
        return alarm if raised else None


# -- the run folder -------------------------------------------------------------------------------------------
def health_of_run(folder: str | Path, images: np.ndarray, up_to_step: int | None = None,
                  labels=None) -> list[Health]:
    """The health of each snapshot with weights of a run folder (to `up_to_step`), on `images` (`labels`:
    their classes, for a conditional model)."""
    from vaestudio.core.store.run_folder import RunFolder

    store = RunFolder(folder).snapshots
    moments = []
    for record in store.records():
        if up_to_step is not None and record.step > up_to_step:
            break
        weights = store.load_weights(record)
        if weights is not None:
            moments.append(health(weights, images, record.step, record.epoch, labels=labels))
    return moments


def record_alarm(folder: str | Path, alarm: Alarm | None) -> Path:
    """Write the diagnosis (the alarm, or {"collapse": false}) to `folder`/diagnosis.json, atomically."""
    from vaestudio.core.store.atomic import write_text_atomic

    path = Path(folder) / DIAGNOSIS_FILE
    payload = alarm.to_json() if alarm is not None else {"collapse": False, "reason": "no posterior collapse"}
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
    return path


def read_alarm(folder: str | Path) -> dict | None:
    """The recorded diagnosis of a run folder, or None when there is none (or it is unreadable)."""
    try:
        value = json.loads((Path(folder) / DIAGNOSIS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("collapse"), bool) else None


def collapse_summary(alarm: Alarm | None) -> dict:
    """`inspect --json`'s `collapse` field: {"collapsed": bool, "reason": str}."""
    if alarm is None:
        return {"collapsed": False, "reason": "no posterior collapse"}
    return {"collapsed": True, "reason": alarm.reason}
