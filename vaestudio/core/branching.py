"""Branch a new run from any snapshot of a run: the parent's weights at that moment, the options changed.

    plan = plan_branch("runs/a@epoch:2", "runs/a-beta4", {"beta": 4.0})   # reads the parent, writes nothing
    run = Run.branching(plan)                                           # then run.events() as for any run
    lineage("runs/a-beta4")     # [(runs/a-beta4, 40), (runs/a, 0)]: each folder and the step it begins at
    family("runs")              # the runs of a folder as trees of FamilyNode (parent -> children)

Rules (what `vaestudio train --from` and the window's *Branch from here…* follow):
- The moment is a snapshot of the parent: `@epoch:N` the end of epoch N (0: before training), `@step:N` the
  snapshot taken at step N (no snapshot there is refused, naming the nearest ones), default the last one.
- The child starts from that snapshot's weights. The optimizer state is the parent's checkpoint's when the
  checkpoint was taken at that very step (same weights), else a fresh Adam; `BranchPlan.optimizer` says which.
- Every setting may change except the architecture (latent_dim, image_size, channels, likelihood). The
  learning rate and beta default to those in force in the parent at the moment.
- Steps continue the parent's count: the child's first step is the moment's step + 1, and its epochs
  continue the parent's numbering. `epochs` is the run's total counted from its root (as with --resume):
  branching after epoch 2 with epochs 5 trains 3 epochs; the default is the parent's total. Schedules
  (learning-rate warm-up and cosine decay, KL warm-up) run on that same step count, so a branch that changes
  nothing continues the parent's curves. A moment in the middle of an epoch continues that epoch (same
  batches per epoch), or starts the next epoch afresh when the data or the batch size give another count.
- The parent folder is only read: no lock is taken, nothing is written, while it trains or not.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vaestudio.core.architecture import Architecture
from vaestudio.core.config import PRESETS, TrainConfig
from vaestudio.core.errors import ConfigError, RunFolderError
from vaestudio.core.run_facts import (read_facts, recorded_parent, recorded_start_step, recorded_steps_per_epoch,
                                      step_offset)
from vaestudio.core.store.run_folder import RunFolder

# The settings that make the model's shape (latent_dim, image_size, channels, likelihood): a snapshot's weights
# fit only these.
ARCHITECTURE_FIELDS = tuple(f.name for f in dataclasses.fields(Architecture))
MAX_LINEAGE = 1000  # ancestors followed at most (a hand-made run.json could loop)
_MOMENT = re.compile(r"^(?P<folder>.+)@(?P<kind>epoch|step):(?P<number>\d{1,12})$")


@dataclass(frozen=True)
class Moment:
    """A snapshot of a parent run to branch from, with what the child needs to start there."""

    folder: Path  # absolute
    frame: int
    label: str
    step: int
    epoch: int  # epochs completed at the moment
    epoch_step: int  # steps into the next epoch
    steps_per_epoch: int  # the parent's
    weights: Any = dataclasses.field(repr=False)  # VaeWeights
    optimizer_variables: list | None = dataclasses.field(default=None, repr=False)  # from the checkpoint
    learning_rate: float = 0.0  # base learning rate and beta in force in the parent at the moment
    beta: float = 1.0


@dataclass(frozen=True)
class BranchPlan:
    """A checked branch: the parent's moment and the child's folder and config. Nothing is written yet."""

    moment: Moment
    out: Path
    config: TrainConfig

    @property
    def optimizer(self) -> str:
        """"restored" (the parent's checkpoint is at the moment) or "fresh"."""
        return "restored" if self.moment.optimizer_variables is not None else "fresh"

    def describe(self) -> str:
        """One line for the user: where the branch starts and how its optimizer starts."""
        m = self.moment
        how = ("optimizer state from the parent's checkpoint" if self.optimizer == "restored" else
               "a fresh optimizer (the parent's checkpoint is not at this moment)")
        return (f"Branching from {m.folder} at '{m.label}' (step {m.step}, epoch {m.epoch}): its snapshot's "
                f"weights, {how}; to {self.config.epochs} epochs")

    def start(self, steps_per_epoch: int):
        """The checkpoint the child starts from, given its batches per epoch (known once its data loaded)."""
        from vaestudio.core.store.checkpoint import Checkpoint
        from vaestudio.core.tf.steps import noise_state

        m = self.moment
        epoch_step = m.epoch_step if steps_per_epoch == m.steps_per_epoch else 0
        weights = list(m.weights.encoder) + list(m.weights.decoder)
        return Checkpoint(m.epoch, m.step, epoch_step, m.weights.architecture, weights,
                          list(m.optimizer_variables or []), noise_state(self.config.seed, m.step),
                          learning_rate=self.config.learning_rate, beta=self.config.beta)

    def parent_facts(self) -> dict[str, Any]:
        """What the child's run.json records of its parent."""
        m = self.moment
        return {"folder": str(m.folder), "step": m.step, "epoch": m.epoch, "frame": m.frame, "label": m.label,
                "optimizer": self.optimizer}

    @property
    def first_label(self) -> str:
        """The label of the child's first snapshot (the parent's weights at the moment)."""
        return f"branched at {self.moment.label}"


# -- planning ---------------------------------------------------------------------------------------------
def parse_source(text: str | Path) -> tuple[Path, str | None, int | None]:
    """'RUN', 'RUN@epoch:N' or 'RUN@step:N' as (folder, "epoch"/"step"/None, N/None)."""
    text = str(text)
    match = _MOMENT.match(text)
    if match and not Path(text).exists():
        return Path(match["folder"]), match["kind"], int(match["number"])
    if "@" in text and not Path(text).exists():
        raise ConfigError(f"--from {text!r}: expected RUN, RUN@epoch:N or RUN@step:N")
    return Path(text), None, None


def plan_branch(source: str | Path, out: str | Path, changes: dict[str, Any] | None = None, *,
                kind: str | None = None, number: int | None = None,
                option_names: dict[str, str] | None = None) -> BranchPlan:
    """Read and check the parent, the moment, the child's folder and settings; write nothing.

    `source` is a folder or 'RUN@epoch:N' / 'RUN@step:N' (or give `kind` "epoch", "step" or "frame" and
    `number`: the window names the snapshot's frame); `changes` maps
    TrainConfig fields to new values (None: unchanged), plus "preset". `option_names` names the fields in
    messages (the CLI's --latent-dim for latent_dim). Raises ConfigError or RunFolderError, one line."""
    folder, parsed_kind, parsed_number = parse_source(source)
    kind, number = kind or parsed_kind, number if number is not None else parsed_number
    moment = find_moment(folder, kind, number)
    out_path = _checked_out(Path(out), moment.folder)
    parent_config = RunFolder(moment.folder).read_config()
    config = _child_config(parent_config, moment, dict(changes or {}), option_names or {})
    RunFolder(out_path).check_can_create()
    return BranchPlan(moment, out_path, config)


def find_moment(folder: str | Path, kind: str | None = None, number: int | None = None) -> Moment:
    """The parent's snapshot to branch from (the last one by default), read without writing anything."""
    run_folder = RunFolder(Path(folder).absolute())
    state = run_folder.read_state()  # names a missing or damaged folder
    path = run_folder.path
    records = run_folder.snapshots.records()
    if not records:
        raise RunFolderError(f"{path}: has no snapshot yet to branch from")
    facts = read_facts(run_folder)
    rows = run_folder.metrics().rows()
    steps_per_epoch = recorded_steps_per_epoch(facts, rows, state)
    offset = step_offset(facts, steps_per_epoch)
    record = _pick(records, kind, number, path, steps_per_epoch, offset, recorded_start_step(facts))
    weights = run_folder.snapshots.load_weights(record)
    if weights is None:
        raise RunFolderError(f"{path}: was recorded by vaestudio 0.1.0, whose snapshots hold no weights to "
                             "branch from (only its grids)")
    epoch, epoch_step = divmod(record.step - offset, steps_per_epoch)
    config = state.config
    learning_rate, beta = config.learning_rate, config.beta
    for row in rows:  # the values changed while the parent trained, up to the moment
        if row["kind"] == "hyper" and row["step"] <= record.step:
            learning_rate, beta = row["learning_rate"] or learning_rate, row["beta"] if row["beta"] is not None \
                else beta
    optimizer = None
    checkpoint = state.checkpoint
    if checkpoint is not None and checkpoint.step == record.step and _same(checkpoint.model_weights, weights):
        optimizer = list(checkpoint.optimizer_variables)
        epoch, epoch_step = checkpoint.epoch, checkpoint.epoch_step
        learning_rate = checkpoint.learning_rate or learning_rate
        beta = checkpoint.beta if checkpoint.beta is not None else beta
    return Moment(path, record.frame, record.label, record.step, epoch, epoch_step, steps_per_epoch, weights,
                  optimizer, float(learning_rate), float(beta))


def _pick(records, kind: str | None, number: int | None, path: Path, steps_per_epoch: int, offset: int,
          start_step: int):
    if kind is None:
        return records[-1]
    if kind == "frame":  # the window names the snapshot it shows
        at = [r for r in records if r.frame == number]
        if not at:
            raise ConfigError(f"{path}: has no snapshot frame {number}")
        return at[-1]
    if kind == "step":
        at = [r for r in records if r.step == number]
        if at:
            return at[-1]
        before = [r for r in records if r.step < number]
        after = [r for r in records if r.step > number]
        near = " and ".join(f"@step:{r.step} ('{r.label}')" for r in (before[-1:] + after[:1]))
        raise ConfigError(f"{path}@step:{number}: no snapshot was taken at step {number}; the nearest: {near}")
    ends = [r for r in records if r.epoch == number and (r.step - offset) == number * steps_per_epoch]
    if ends:
        return ends[-1]
    done = sorted({(r.step - offset) // steps_per_epoch for r in records if (r.step - offset) % steps_per_epoch == 0
                   and r.epoch == (r.step - offset) // steps_per_epoch})
    where = f"epochs with one: {', '.join(map(str, done))}" if done else "none at an epoch's end"
    if start_step and number * steps_per_epoch + offset < start_step:
        where += f"; this run is a branch that begins at step {start_step}: earlier moments are its parent's"
    raise ConfigError(f"{path}@epoch:{number}: the run has no snapshot at the end of epoch {number} ({where})")


def _same(model_weights: list, weights) -> bool:
    arrays = list(weights.encoder) + list(weights.decoder)
    return len(arrays) == len(model_weights) and all(
        np.shape(a) == np.shape(b) and np.array_equal(np.asarray(a, np.float32), b)
        for a, b in zip(model_weights, arrays))


def _checked_out(out: Path, parent: Path) -> Path:
    """The child's folder, absolute; never the parent, inside it, or holding it."""
    out = out.absolute()
    resolved, parent_resolved = out.resolve(), parent.resolve()
    if resolved == parent_resolved or parent_resolved in resolved.parents:
        raise RunFolderError(f"{out}: is the parent run's folder or inside it; a branch goes into a new folder "
                             f"outside {parent}")
    return out


def _child_config(parent: TrainConfig, moment: Moment, changes: dict[str, Any],
                  names: dict[str, str]) -> TrainConfig:
    """The parent's settings with `changes`; the architecture is refused by name, epochs counted from the root."""
    given = {k: v for k, v in changes.items() if v is not None}
    for field in ARCHITECTURE_FIELDS:
        if field in given and given[field] != getattr(parent, field):
            raise ConfigError(f"{names.get(field, field)} cannot change in a branch (the parent has "
                              f"{getattr(parent, field)!r}, asked for {given[field]!r}): the branch starts from "
                              "the parent's weights, which fit only its architecture")
    values = parent.to_dict()
    values.update(learning_rate=moment.learning_rate, beta=moment.beta)
    preset = given.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS and preset != "custom":
            raise ConfigError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)} or custom")
        values.update({k: v for k, v in PRESETS.get(preset, {}).items() if k not in ARCHITECTURE_FIELDS})
        values["preset"] = preset
    unknown = sorted(set(given) - set(values))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
    values.update(given)
    config = TrainConfig(**values).validate()
    if config.epochs <= moment.epoch:
        told = names.get("epochs", "epochs")
        asked = f"asked for {config.epochs}" if "epochs" in given else f"the parent's total is {config.epochs}"
        raise ConfigError(f"{told} counts the run's epochs from its root and the branch starts after epoch "
                          f"{moment.epoch}: ask for more than {moment.epoch} ({asked})")
    return config


def restart_plan(folder: RunFolder, config: TrainConfig) -> BranchPlan | None:
    """For a branch that stopped before its first checkpoint: its start again, from the parent's snapshot
    run.json records (a fresh optimizer if the parent's checkpoint has moved on since); None for other runs."""
    found = parent_of(folder.path)
    recorded = recorded_parent(read_facts(folder))
    if found is None or recorded is None:
        return None
    frame = recorded.get("frame")
    kind, number = ("frame", frame) if isinstance(frame, int) and not isinstance(frame, bool) else ("step",
                                                                                                   found[1])
    moment = find_moment(found[0], kind, number)
    if moment.step != found[1]:
        raise RunFolderError(f"{folder.path}: its parent {found[0]} no longer holds the snapshot it was branched "
                             f"from (step {found[1]}); branch again into a new folder")
    return BranchPlan(moment, folder.path.absolute(), config)


# -- families -----------------------------------------------------------------------------------------------
def parent_of(folder: str | Path) -> tuple[Path, int] | None:
    """(parent folder, step branched at) as the folder's run.json records it; None for a root. A parent
    recorded where it no longer is, but found beside the child under the same name, is found there."""
    folder = Path(folder)
    parent = recorded_parent(read_facts(RunFolder(folder)))
    if parent is None:
        return None
    recorded = Path(parent["folder"])
    if not (recorded / "config.json").is_file():
        beside = folder.absolute().parent / recorded.name
        if (beside / "config.json").is_file():
            recorded = beside
    return recorded, parent["step"]


def lineage(folder: str | Path) -> list[tuple[Path, int]]:
    """From `folder` up to its root: (folder, the step its own records begin at), the root's being 0.

    Entry i+1 is the parent of entry i, whose records hold the lineage's steps up to entry i's step. A
    parent that is missing (moved, deleted) ends the list at its child, whose step stays the branch step."""
    chain: list[tuple[Path, int]] = []
    seen: set[Path] = set()
    current: Path | None = Path(folder).absolute()
    while current is not None and len(chain) < MAX_LINEAGE:
        key = current.resolve()
        if key in seen or not (current / "config.json").is_file():
            break
        seen.add(key)
        found = parent_of(current)
        chain.append((current, found[1] if found else 0))
        current = found[0] if found else None
    return chain


@dataclass
class FamilyNode:
    """A run of a runs folder in its family tree."""

    folder: Path
    step: int  # the step its own records begin at (0: a root run)
    parent: Path | None  # as recorded (may lie outside the runs folder, or be gone)
    children: list["FamilyNode"] = dataclasses.field(default_factory=list)


def children(folder: str | Path, runs_root: str | Path) -> list[Path]:
    """The runs directly inside `runs_root` that were branched from `folder`, by their start step."""
    target = Path(folder).resolve()
    found = []
    for run in _runs_in(runs_root):
        parent = parent_of(run)
        if parent is not None and parent[0].resolve() == target:
            found.append((parent[1], run))
    return [run for _, run in sorted(found)]


def family(runs_root: str | Path) -> list[FamilyNode]:
    """The runs directly inside `runs_root` as trees: roots are runs whose parent is not among them."""
    nodes: dict[Path, FamilyNode] = {}
    for run in _runs_in(runs_root):
        parent = parent_of(run)
        nodes[run.resolve()] = FamilyNode(run, parent[1] if parent else 0, parent[0] if parent else None)
    roots = []
    for node in sorted(nodes.values(), key=lambda n: (n.step, n.folder.name)):
        above = nodes.get(node.parent.resolve()) if node.parent is not None else None
        if above is not None and above is not node and not _descends(above, node, nodes):
            above.children.append(node)
        else:
            roots.append(node)
    return roots


def _descends(candidate: FamilyNode, node: FamilyNode, nodes: dict[Path, FamilyNode]) -> bool:
    """True when `candidate` is `node` or below it (a hand-made loop of parents)."""
    seen = set()
    current: FamilyNode | None = candidate
    while current is not None and current.parent is not None and id(current) not in seen:
        if current is node:
            return True
        seen.add(id(current))
        current = nodes.get(current.parent.resolve())
    return current is node


def _runs_in(runs_root: str | Path) -> list[Path]:
    root = Path(runs_root).absolute()
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.is_dir() and (p / "config.json").is_file()]
