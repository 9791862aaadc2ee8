"""OFA's progressive shrinking, with in-place knowledge distillation.

Phases, each training more of the space than the one before:

1. ``largest``: only the largest network (every resolution of the space);
2. ``kernel``: random kernel sizes (largest depth and expand ratio);
3. ``depth``: random kernel sizes and depths;
4. ``expand``: everything random — after sorting every block's middle channels by importance,
   so that small expand ratios keep the most important channels.

From phase 2 on, every step follows the "sandwich rule": it trains the largest network on the
labels and distils its (detached) predictions into the smallest network of the phase and one
random sub-network ("in-place" distillation: the teacher is the supernet's own largest network
in the same step). Training the smallest network every step keeps the bottom of the space
usable, which the search's fronts depend on. A checkpoint (safetensors + JSON state) is
written after every phase; an interrupted run resumes after the last finished phase. Runs are
deterministic for a seed (sampling, shuffling and initialisation all derive from it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from .._io import write_json_atomic
from ..errors import Ofa2Error
from ..space import ArchSpec, SearchSpace, resolve_space
from ..supernet import ElasticMobileNetV3, load_supernet, save_supernet
from ..supernet.elastic import SYNC_BN
from .data import check_fits, get_dataset, resize_images

PHASES = ("largest", "kernel", "depth", "expand")
Phase = Literal["largest", "kernel", "depth", "expand"]


@dataclass
class TrainConfig:
    dataset: str = "digits"
    space: str = "ofa2_digits"
    seed: int = 0
    batch_size: int = 64
    epochs: dict[str, int] = field(default_factory=lambda: {"largest": 30, "kernel": 12, "depth": 20, "expand": 40})
    lr: dict[str, float] = field(default_factory=lambda: {"largest": 3e-3, "kernel": 1.5e-3, "depth": 1.5e-3,
                                                          "expand": 1.5e-3})
    weight_decay: float = 1e-4
    kd_weight: float = 1.0
    label_smoothing: float = 0.1
    shift: int = 1  # random translation (pixels at the stored resolution) for augmentation
    threads: int = 2


ProgressFn = Callable[[str, int, int, float], None]  # phase, step, total, loss


class _Settings(BaseModel):
    """Validation of a :class:`TrainConfig`'s plain fields (the space is checked by resolve_space)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    dataset: str
    seed: int = Field(ge=0)
    batch_size: int = Field(ge=1)
    epochs: dict[Phase, Annotated[int, Field(ge=1)]]
    lr: dict[Phase, Annotated[float, Field(gt=0)]]
    weight_decay: float = Field(ge=0)
    kd_weight: float = Field(ge=0)
    label_smoothing: float = Field(ge=0, lt=1)
    shift: int = Field(ge=0)
    threads: int = Field(ge=1)


def check_config(cfg: TrainConfig) -> None:
    """One clear :class:`Ofa2Error` for bad settings (missing phase, negative rate ...)."""
    fields = {k: getattr(cfg, k) for k in _Settings.model_fields}
    fields["dataset"] = str(fields["dataset"])  # a path is fine
    try:
        _Settings.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise Ofa2Error(f"training setting {where}: {err['msg']} (got {err.get('input')!r})") from None
    for key in ("epochs", "lr"):
        missing = [p for p in PHASES if p not in getattr(cfg, key)]
        if missing:
            raise Ofa2Error(f"training setting {key} needs every phase; missing: {', '.join(missing)}")


def _sample(space: SearchSpace, phase: str, rng: np.random.Generator, r: int) -> ArchSpec:
    """A sub-network for ``phase``: elastic only in the dimensions trained so far."""
    g = space.sample_genes(1, rng)[0]
    nb, ns = space.n_blocks, space.n_stages
    upper = space.gene_upper_bounds
    if phase in ("kernel", "depth"):
        g[nb:2 * nb] = upper[nb:2 * nb]  # largest expand ratio
    if phase == "kernel":
        g[2 * nb:2 * nb + ns] = upper[2 * nb:2 * nb + ns]  # largest depth
    g[-1] = space.resolutions.index(r)
    return space.genes_to_archs(g[None])[0]


def _smallest(space: SearchSpace, phase: str, r: int) -> ArchSpec:
    """The smallest network of ``phase`` (dimensions not yet elastic stay largest)."""
    nb, ns = space.n_blocks, space.n_stages
    g = np.zeros(space.n_genes, dtype=np.int64)
    upper = space.gene_upper_bounds
    if phase in ("kernel", "depth"):
        g[nb:2 * nb] = upper[nb:2 * nb]
    if phase == "kernel":
        g[2 * nb:2 * nb + ns] = upper[2 * nb:2 * nb + ns]
    g[-1] = space.resolutions.index(r)
    return space.genes_to_archs(g[None])[0]


def _shift(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    if k <= 0:
        return x
    n = x.shape[0]
    padded = F.pad(x, (k, k, k, k), mode="replicate")
    dx, dy = torch.randint(0, 2 * k + 1, (2, n), generator=gen)
    rows = []
    for i in range(n):  # tiny images: a loop over the batch is cheap
        rows.append(padded[i, :, dy[i]:dy[i] + x.shape[2], dx[i]:dx[i] + x.shape[3]])
    return torch.stack(rows)


def _config_json(cfg: TrainConfig) -> dict:
    """The run's settings as plain JSON values (what a resumed run must match)."""
    d = asdict(cfg)
    if isinstance(cfg.space, SearchSpace):
        d["space"] = cfg.space.to_dict()
    return json.loads(json.dumps(d))


class _SandwichStep(nn.Module):
    """One training step's loss as a module, so DistributedDataParallel sees one forward:
    the first arch (the largest) learns from the labels, the others also from its predictions."""

    def __init__(self, net: ElasticMobileNetV3, cfg: TrainConfig):
        super().__init__()
        self.net, self.cfg = net, cfg

    def forward(self, x: torch.Tensor, y: torch.Tensor, archs: list[ArchSpec]) -> torch.Tensor:
        self.net.set_active(archs[0])
        teacher = self.net(x)
        loss = F.cross_entropy(teacher, y, label_smoothing=self.cfg.label_smoothing)
        soft = F.softmax(teacher.detach(), 1)
        for arch in archs[1:]:
            self.net.set_active(arch)
            student = self.net(x)
            kd = F.kl_div(F.log_softmax(student, 1), soft, reduction="batchmean")
            loss = loss + F.cross_entropy(student, y, label_smoothing=self.cfg.label_smoothing) + self.cfg.kd_weight * kd
        return loss


def train_supernet(cfg: TrainConfig, out_dir: str | Path, progress: ProgressFn | None = None,
                   stop_after: str | None = None) -> ElasticMobileNetV3:
    """Train a supernet with progressive shrinking; checkpoints under ``out_dir/checkpoints``.

    ``stop_after`` ends the run after that phase (used to test resuming). Under ``torchrun``
    (an initialised process group, see :mod:`ofa2_zoo.training.distributed`) every process
    trains on its equal share of each global batch with DistributedDataParallel and
    synchronised BatchNorm statistics, so the result matches one process with the same global
    batch; only rank 0 writes checkpoints. One exception: dropout. Each process draws the masks
    for its own share, so with ``space.dropout > 0`` N processes and one process train on
    differently dropped features and their weights agree in distribution, not value by value.

    The classifier gets one output per class of the dataset; the dataset's channel count must
    match the space's ``in_chans`` (a clear :class:`~.data.DatasetError` otherwise).
    """
    check_config(cfg)
    torch.set_num_threads(cfg.threads)
    dist_on = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if dist_on else (0, 1)
    if dist_on and cfg.batch_size % world:
        raise Ofa2Error(f"batch size {cfg.batch_size} must be divisible by the {world} processes")
    space = resolve_space(cfg.space)
    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    state_path = ckpt_dir / "state.json"
    done: list[str] = []
    report: dict = {"config": _config_json(cfg), "phases": {}}
    base_r = 8 if cfg.dataset == "digits" else max(space.resolutions)
    train = get_dataset(cfg.dataset, "train", base_r)
    check_fits(space, train)
    x_all, y_all = train.tensors
    torch.manual_seed(cfg.seed)
    net = load_supernet(space, num_classes=len(train.classes))
    if state_path.is_file():
        try:
            state = json.loads(state_path.read_text())
            same = state.get("config") == _config_json(cfg)
            done, report = list(state["done"]), state["report"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Ofa2Error(f"{state_path} is not a readable training state ({exc}); delete {ckpt_dir} "
                            "to start again") from None
        if not same:
            raise Ofa2Error(f"{state_path} belongs to a run with other settings; use another --out or delete it")
        if done:
            net = load_supernet(space, weights=ckpt_dir / f"{done[-1]}.safetensors")
    SYNC_BN["group"] = torch.distributed.group.WORLD if dist_on else None
    try:
        _run_phases(cfg, space, net, x_all, y_all, done, report, ckpt_dir, state_path, progress, stop_after,
                    rank, world)
    finally:
        SYNC_BN["group"] = None  # later single-process use of these modules must not sync
    net.eval()
    return net


def write_outputs(net: ElasticMobileNetV3, cfg: TrainConfig, out_dir: str | Path) -> Path:
    """The finished run's files: ``<space>.safetensors`` and ``training_report.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"{net.space.name}.safetensors"
    save_supernet(net, final, {"dataset": str(cfg.dataset), "seed": str(cfg.seed)})
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    write_json_atomic(out / "training_report.json", state["report"])
    return final


def _run_phases(cfg: TrainConfig, space: SearchSpace, net: ElasticMobileNetV3, x_all: torch.Tensor,
                y_all: torch.Tensor, done: list[str], report: dict, ckpt_dir: Path, state_path: Path,
                progress: ProgressFn | None, stop_after: str | None, rank: int, world: int) -> None:
    dist_on = torch.distributed.is_available() and torch.distributed.is_initialized()
    n = len(y_all)
    for p_idx, phase in enumerate(PHASES):
        if phase in done:
            continue
        t0 = time.perf_counter()
        rng = np.random.default_rng(cfg.seed * 100 + p_idx)
        gen = torch.Generator().manual_seed(cfg.seed * 100 + p_idx)
        torch.manual_seed(cfg.seed * 100 + p_idx)
        if phase == "expand":
            net.sort_channels()
        epochs = cfg.epochs[phase]
        steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
        total = epochs * steps_per_epoch
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr[phase], weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr[phase], total_steps=total, pct_start=0.15)
        net.train()
        step_module = _SandwichStep(net, cfg)
        if dist_on:
            from torch.nn.parallel import DistributedDataParallel

            step_module = DistributedDataParallel(step_module, find_unused_parameters=True)
        step, loss_ema = 0, None
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                r = int(rng.choice(space.resolutions))
                x = resize_images(_shift(x_all[idx], cfg.shift, gen), r)
                y = y_all[idx]
                global_n = len(y)
                if dist_on:  # this process's share of the global batch
                    x, y = x[rank::world], y[rank::world]
                archs = [space.largest(r)]
                if phase != "largest":
                    archs += [_smallest(space, phase, r), _sample(space, phase, rng, r)]
                opt.zero_grad(set_to_none=True)
                loss = step_module(x, y, archs)
                # DDP averages the processes' gradients; weighting each mean loss by its share
                # makes that the global batch's mean even when the batch does not split evenly.
                scaled = loss * (len(y) * world / global_n) if dist_on and len(y) * world != global_n else loss
                scaled.backward()
                opt.step()
                sched.step()
                step += 1
                loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
                if progress and rank == 0:
                    progress(phase, step, total, loss_ema)
        done.append(phase)
        report["phases"][phase] = {"epochs": epochs, "steps": total, "seconds": round(time.perf_counter() - t0, 2),
                                   "final_loss": round(float(loss_ema), 4)}
        if rank == 0:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            save_supernet(net, ckpt_dir / f"{phase}.safetensors", {"phase": phase})
            write_json_atomic(state_path, {"config": _config_json(cfg), "done": done, "report": report})
        if dist_on:
            torch.distributed.barrier()
        if stop_after == phase:
            break
