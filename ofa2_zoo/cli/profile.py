"""``ofa2 profile``: list, show, build, validate and calibrate hardware profiles, measure a network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..errors import Ofa2Error
from ._ui import AS_JSON, QUIET, Col, console, err_console, print_json, print_table, progress

app = typer.Typer(help="Hardware profiles: objectives, latency lookup tables and measurement.",
                  no_args_is_help=True)
ASSETS = typer.Option(None, "--assets", help="Folder with the official OFA files (else $OFA2_ASSETS, cache, download).")
NAME = typer.Argument(..., help="Profile id (see `ofa2 profile list`) or path to a profile YAML file.")


_LATENCY_LABEL = {"lut (ofa2-json)": "table", "lut (ofa-yaml)": "OFA table", "measure": "measured"}


@app.command("list")
def list_cmd(assets: Optional[Path] = ASSETS, as_json: bool = AS_JSON) -> None:
    """List the known profiles (shipped ones and those in $OFA2_PROFILES) and whether each can search here."""
    from rich.markup import escape

    from ..profiles import DEFAULT_PROFILE, list_profiles, load_profile

    rows = []
    for name in list_profiles():
        try:
            p = load_profile(name, assets)
        except Ofa2Error as exc:
            rows.append({"id": name, "ready": False, "reason": f"profile error: {exc}", "fix": None})
            continue
        t = p.spec.latency.table
        ready = p.readiness()
        rows.append({"id": p.id, "device": p.device_class, "supernet": p.spec.supernet, "accuracy": p.accuracy_source,
                     "latency_source": p.latency_source + (f" ({t.format})" if t else ""), "ready": ready.ready,
                     "reason": ready.reason, "fix": ready.fix, "default": p.id == DEFAULT_PROFILE,
                     "description": p.description, "file": str(p.path)})
    if as_json:
        print_json(rows)
        return
    print_table([Col("id", "key"), Col("supernet", "key"), Col("accuracy", "key"), Col("latency", "key"),
                 Col("ready here", "key")],
                [[escape(r["id"]) + (" *" if r.get("default") else ""), r.get("supernet") or "",
                  r.get("accuracy") or "-", _LATENCY_LABEL.get(r.get("latency_source"), r.get("latency_source") or ""),
                  "[green]yes[/]" if r["ready"] else "[red]no[/] (below)"] for r in rows],
                title="* the zoo's default profile (ofa2 run, ofa2 search)")
    for r in rows:
        if not r["ready"]:
            console.print(f"[bold]{escape(r['id'])}[/]: {escape(r['reason'])}"
                          + (f"\n  fix: {escape(r['fix'])}" if r["fix"] else ""))


def check_this_machine(profile, assets: Optional[Path] = None):
    """Check that a measured profile's table fits this machine; print ONE line when it does not
    (a warning) or cannot tell (a note). Returns the check (``None`` when off or not possible)."""
    from rich.markup import escape

    from ..profiles import load_profile
    from ..profiles.calibration import check_machine
    from ..profiles.machine import check_enabled

    if not check_enabled():
        return None
    try:
        result = check_machine(load_profile(profile, assets))
    except Ofa2Error:
        return None  # a broken profile or table is reported by the command itself
    if result.status == "differs":
        err_console.print(f"[yellow]warning:[/] {escape(result.message)}")
    elif result.status == "unknown":
        err_console.print(f"note: {escape(result.message)}")
    return result


@app.command("show")
def show(name: str = NAME, assets: Optional[Path] = ASSETS) -> None:
    """Print a profile, its checksums, its table's provenance and the latency range of its space.

    Exits 2 after printing when the profile's latency table is unusable (missing, corrupt, not
    matching its pinned sha256), as `ofa2 search` would refuse the profile.
    """
    from ..profiles import ProfileError, load_profile
    from ..profiles.calibration import latency_attribution

    p = load_profile(name, assets)
    info = p.describe()
    info["space_size_per_resolution"] = p.space.size()
    unusable = None
    if p.latency_source == "lut":
        try:
            info["lut_sha256"] = p.lut_sha256
            meta = p.table.meta
            info["lut"] = {k: meta[k] for k in ("created", "machine", "measurement", "canary", "calibration",
                                                "calibrated_by") if meta.get(k)}
            info["latency_by"] = latency_attribution(p)["latency_by"]
            lat = p.latency([p.space.smallest(p.space.resolutions[0]), p.space.largest()])
            info["latency_range_ms"] = [round(float(x), 3) for x in lat]
        except Ofa2Error as exc:
            info["lut"] = f"unavailable: {exc}"
            unusable = exc
        else:
            check = check_this_machine(p)
            if check is not None:
                info["machine_check"] = check.to_dict()
    console.print_json(json.dumps(info, default=str))
    if unusable is not None:
        raise ProfileError(f"profile {p.id} cannot be used: its latency table is unusable ({unusable}); "
                           f"`ofa2 search -p {p.id}` refuses it the same way")


@app.command("build-lut")
def build_lut_cmd(name: str = NAME,
                  out: Optional[Path] = typer.Option(None, help="Table file (default: the profile's table path, "
                                                                "or the cache when that folder is read-only)."),
                  calibrate: int = typer.Option(30, min=0, help="Random whole networks measured to fit the "
                                                                "calibration (0: none)."),
                  fresh: bool = typer.Option(False, help="Ignore a partial table left by an interrupted build."),
                  seed: int = typer.Option(0, help="Seed of the calibration networks."),
                  chunk: int = typer.Option(25, min=1, help="Operators timed interleaved (and saved) per step."),
                  quiet: bool = QUIET) -> None:
    """Measure every operator of the profile's space on THIS machine into a lookup table.

    Interrupted builds resume where they stopped (run the same command again).
    """
    from .._io import sha256_file
    from ..profiles import load_profile
    from ..profiles.build import build_lut

    p = load_profile(name)
    with progress(quiet) as bar:
        task = bar.add_task(f"measuring operators of {p.id}", total=None)
        path = build_lut(p, out, resume=not fresh, calibration_archs=calibrate, seed=seed, chunk=chunk,
                         progress=lambda key, done, total: bar.update(task, completed=done, total=total))
    console.print(f"wrote {path}\nsha256 {sha256_file(path)} (pin it as latency.table.sha256 in the profile)")


SPEED_NOTE = 0.05  # validate notes a change of the machine's speed since its calibration beyond this


@app.command("validate")
def validate_cmd(name: str = NAME,
                 n: int = typer.Option(100, "-n", min=2, help="Random networks (mixed resolutions) measured end to end "
                                                               "(plus the smallest and largest per resolution)."),
                 seed: int = typer.Option(1, help="Seed of the random networks."),
                 calibrate: int = typer.Option(0, min=0, help="First fit a new calibration on this many OTHER random "
                                                              "networks and report before/after (0: use the "
                                                              "table's stored calibration)."),
                 save_calibration: bool = typer.Option(False, help="Store the calibration fitted with --calibrate "
                                                                   "in the table (its sha256 changes)."),
                 plot: Optional[Path] = typer.Option(None, help="Write a predicted-vs-measured scatter PNG here."),
                 json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full report as JSON."),
                 assets: Optional[Path] = ASSETS, quiet: bool = QUIET) -> None:
    """Measure N random networks and report how well the table predicts them."""
    from .._io import write_json_atomic
    from .._io import sha256_file
    from ..profiles import load_profile
    from ..profiles.validate import plot_validation, store_calibration, validate_profile

    if save_calibration and not calibrate:
        raise Ofa2Error("--save-calibration needs --calibrate N (the number of networks to fit it on)")
    p = load_profile(name, assets)
    with progress(quiet) as bar:
        task = bar.add_task(f"measuring {n} networks", total=n)
        report = validate_profile(p, n, seed, calibrate=calibrate,
                                  progress=lambda step, i, total: bar.update(task, completed=i, total=total))
    mine = not calibrate and p.table.meta.get("calibrated_by")
    label = "calibrated" + (" (this machine's)" if mine else " (fitted now)" if calibrate else "")
    rows = [("table sum", report.raw)] + ([(label, report.calibrated)] if report.calibrated else [])
    table = _agreement_table(rows)
    if report.extremes:
        e = report.extremes["agreement"]
        table.add_row(f"smallest/largest ({len(report.extremes['archs'])})", f"{e['within_10pct']:.1%}",
                      f"{e['mape']:.2f}", f"{e['kendall_tau']:.3f}", f"{e['bias']:+.2f}")
    console.print(table)
    drift = report.speed_vs_calibration
    if drift is not None and round(abs(drift - 1), 9) > SPEED_NOTE:
        err_console.print(f"note: whole networks run about {abs(drift - 1):.0%} {'slower' if drift > 1 else 'faster'} "
                          "here now than when this machine's calibration was checked (the table sum's bias moved "
                          f"to {report.raw.bias:+.1f} %), so the calibrated figures are off by about that much: "
                          "this machine's speed varies (a shared or throttled virtual machine?), not the "
                          "calibration's fit")
    if plot:
        console.print(f"plot: {plot_validation(report, plot)}")
    if json_out:
        write_json_atomic(json_out, report.to_dict())
        console.print(f"report: {json_out}")
    if save_calibration:
        path = store_calibration(p, report.calibration)
        console.print(f"calibration saved to {path}; new sha256 {sha256_file(path)}")


def _agreement_table(rows) -> Table:
    table = Table("prediction", "within ±10 %", "MAPE %", "Kendall τ", "bias %")
    for label, a in rows:
        table.add_row(label, f"{a.within_10pct:.1%}", f"{a.mape:.2f}", f"{a.kendall_tau:.3f}", f"{a.bias:+.2f}")
    return table


@app.command("calibrate")
def calibrate_cmd(name: str = NAME,
                  n: int = typer.Option(30, "-n", min=8, help="Random whole networks measured here to fit the "
                                                              "calibration."),
                  check: int = typer.Option(10, min=0, help="OTHER random networks measured to compare the table, "
                                                            "its own calibration and this machine's (0: compare "
                                                            "on the fitted networks)."),
                  seed: int = typer.Option(1, help="Seed of the networks."),
                  assets: Optional[Path] = ASSETS, quiet: bool = QUIET) -> None:
    """Fit the profile's latency calibration on THIS machine and use it here from now on.

    The fitted calibration is stored per machine in the user cache; the shipped table is not
    touched. Rebuild the table instead (ofa2 profile build-lut) for a different runtime or device.
    """
    from ..profiles import load_profile
    from ..profiles.calibration import calibrate_machine

    p = load_profile(name, assets)
    with progress(quiet) as bar:
        task = bar.add_task(f"measuring {n + check} networks", total=None)
        result = calibrate_machine(p, n, check=check, seed=seed,
                                   progress=lambda step, i, total: bar.update(task, completed=i, total=total))
    console.print(_agreement_table(result.rows))
    where = f"{result.check_networks} other networks" if result.check_networks else f"the {n} fitted networks"
    console.print(f"(compared on {where}, measured here)\ncalibration of {p.id} for machine {result.fingerprint} "
                  f"saved to {result.path}; {p.id} uses it on this machine from now on")
    if result.warning:
        from rich.markup import escape

        err_console.print(f"[yellow]warning:[/] {escape(result.warning)}")


@app.command("canary")
def canary_cmd(name: str = NAME,
               write: bool = typer.Option(False, help="Store the canary and this machine's CPU flags in the table "
                                                      "(only on the machine that measured it; its sha256 changes)."),
               force: bool = typer.Option(False, help="With --write: store it even though the table's machine "
                                                      "record differs from this machine."),
               assets: Optional[Path] = ASSETS) -> None:
    """Time the profile's canary here and compare it with the table's (or store it in the table)."""
    from .._io import sha256_file
    from ..profiles import load_profile
    from ..profiles.calibration import check_machine, stamp_table

    p = load_profile(name, assets)
    if write:
        path, canary = stamp_table(p, force=force)
        console.print(f"canary {canary['total_ms']:.4f} ms written to {path}\nsha256 {sha256_file(path)} "
                      "(pin it as latency.table.sha256 in the profile)")
        return
    result = check_machine(p, ttl=0)
    console.print_json(json.dumps(result.to_dict()))


@app.command("measure")
def measure_cmd(name: str = NAME,
                arch: str = typer.Argument(..., help="Arch string (r224-d...-k...-e...) or OFA arch JSON."),
                assets: Optional[Path] = ASSETS) -> None:
    """Measure one network end to end with the profile's backend and compare with the table."""
    from ..profiles import load_profile
    from ..profiles.measure import measure_arch
    from ..space import ArchSpec

    p = load_profile(name, assets)
    if p.measurement is None:
        raise Ofa2Error(f"profile {p.id} has no measurement section, so it cannot be measured here")
    a = ArchSpec.parse(arch, p.space)
    t = measure_arch(a, p.space, p.measurement)
    info = {"arch": a.to_string(), "measured_ms": round(t.value(p.measurement.statistic), 4),
            "statistic": p.measurement.statistic, "median_ms": round(t.median_ms, 4), "iqr_ms": round(t.iqr_ms, 4),
            "min_ms": round(t.min_ms, 4), "calls": t.n}
    if p.latency_source == "lut":
        info["predicted_ms"] = round(float(p.latency([a])[0]), 4)
    console.print_json(json.dumps(info))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="profile")
