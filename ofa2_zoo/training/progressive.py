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
written after every phase, and the state of the running phase (weights, optimiser and
learning-rate schedule) after every epoch: an interrupted run resumes at the last finished
epoch. Runs are deterministic for a seed: sampling, shuffling and dropout of each epoch derive
from (seed, phase, epoch), so a resumed run trains exactly as an uninterrupted one.

After each phase the largest and the smallest network of the space are scored on the
validation split (BN re-calibrated on training images), and the report records it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field, ValidationError
from torch import nn

from .._io import write_json_atomic
from .._schema import Schema, first_problem
from ..errors import Ofa2Error, shorten
from ..progress import ProgressFn
from ..space import ArchSpec, SearchSpace, resolve_space
from ..supernet import ElasticMobileNetV3, extract_subnet, load_supernet, save_supernet
from ..supernet.elastic import SYNC_BN
from .data import check_fits, get_dataset

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
    # random translation for augmentation: pixels at the space's largest resolution, scaled to the
    # resolution of each batch (rounded half to even: 1 px at 28 stays 1 px at 16, 0 px at 4 of 8)
    shift: int = 1
    flip: bool = False  # random horizontal flips (clothing, not digits)
    threads: int = 2

    @classmethod
    def for_dataset(cls, dataset: str, **changes) -> "TrainConfig":
        """The documented settings for a dataset (``PRESETS``), else the defaults, with ``changes``."""
        return cls(**{**PRESETS.get(str(dataset), {}), "dataset": dataset, **changes})


#: Settings of the shipped supernets: ``ofa2 train-supernet <dataset>`` starts from these.
PRESETS: dict[str, dict] = {
    "digits": {"space": "ofa2_digits"},
    # about 100 min on 2 quiet cores (benchmarks/RESULTS.md): 78 epochs of 54,000 images
    "fashion-mnist": {"space": "ofa2_fmnist", "batch_size": 256, "flip": True,
                      "epochs": {"largest": 60, "kernel": 3, "depth": 3, "expand": 12},
                      "lr": {"largest": 3e-3, "kernel": 1.5e-3, "depth": 1.5e-3, "expand": 1.5e-3},
                      "label_smoothing": 0.1, "weight_decay": 5e-4},
}




class _Settings(Schema):
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
    flip: bool
    threads: int = Field(ge=1)


def check_config(cfg: TrainConfig) -> None:
    """One clear :class:`Ofa2Error` for bad settings (missing phase, negative rate ...)."""
    fields = {k: getattr(cfg, k) for k in _Settings.model_fields}
    fields["dataset"] = str(fields["dataset"])  # a path is fine
    try:
        _Settings.model_validate(fields)
    except ValidationError as exc:
        problem = first_problem(exc)
        raise Ofa2Error(f"training setting {problem.where}: {problem.msg} (got {shorten(problem.input)})") from None
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


def _augment(x: torch.Tensor, cfg: TrainConfig, max_r: int, gen: torch.Generator) -> torch.Tensor:
    """Random translation by up to ``cfg.shift`` pixels (scaled from ``max_r`` to the batch's
    resolution), and horizontal flips when ``cfg.flip``."""
    x = _shift(x, round(cfg.shift * x.shape[-1] / max_r), gen)
    if cfg.flip:
        mask = torch.rand(x.shape[0], generator=gen) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    return x


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
                   stop_after: str | None = None, stop_after_epoch: int | None = None) -> ElasticMobileNetV3:
    """Train a supernet with progressive shrinking; checkpoints under ``out_dir/checkpoints``.

    ``stop_after`` ends the run after that phase, ``stop_after_epoch`` after that many epochs of
    the phase being trained (both used to test resuming). Under ``torchrun``
    (an initialised process group, see :mod:`ofa2_zoo.training.distributed`) every process
    trains on its equal share of each global batch with DistributedDataParallel and
    synchronised BatchNorm statistics, so the result matches one process with the same global
    batch; only rank 0 writes checkpoints. One exception: dropout. Each process draws the masks
    for its own share, so with ``space.dropout > 0`` N processes and one process train on
    differently dropped features and their weights agree in distribution, not value by value.

    The classifier gets one output per class of the dataset; the dataset's channel count must
    match the space's ``in_chans`` (a clear :class:`~.data.DatasetError` otherwise).

    Args:
        cfg: The training configuration (dataset, space, phases, seed, ...).
        out_dir: The output folder (checkpoints, weights and report).
        progress: Called with (phase, step, steps, loss); ``None`` for none.
        stop_after: A phase after which the run ends, or ``None``.
        stop_after_epoch: Epochs of the current phase after which the run ends, or ``None``.
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
    state: dict = {"config": _config_json(cfg), "done": [], "report": {"config": _config_json(cfg), "phases": {}},
                   "running": None}
    # The training images at every resolution of the space, resized as the eval transform does.
    train = {r: get_dataset(cfg.dataset, "train", r) for r in space.resolutions}
    for ds in train.values():
        check_fits(space, ds)
    n_classes = len(next(iter(train.values())).classes)
    torch.manual_seed(cfg.seed)
    net = load_supernet(space, num_classes=n_classes)
    if state_path.is_file():
        try:
            saved = json.loads(state_path.read_text())
            same = saved.get("config") == _config_json(cfg)
            state = {"config": saved["config"], "done": list(saved["done"]), "report": dict(saved["report"]),
                     "running": saved.get("running")}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Ofa2Error(f"{state_path} is not a readable training state ({exc}); delete {ckpt_dir} "
                            "to start again") from None
        if not same:
            raise Ofa2Error(f"{state_path} belongs to a run with other settings; use another --out or delete it")
        if state["running"]:
            net = load_supernet(space, weights=ckpt_dir / "running.safetensors", num_classes=n_classes)
        elif state["done"]:
            net = load_supernet(space, weights=ckpt_dir / f"{state['done'][-1]}.safetensors", num_classes=n_classes)
    SYNC_BN["group"] = torch.distributed.group.WORLD if dist_on else None
    try:
        _run_phases(cfg, space, net, train, state, ckpt_dir, state_path, progress, stop_after, stop_after_epoch,
                    rank, world)
    finally:
        SYNC_BN["group"] = None  # later single-process use of these modules must not sync
        net.to(memory_format=torch.contiguous_format)  # trained channels-last (_run_phases)
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


@torch.no_grad()
def evaluate_extremes(net: ElasticMobileNetV3, dataset: str, train: dict[int, torch.utils.data.Dataset],
                      calib_images: int = 2000, batch_size: int = 500) -> dict[str, float]:
    """Validation top-1 (%) of the space's largest (top resolution) and smallest (lowest) networks,
    each extracted and BN re-calibrated on the first ``calib_images`` training images.

    Args:
        net: The supernet.
        dataset: The dataset evaluated on (its val split).
        train: Training images per resolution (for BN re-calibration).
        calib_images: Training images BN is re-calibrated on.
        batch_size: Images per batch.
    """
    from ..supernet import recalibrate_bn

    space = net.space
    was_training = net.training
    net.eval()
    out = {}
    for key, arch in (("largest_top1", space.largest()), ("smallest_top1", space.smallest())):
        sub = extract_subnet(net, arch).eval()
        x_cal = train[arch.r].tensors[0][:calib_images]
        recalibrate_bn(sub, x_cal.split(batch_size), num_images=calib_images)
        x, y = get_dataset(dataset, "val", arch.r).tensors
        correct = sum(int((sub(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
        out[key] = round(100.0 * correct / len(y), 2)
    net.train(was_training)
    return out


def _epoch_seed(cfg: TrainConfig, p_idx: int, epoch: int) -> int:
    return cfg.seed * 1_000_000 + p_idx * 10_000 + epoch


def _save_running(net: ElasticMobileNetV3, opt, sched, state: dict, ckpt_dir: Path, state_path: Path) -> None:
    """The running phase after an epoch: weights, optimiser + schedule (``weights_only`` loadable), state."""
    from .._io import atomic_path

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    save_supernet(net, ckpt_dir / "running.safetensors", {"phase": state["running"]["phase"]})
    with atomic_path(ckpt_dir / "optimizer.pt") as tmp:
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp)
    write_json_atomic(state_path, state)


def _run_phases(cfg: TrainConfig, space: SearchSpace, net: ElasticMobileNetV3, train: dict, state: dict,
                ckpt_dir: Path, state_path: Path, progress: ProgressFn | None, stop_after: str | None,
                stop_after_epoch: int | None, rank: int, world: int) -> None:
    dist_on = torch.distributed.is_available() and torch.distributed.is_initialized()
    done, report = state["done"], state["report"]
    # NHWC: oneDNN's convolutions (depthwise above all) train about 1.6x faster on CPU this way;
    # the values are the same, and the weights are saved contiguous (save_supernet). Not under
    # DDP: its gradient buckets keep the parameters' first layout, and with NHWC parameters the
    # ones a step leaves unused (skipped blocks' SE layers) were updated anyway in the 2-process test.
    layout = torch.contiguous_format if dist_on else torch.channels_last
    net.to(memory_format=layout)
    y_all = next(iter(train.values())).tensors[1]
    n = len(y_all)
    for p_idx, phase in enumerate(PHASES):
        if phase in done:
            continue
        running = state["running"] if state["running"] and state["running"]["phase"] == phase else None
        if running is None and phase == "expand":
            net.sort_channels()  # once, before the phase's first epoch (the running weights are sorted already)
        epochs = cfg.epochs[phase]
        steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
        total = epochs * steps_per_epoch
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr[phase], weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr[phase], total_steps=total, pct_start=0.15)
        first_epoch, seconds, loss_ema = 0, 0.0, None
        if running is not None:
            saved = torch.load(ckpt_dir / "optimizer.pt", weights_only=True)
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
            first_epoch, seconds, loss_ema = running["epoch"], running["seconds"], running["loss"]
        net.train()
        step_module = _SandwichStep(net, cfg)
        if dist_on:
            from torch.nn.parallel import DistributedDataParallel

            step_module = DistributedDataParallel(step_module, find_unused_parameters=True)
        step = first_epoch * steps_per_epoch
        for epoch in range(first_epoch, epochs):
            t0 = time.perf_counter()
            seed = _epoch_seed(cfg, p_idx, epoch)
            rng = np.random.default_rng(seed)
            gen = torch.Generator().manual_seed(seed)
            torch.manual_seed(seed)
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                r = int(rng.choice(space.resolutions))
                x = _augment(train[r].tensors[0][idx], cfg, max(space.resolutions), gen)
                x = x.contiguous(memory_format=layout)
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
                    progress(phase, step, total, loss=loss_ema)
            seconds += time.perf_counter() - t0
            state["running"] = {"phase": phase, "epoch": epoch + 1, "seconds": round(seconds, 2),
                                "loss": float(loss_ema)}
            if rank == 0 and epoch + 1 < epochs:
                _save_running(net, opt, sched, state, ckpt_dir, state_path)
            if dist_on:
                torch.distributed.barrier()
            if stop_after_epoch is not None and epoch + 1 - first_epoch >= stop_after_epoch and epoch + 1 < epochs:
                return
        done.append(phase)
        state["running"] = None
        metrics = evaluate_extremes(net, cfg.dataset, train) if rank == 0 else {}
        report["phases"][phase] = {"epochs": epochs, "steps": total, "seconds": round(seconds, 2),
                                   "final_loss": round(float(loss_ema), 4), **metrics}
        if rank == 0:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            save_supernet(net, ckpt_dir / f"{phase}.safetensors", {"phase": phase})
            write_json_atomic(state_path, {"config": _config_json(cfg), "done": done, "report": report,
                                           "running": None})
            for stale in ("running.safetensors", "optimizer.pt"):
                (ckpt_dir / stale).unlink(missing_ok=True)
        if dist_on:
            torch.distributed.barrier()
        if stop_after == phase:
            break
