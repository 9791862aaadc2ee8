"""``package_front``: turn a searched front into timm model folders, cards and exports.

For each selected member: extract the sub-network from the supernet, re-estimate its
BatchNorm statistics on real training images, write ``model.safetensors`` and
``config.json`` (timm's Hub layout), load the folder back through timm's ``local-dir:``
loader, measure its top-1 accuracy on the validation split, export ``model.onnx`` and
check it against PyTorch on real images, optionally build a TensorRT engine, then plot and
write the model card. Plus the front-level folder (``front.json``, ``front.png``, the explorer
page ``index.html``, index card) and ``package.json`` (docs/package.md).

Everything is written to a temporary folder beside ``out_dir`` and moved into place only when
every member passed; any failure removes it, so there is never a partial package. Outputs
are deterministic for fixed inputs on one machine: safetensors with fixed metadata, ONNX
without timestamps, JSON with sorted keys, PNGs without dates.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import safetensors.torch
import timm
import torch
from torch.utils.data import Subset

from .._io import dumps_stable, sha256_file
from .._version import __version__
from .._text import check_license
from .._threads import limited_threads
from ..errors import Ofa2Error
from ..front import Front, reference_points
from ..profiles import HardwareProfile, load_profile
from ..space import SearchSpace
from ..supernet import ElasticMobileNetV3, extract_subnet, load_supernet, recalibrate_bn
from . import cards, tensorrt
from .data import (DataInfo, DataSource, cached_source, calibration_subset, data_info, eval_split, first_images,
                   loader, top1_accuracy)
from .errors import PackageError, ParityError
from .manifest import MANIFEST_NAME, PACKAGE_FORMAT, PackageManifest, read_manifest, timm_name
from .onnx_export import (DEFAULT_ATOL, DEFAULT_RTOL, INPUT_NAME, ONNX_OPSET, OUTPUT_NAME, check_parity,
                          export_onnx_bytes)
from .plots import plot_package_front, write_package_explorer
from .runtimes import (INT8_MAX_DROP, RUNTIMES, Int8Export, RuntimeExport, check_int8, check_runtime,
                       measure_latencies, require_all, resolve_int8, resolve_runtimes, runtime_rows, torch_logits,
                       versions)
from ..progress import ProgressFn, no_progress


@dataclass
class MemberTiming:
    """Wall time (s) of each packaging step of one member (not written into the package)."""

    k: int
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.steps.values())


@dataclass
class PackageResult:
    path: Path
    manifest: PackageManifest
    timings: list[MemberTiming]


@dataclass(frozen=True)
class PackageOptions:
    """Settings of one packaging run (recorded in package.json where they affect the output)."""

    members: int | None = None
    calib_images: int = 2000
    calib_batch: int = 200
    seed: int = 0
    parity_images: int = 1000
    parity_atol: float = DEFAULT_ATOL
    parity_rtol: float = DEFAULT_RTOL
    eval_images: int | None = None  # None: the whole validation split
    measure_latency: bool = False
    tensorrt: str | Sequence[str] = "auto"  # "auto" (the profile's exports), "off", or precisions
    tensorrt_max_batch: int = 32
    # deployment runtimes (names or "a,b"; None: the profile's `runtimes`), each checked against
    # PyTorch on the parity images and, with runtime_latency, timed at batch 1 (see package/runtimes)
    runtimes: str | Sequence[str] | None = None
    runtime_latency: bool = True
    # int8 files (True: every selected runtime that has int8 in ofa2-zoo, or names), calibrated on
    # int8_calib_images training images and packaged when their top-1 on the evaluation images is at
    # most int8_max_drop points below their runtime's fp32 file's
    int8: bool | str | Sequence[str] | None = False
    int8_calib_images: int = 2000
    int8_max_drop: float = INT8_MAX_DROP
    license: str = "mit"
    dataset_id: str | None = None
    # torch/BLAS threads while packaging (restored after). One by default: these networks are
    # small, and multi-threaded torch spins when another process is busy (10-15x slower).
    threads: int = 1

    def __post_init__(self) -> None:
        # the license reaches every card and config.json: an SPDX id or "other", written lowercase
        object.__setattr__(self, "license", check_license(self.license))
        if self.int8_calib_images < 1:
            raise PackageError(f"int8_calib_images must be at least 1, got {self.int8_calib_images}")
        if not 0 <= self.int8_max_drop <= 100:
            raise PackageError(f"int8_max_drop must be between 0 and 100 points, got {self.int8_max_drop}")


@dataclass
class _Job:
    """Everything one packaging run shares between its members."""

    front: Front
    prof: HardwareProfile
    net: ElasticMobileNetV3
    data: DataSource
    source: Callable[[str, int], Any]  # (split, resolution) -> Dataset, each opened once
    opts: PackageOptions
    selected: list[int]
    root: Path
    trt_precisions: list[str]
    runtimes: list[str] = field(default_factory=lambda: ["onnxruntime"])
    int8: list[str] = field(default_factory=list)  # runtimes that also get an int8 file


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(dumps_stable(obj))


@contextlib.contextmanager
def _timed(timing: MemberTiming, step: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timing.steps[step] = timing.steps.get(step, 0.0) + time.perf_counter() - t0


# ---------------------------------------------------------------------------- inputs
def _load_supernet(front: Front, supernet: ElasticMobileNetV3 | None, weights: str | os.PathLike | None,
                   assets: str | os.PathLike | None) -> ElasticMobileNetV3:
    if supernet is None:
        if weights is None:
            if _embedded(front.space.name) is None:
                raise PackageError(f"the front was searched on supernet {front.supernet.get('id')!r}; pass its "
                                   "weights (weights='official' or a file path)")
            weights = "embedded"
        supernet = load_supernet(front.space, weights=weights, assets=assets)
    if supernet.space.n_genes != front.space.n_genes or supernet.space.stage_widths != front.space.stage_widths:
        raise PackageError(f"supernet of space {supernet.space.name!r} does not match the front's space "
                           f"{front.space.name!r}")
    want = front.supernet.get("sha256")
    have = getattr(supernet, "weights_sha256", None)
    if want and have and want != have:
        raise PackageError(f"the front was searched with supernet weights sha256 {want[:12]}…, "
                           f"these weights have {have[:12]}…; package with the weights the search used")
    return supernet.eval()


def _embedded(space_name: str):
    """The catalog entry of the embedded supernet of ``space_name`` (weights, dataset), or None."""
    from ..catalog import EMBEDDED

    return EMBEDDED.get(space_name)


def _selected(front: Front, members: int | None, profile: HardwareProfile) -> list[int]:
    if not front.members:
        raise PackageError("the front has no members")
    k = members if members is not None else profile.spec.package.members
    if k < 1:
        raise PackageError(f"members must be at least 1, got {k}")
    return front.select(k)


def _tensorrt_precisions(option: str | Sequence[str], profile: HardwareProfile) -> list[str]:
    if option == "off":
        return []
    if option == "auto":
        return [e.split("-", 1)[1] for e in profile.spec.export if e.startswith("tensorrt-")]
    precisions = [option] if isinstance(option, str) else list(option)
    bad = [p for p in precisions if p not in tensorrt.PRECISIONS]
    if bad:
        raise PackageError(f"unknown TensorRT precision(s) {bad}; choose from {list(tensorrt.PRECISIONS)}, "
                           "'auto' or 'off'")
    return precisions


def _prepare_out(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise PackageError(f"{out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not (out_dir / MANIFEST_NAME).is_file():
            raise PackageError(f"{out_dir} is a non-empty folder that is not an ofa2 package; refusing to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``tmp`` with renames (the old package is kept until the new one is in)."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------- one member
def pretrained_cfg(info: DataInfo, space: SearchSpace, resolution: int, profile: HardwareProfile,
                   license: str) -> dict[str, Any]:
    """timm's ``pretrained_cfg`` for a member: input size, the preprocessing its weights were calibrated
    and measured with (interpolation, crop, normalisation), the unpooled feature-map size, labels.

    Args:
        info: What the data says: channels, preprocessing and class names.
        space: The member's search space (classes, feature-map size).
        resolution: The member's input resolution.
        profile: The hardware profile (named in the description).
        license: The license identifier written into the cfg.
    """
    feature = space.feature_size(resolution)
    cfg = {
        "input_size": [info.in_chans, resolution, resolution], "interpolation": info.interpolation,
        "crop_pct": info.crop_pct, "crop_mode": "center", "mean": list(info.mean), "std": list(info.std),
        "num_classes": space.num_classes, "pool_size": [feature, feature], "first_conv": "conv_stem",
        "classifier": "classifier", "license": license, "fixed_input_size": False,
        "description": f"ofa2-zoo front member for hardware profile {profile.id}",
    }
    if info.class_names is not None and len(info.class_names) == space.num_classes:
        cfg["label_names"] = list(info.class_names)
    return cfg


def _member_config(front: Front, arch, cfg: dict[str, Any]) -> dict[str, Any]:
    return {"architecture": "ofa2_subnet", "num_classes": front.space.num_classes,
            "num_features": front.space.feature_mix_width, "global_pool": "avg",
            "model_args": {"arch": arch.to_dict(), "space": front.space.to_dict()}, "pretrained_cfg": cfg}


def _round_weights(model: torch.nn.Module, dtype: str) -> None:
    """Round every floating tensor of ``model`` to what ``dtype`` stores, in place (float32: nothing)."""
    if dtype == "float16":
        with torch.no_grad():
            for t in model.state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.half())


def _save_weights(model: torch.nn.Module, path: Path, dtype: str = "float32") -> None:
    # One metadata key only: safetensors writes metadata in hash-map order, which varies between
    # processes, so a second key would make re-packaging non-byte-identical. The arch is in config.json.
    cast = torch.float16 if dtype == "float16" else None
    state = {k: (v.to(cast) if cast is not None and v.is_floating_point() else v).detach().contiguous().cpu()
             for k, v in model.state_dict().items()}
    path.write_bytes(safetensors.torch.save(state, metadata={"format": "pt"}))


# ---------------------------------------------------------------------------- main entry
def package_front(front_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                  supernet: ElasticMobileNetV3 | None = None, weights: str | os.PathLike | None = None,
                  data: DataSource | None = None, members: int | None = None, assets: str | os.PathLike | None = None,
                  profile: str | HardwareProfile | None = None, progress: ProgressFn | None = None,
                  **options: Any) -> PackageResult:
    """Package the front in ``front_dir`` (its ``front.json``) into ``out_dir``.

    ``supernet``/``weights``: the trained supernet the search used (an instance, or weights for
    :func:`~ofa2_zoo.load_supernet`; the embedded supernet when there is one for the space).
    ``data``: dataset name or image folder (or a ``(split, resolution) -> Dataset`` callable)
    for BN re-calibration (training split), ONNX parity and measured accuracy (validation
    split). ``members``: how many members to package, spread along the front (default: the
    profile's ``package.members``). Further options: see :class:`PackageOptions`.

    Args:
        front_dir: The front folder (or its ``front.json``).
        out_dir: The package folder to write (replaced atomically).
        supernet: The trained supernet the search used, or ``None``.
        weights: Weights for :func:`~ofa2_zoo.load_supernet` when ``supernet`` is ``None``.
        data: Dataset name, image folder or ``(split, resolution) -> Dataset`` callable.
        members: How many members to package, spread along the front.
        assets: Where OFA's assets are (default: the assets folder or cache).
        profile: The front's hardware profile, by id or loaded (default: the one the front names).
        progress: Called with (what is happening, members done, members total); ``None`` for none.
        **options: Further :class:`PackageOptions` fields.
    """
    try:
        opts = PackageOptions(members=members, **options)
    except TypeError as exc:
        raise PackageError(f"bad packaging option: {exc}") from None
    front_path = Path(front_dir)
    front = Front.load(front_path)
    front_file = front_path / "front.json" if front_path.is_dir() else front_path
    prof = load_profile(profile or front.profile_id, assets)
    if prof.id != front.profile_id:
        raise PackageError(f"the front belongs to profile {front.profile_id!r}, not {prof.id!r}")
    entry = _embedded(front.space.name)
    data = data if data is not None else (entry.dataset if entry is not None else None)
    if data is None:
        raise PackageError("packaging needs real images for BN re-calibration and the ONNX parity check: "
                           "pass data (a dataset name such as 'digits', or an image folder)")
    out = Path(out_dir).resolve()
    _prepare_out(out)
    selected = _selected(front, opts.members, prof)
    trt_precisions = _tensorrt_precisions(opts.tensorrt, prof)
    runtimes = resolve_runtimes(prof.spec.runtimes if opts.runtimes is None else opts.runtimes)
    require_all(runtimes)  # a missing extra stops here, before any work
    int8 = resolve_int8(opts.int8, runtimes)
    net = _load_supernet(front, supernet, weights, assets)
    references = _references(front, assets)
    notify = progress or no_progress

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    job = _Job(front, prof, net, data, cached_source(data), opts, selected, tmp, trt_precisions, runtimes, int8)
    try:
        with limited_threads(opts.threads):
            timings, rows, info = [], [], None
            for k in range(len(selected)):
                timing = MemberTiming(k)
                say = lambda what, k=k: notify(f"member {k}: {what}", k, len(selected))  # noqa: E731
                row, info = _package_member(job, k, timing, say)
                timings.append(timing)
                rows.append(row)
            notify("front folder", len(selected), len(selected))
            manifest = _write_front(job, front_file, rows, info, references)
        _move_into_place(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, ParityError):
            raise ParityError(f"{exc}; packaging stopped and nothing was written to {out}") from None
        raise
    notify("done", len(selected), len(selected))
    return PackageResult(out, manifest, timings)


def _package_member(job: _Job, k: int, timing: MemberTiming, say: Callable[[str], None]):
    front, prof, opts = job.front, job.prof, job.opts
    fi = job.selected[k]
    member = front.members[fi]
    arch, r = member.arch, member.arch.r
    name = timm_name(prof.id, k)
    folder_rel = f"members/front_{k}"
    folder = job.root / folder_rel
    folder.mkdir(parents=True)

    say("extract")
    with _timed(timing, "extract"):
        train, val = job.source("train", r), job.source("val", r)
        evaluated = job.source(split, r) if (split := eval_split(job.data)) != "val" else val
        info = data_info(job.data, train, dataset_id=opts.dataset_id)
        if info.in_chans != front.space.in_chans:
            raise PackageError(f"data {info.name!r} has {info.in_chans} channel(s), the space expects "
                               f"{front.space.in_chans}")
        model = extract_subnet(job.net, arch)
    say("BN re-calibration")
    with _timed(timing, "calibrate"):
        calib = calibration_subset(train, opts.calib_images, opts.seed)
        n_calib = recalibrate_bn(model, loader(calib, opts.calib_batch), num_images=opts.calib_images)
        model.eval()
        _round_weights(model, prof.spec.package.weights_dtype)
    say("save")
    with _timed(timing, "save"):
        cfg = pretrained_cfg(info, front.space, r, prof, opts.license)
        _save_weights(model, folder / "model.safetensors", prof.spec.package.weights_dtype)
        _write_json(folder / "config.json", _member_config(front, arch, cfg))
        # From here on we test what users get: the folder loaded through timm's own loader.
        shipped = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    say("evaluate")
    with _timed(timing, "evaluate"):
        eval_ds = evaluated if opts.eval_images is None else Subset(evaluated, range(min(opts.eval_images,
                                                                                          len(evaluated))))
        top1, n_eval = top1_accuracy(shipped, eval_ds)
    say("ONNX export")
    with _timed(timing, "onnx_export"):
        onnx_bytes = export_onnx_bytes(shipped, (1, info.in_chans, r, r))
        (folder / "model.onnx").write_bytes(onnx_bytes)
    say("ONNX parity")
    with _timed(timing, "parity"):
        images = first_images(val, opts.parity_images)
        report = check_parity(shipped, folder / "model.onnx", images, atol=opts.parity_atol, rtol=opts.parity_rtol)
        if not report.passed:
            raise ParityError(f"ONNX parity check failed for member {k} ({name}, {arch.to_string()}): "
                              f"{report.describe()}")
    exports = _runtime_exports(job, shipped, folder, images, report, say, (train, eval_ds, split))
    cfg_doc = _member_config(front, arch, cfg)
    cfg_doc["runtimes"] = {n: e.to_dict() for n, e in exports.items()}  # the same facts as package.json
    _write_json(folder / "config.json", cfg_doc)
    latency_measured = None
    if opts.measure_latency:
        say("latency")
        with _timed(timing, "latency"):
            latency_measured = _measure_latency(shipped, (info.in_chans, r), prof)
    with _timed(timing, "tensorrt"):
        trt_status, trt_settings = _tensorrt(job, folder, (info.in_chans, r, r), say)

    say("model card")
    with _timed(timing, "card"):
        plot_package_front(front, job.selected, folder / "front.png", highlight=k,
                           title=f"{name} on the {prof.id} front")
        context = _member_context(job, info, k, name, folder_rel, member, (top1, n_eval, split), n_calib, report,
                                  latency_measured, trt_status, trt_settings)
        context["runtimes"] = runtime_rows(cfg_doc["runtimes"])
        data_card = cards.card_data(model_name=name, license=opts.license, datasets=[info.dataset_id],
                                    tags=_tags(prof, front), accuracy=context["accuracy"])
        (folder / "README.md").write_text(cards.render_card("member", data_card, context))

    files = {p.name: sha256_file(p, memo=False) for p in sorted(folder.iterdir()) if p.is_file()}
    measured = {"top1": round(top1, 4), "top1_images": n_eval, "top1_split": split, "top1_dataset": info.name,
                "calibration_images": n_calib}
    if latency_measured:
        measured["latency"] = latency_measured
    row = {"k": k, "name": name, "folder": folder_rel, "front_index": fi, "arch": arch.to_dict(),
           "objectives": dict(member.objectives), "measured": measured, "files": files,
           "parity": report.to_dict(), "tensorrt": trt_status, "runtimes": cfg_doc["runtimes"]}
    return row, info


#: Packaging times each member once, to check the front's latency, not to build a table: its
#: timed calls span at most this many seconds and follow at most PACKAGE_MAX_WARMUP warm-up calls,
#: whatever the profile's ``min_seconds``/``warmup`` ask for (lookup tables keep the profile's).
PACKAGE_MIN_SECONDS = 0.5
PACKAGE_MAX_WARMUP = 10


def packaging_measurement(m):
    """The profile's measurement settings ``m`` with packaging's caps (see PACKAGE_MIN_SECONDS)."""
    return m.model_copy(update={"min_seconds": min(m.min_seconds, PACKAGE_MIN_SECONDS),
                                "warmup": min(m.warmup, PACKAGE_MAX_WARMUP)})


def _runtime_exports(job: _Job, shipped: torch.nn.Module, folder: Path, images: torch.Tensor, onnx_report,
                     say: Callable[[str], None], int8_data: tuple[Any, Any, str]) -> dict[str, RuntimeExport]:
    """Each deployment runtime's export of the member, checked on the parity images; with ``int8``
    each int8 file, gated on top-1 (``int8_data``: training split, evaluation images, their split);
    then (with ``runtime_latency``) every packaged file timed at batch 1, interleaved."""
    opts = job.opts
    exports = {"onnxruntime": RuntimeExport("onnxruntime", ["model.onnx"], (folder / "model.onnx").stat().st_size,
                                            onnx_report, versions("onnxruntime"))}
    reference = torch_logits(shipped, images) if len(job.runtimes) > 1 else None
    for name in job.runtimes[1:]:
        label = RUNTIMES[name].label
        say(f"{label} export and parity")
        exports[name] = check_runtime(name, shipped, folder, images, onnx_path=folder / "model.onnx",
                                      reference=reference, atol=opts.parity_atol, rtol=opts.parity_rtol)
    if job.int8:
        _int8_exports(job, shipped, exports, folder, int8_data, say)
    if opts.runtime_latency:
        say("runtime latency")
        predictors = {n: _predictor(e, folder) for n, e in exports.items() if e.packaged}
        predictors.update({f"{n}-int8": e.int8.extra["predict"] for n, e in exports.items()
                           if e.int8 is not None and e.int8.packaged})
        for n, lat in measure_latencies(predictors, images[:1].numpy()).items():
            if n.endswith("-int8"):
                exports[n.removesuffix("-int8")].int8.latency = lat
            else:
                exports[n].latency = lat
    return exports


def _predictor(export: RuntimeExport, folder: Path):
    """The runtime's fp32 predictor of a packaged export (loaded again where the check did not keep it)."""
    if "predict" not in export.extra:
        export.extra["predict"] = RUNTIMES[export.runtime].require().load(folder)
    return export.extra["predict"]


def _int8_exports(job: _Job, shipped: torch.nn.Module, exports: dict[str, RuntimeExport], folder: Path,
                  int8_data: tuple[Any, Any, str], say: Callable[[str], None]) -> None:
    """Each of ``job.int8``'s runtimes' int8 file, calibrated on a fixed subset of the training
    split and gated on top-1 against the runtime's fp32 file (see :func:`check_int8`)."""
    opts = job.opts
    train, evaluated, split = int8_data
    calibration = [x.numpy() for x, _ in loader(calibration_subset(train, opts.int8_calib_images, opts.seed), 64)]
    batches = [(x.numpy(), torch.as_tensor(y).numpy()) for x, y in loader(evaluated, 256)]
    images, labels = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    info = {"split": "train", "seed": opts.seed}
    for name in job.int8:
        label, export = RUNTIMES[name].label, exports[name]
        if not export.packaged:
            export.int8 = Int8Export(name, [], 0, None, None, len(images), split, opts.int8_max_drop, {},
                                     reason=f"not made: the fp32 {label} export was not packaged")
            continue
        say(f"{label} int8 quantisation and top-1")
        export.int8 = check_int8(name, shipped, folder, _predictor(export, folder), calibration, images, labels,
                                 split=split, max_drop=opts.int8_max_drop, calibration_info=info)


def _measure_latency(model: torch.nn.Module, chw: tuple[int, int], prof: HardwareProfile) -> dict[str, Any] | None:
    """Latency with the profile's measurement settings (onnxruntime/torch here; TensorRT needs a GPU),
    capped by :func:`packaging_measurement`."""
    from ..profiles.machine import machine_info
    from ..profiles.measure import BackendUnavailable, measure_module
    from ..profiles.schema import Measurement

    m = packaging_measurement(prof.measurement or Measurement(backend="onnxruntime"))
    c, r = chw
    try:
        t = measure_module(model, (m.batch_size, c, r, r), m)
    except BackendUnavailable:
        return None
    return {"median_ms": round(t.median_ms, 4), "iqr_ms": round(t.iqr_ms, 4), "clock": m.clock, "backend": m.backend,
            "batch": m.batch_size, "precision": m.precision, "threads": m.threads, "repeats": t.n,
            "machine": machine_info()["cpu"]}


def _tensorrt(job: _Job, folder: Path, input_shape: tuple[int, int, int], say: Callable[[str], None]):
    prof, opts, data, precisions, r = job.prof, job.opts, job.data, job.trt_precisions, input_shape[-1]
    opt_batch = prof.measurement.batch_size if prof.measurement else 1
    precision = precisions[0] if precisions else "fp16"
    data_name = os.fspath(data) if isinstance(data, (str, os.PathLike)) else None
    command = tensorrt.build_command(input_shape, precision, opt_batch, opts.tensorrt_max_batch, data_name)
    if not precisions:
        exports = ", ".join(prof.spec.export)
        return {"built": False, "precision": None, "engine": None, "command": command,
                "reason": f"profile {prof.id} does not ask for one (exports: {exports})"}, None
    reason = tensorrt.unavailable_reason()
    if reason:
        return {"built": False, "precision": precision, "engine": None, "command": command,
                "reason": f"it could not be built where this package was made: {reason}"}, None
    built = None
    for p in precisions:
        say(f"TensorRT {p} engine")
        calibration = None
        if p == "int8":
            from .data import calibration_batches

            calibration = calibration_batches(data, r, min(opts.calib_images, 512), batch_size=32, seed=opts.seed)
        build = tensorrt.build_member_engine(folder, p, opt_batch=opt_batch, max_batch=opts.tensorrt_max_batch,
                                             calibration=calibration)
        built = built or build
    return {"built": True, "precision": built.precision, "engine": built.engine, "reason": None,
            "command": tensorrt.build_command(input_shape, built.precision, opt_batch, opts.tensorrt_max_batch,
                                              data_name)}, \
        built.to_dict()


def _tags(prof: HardwareProfile, front: Front) -> list[str]:
    return ["image-classification", "timm", "ofa2-zoo", "once-for-all", "mobilenetv3", "pareto-front",
            f"profile-{prof.id}", f"device-{prof.device_class}"]


def _provenance(front: Front, prof: HardwareProfile, net: ElasticMobileNetV3) -> dict[str, Any]:
    return {
        "front_version_id": front.version_id, "algorithm": front.algorithm.get("name"), "seed": front.seed,
        "evaluations": front.evaluations, "supernet_id": front.supernet.get("id") or front.space.name,
        "supernet_sha256": getattr(net, "weights_sha256", None) or front.supernet.get("sha256"),
        "weights_id": getattr(net, "weights_id", None) or "unknown",
        "accuracy_id": front.accuracy.get("id"), "accuracy_sha256": front.accuracy.get("sha256"),
        "accuracy_source": front.accuracy.get("source"),
        "profile_sha256": front.profile.get("sha256"), "lut_sha256": front.profile.get("lut_sha256"),
        "package_version": __version__,
    }


def _accuracy(front: Front, info: DataInfo, value_front: float | None, top1: float, n_eval: int,
              split: str) -> dict[str, Any]:
    meta = front.objective_meta.get("top1")
    acc_front = None
    if meta is not None and value_front is not None:
        acc_front = {"value": value_front, "source": meta["source"], "by": front.accuracy.get("id"),
                     "dataset": info.name, "dataset_id": info.dataset_id, "split": "val"}
    return {"measured": {"value": top1, "n_images": n_eval, "dataset": info.name, "dataset_id": info.dataset_id,
                         "split": split},
            "front": acc_front}


def _member_context(job: _Job, info: DataInfo, k: int, name: str, folder_rel: str, member,
                    measured: tuple[float, int, str], n_calib: int, report, latency_measured, trt_status,
                    trt_settings) -> dict[str, Any]:
    front, prof, opts, arch = job.front, job.prof, job.opts, member.arch
    top1, n_eval, split = measured
    lat = member.objectives.get("latency_ms")
    lat_meta = front.objective_meta.get("latency_ms")
    return {
        "name": name, "k": k, "n_members": len(job.selected), "folder": folder_rel,
        "hub_repo": f"{prof.spec.hub.repo_prefix}-front-{k}",
        "profile": {"id": prof.id, "description": prof.spec.description, "device_class": prof.device_class},
        "plot_file": "front.png", "arch_string": arch.to_string(), "arch_json": json.dumps(arch.to_dict()),
        "resolution": arch.r, "in_chans": info.in_chans, "num_classes": front.space.num_classes,
        "mean": list(info.mean), "std": list(info.std), "interpolation": info.interpolation, "crop_pct": info.crop_pct,
        # a dataset every user can get (scikit-learn's digits, Fashion-MNIST from apt or `ofa2 data
        # fetch`): the card shows how to check its accuracy
        "check_data": job.data if job.data in ("digits", "fashion-mnist") else None,
        "weights_dtype": prof.spec.package.weights_dtype,
        "macs_m": member.objectives.get("macs_m", float("nan")),
        "params_m": member.objectives.get("params_m", float("nan")),
        "accuracy": _accuracy(front, info, member.objectives.get("top1"), top1, n_eval, split),
        "latency": {"front": {"value": lat, "source": f"{lat_meta['source']}, profile {prof.id}",
                              "by": front.profile.get("latency_by")}
                    if lat is not None and lat_meta else None, "measured": latency_measured},
        "onnx": {"opset": ONNX_OPSET, "input": INPUT_NAME, "output": OUTPUT_NAME},
        "parity": report.to_dict(),
        "tensorrt": {**trt_status, "settings": trt_settings},
        "calibration": {"images": n_calib, "batch": opts.calib_batch, "seed": opts.seed, "dataset": info.name,
                        "split": "train"},
        "provenance": _provenance(front, prof, job.net),
        "limitations": [],
    }


def _references(front: Front, assets: str | os.PathLike | None) -> list:
    """OFA's published nets for the explorer page, where the front's profile can place them; a
    missing asset only leaves them out (the plot and the cards do not depend on them)."""
    try:
        return reference_points(front, assets)
    except Ofa2Error:
        return []


def _write_front(job: _Job, front_file: Path, rows: list[dict], info: DataInfo, references: list) -> PackageManifest:
    front, prof, net, opts, selected, root = job.front, job.prof, job.net, job.opts, job.selected, job.root
    folder = root / "front"
    folder.mkdir()
    shutil.copyfile(front_file, folder / "front.json")
    plot_package_front(front, selected, folder / "front.png", title=f"{prof.id} front ({len(selected)} packaged)")
    prefix = "ofa2_" + prof.id.replace("-", "_")
    context = {
        "title": f"{prefix}_front", "profile": {"id": prof.id, "description": prof.spec.description,
                                                 "device_class": prof.device_class},
        "provenance": _provenance(front, prof, net), "front_size": len(front.members), "plot_file": "front.png",
        "in_chans": info.in_chans, "prefix": prefix, "hypervolume": front.hypervolume,
        "reference_point": front.reference_point,
        # what the members record (the images a split really held, not what was asked for)
        "measured_note": f"{rows[0]['measured']['top1_images']} images of the {info.name} "
                         f"`{rows[0]['measured']['top1_split']}` split, after BN re-calibration on "
                         f"{rows[0]['measured']['calibration_images']} training images",
        "top1_source": front.objective_meta.get("top1", {}).get("source", "not searched"),
        "latency_source": front.objective_meta.get("latency_ms", {}).get("source", "not searched"),
        # which machine's measurements and calibration gave the latencies (older fronts lack it)
        "latency_by": front.profile.get("latency_by") if "latency_ms" in front.objective_meta else None,
        "members": [{"k": r["k"], "name": r["name"], "top1_measured": r["measured"]["top1"],
                     "top1_front": r["objectives"].get("top1"), "latency_ms": r["objectives"].get("latency_ms"),
                     "macs_m": r["objectives"].get("macs_m", float("nan")),
                     "params_m": r["objectives"].get("params_m", float("nan")), "resolution": r["arch"]["r"][0]}
                    for r in rows],
    }
    data_card = cards.card_data(model_name=f"{prefix}_front", license=opts.license, datasets=[info.dataset_id],
                                tags=_tags(prof, front))
    (folder / "README.md").write_text(cards.render_card("front", data_card, context))
    manifest = PackageManifest.model_validate({
        "format": PACKAGE_FORMAT, "profile": prof.id, "front_version_id": front.version_id,
        "space": front.space.to_dict(), "members": rows, "front_folder": "front",
        "objective_meta": front.objective_meta, "package_version": __version__,
        "provenance": _provenance(front, prof, net),
        "data": {"name": info.name, "dataset_id": info.dataset_id, "calibration_images": opts.calib_images,
                 "calibration_batch": opts.calib_batch, "seed": opts.seed, "parity_images": opts.parity_images,
                 "parity_atol": opts.parity_atol, "parity_rtol": opts.parity_rtol, "eval_split": "val",
                 "eval_images": opts.eval_images, "runtimes": list(job.runtimes),
                 "runtime_latency": opts.runtime_latency,
                 # only with --int8: packages made without it keep their bytes
                 **({"int8": {"runtimes": list(job.int8), "calibration_images": opts.int8_calib_images,
                              "max_drop": opts.int8_max_drop}} if job.int8 else {})},
    })
    text = manifest.to_json()
    (root / MANIFEST_NAME).write_text(text)
    (folder / MANIFEST_NAME).write_text(text)  # the front repo on the Hub carries it too
    write_package_explorer(front, manifest, folder / "index.html", references=references,
                           title=f"{prof.id} front ({len(selected)} packaged)")
    return manifest


__all__ = ["package_front", "PackageResult", "PackageOptions", "MemberTiming", "pretrained_cfg", "read_manifest"]
