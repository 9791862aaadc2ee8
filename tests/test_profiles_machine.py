"""Tables that travel between machines: CPU flags, the canary, the machine check and
``ofa2 profile calibrate`` (issue 26).

A foreign machine is simulated by faking what this machine reports: its identity (so its
fingerprint), its CPU flags and the canary's timings (``measure_canary``), and the whole
networks measured for a calibration. Nothing here depends on real timings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import ofa2_zoo.profiles.build as build_mod
import ofa2_zoo.profiles.calibration as calibration
import ofa2_zoo.profiles.machine as machine
import ofa2_zoo.profiles.validate as validate_mod
from _profiles_helpers import TINY, profile_dict, write_profile
from ofa2_zoo._io import sha256_file
from ofa2_zoo.cli import main
from ofa2_zoo.explorer import explorer_data
from ofa2_zoo.profiles import LookupTableError, ProfileError, load_profile
from ofa2_zoo.profiles.lut import FORMAT, LatencyTable, all_ops, write_table
from ofa2_zoo.search import search
from ofa2_zoo.search.evaluator import objective_sources

FLAGS = ["avx2", "fma", "sse2"]
IDENTITY = {"cpu": "Test CPU", "cores": 2, "arch": "x86_64", "system": "Linux", "flags": FLAGS,
            "onnxruntime": "1.0", "torch": "2.0"}
TABLE_MACHINE = {"cpu": "Test CPU", "cores": 2, "flags": FLAGS, "onnxruntime": "1.0", "torch": "2.0"}
CANARY_KEYS = [op.key for op in machine.canary_ops(TINY)]
TABLE_CANARY = dict(zip(CANARY_KEYS, (0.5, 1.5, 1.0)))  # 3.0 ms in all


class FakeMachine:
    """This machine as the tests make it: its canary runs ``factor`` x the table's."""

    def __init__(self, monkeypatch, factor: float = 1.0, flags=FLAGS, identity=IDENTITY):
        self.factor, self.timed = factor, 0
        monkeypatch.setattr(machine, "machine_identity", lambda: {**identity, "flags": list(flags)})
        for module in (machine, calibration):
            monkeypatch.setattr(module, "cpu_flags", lambda *a: list(flags))
            monkeypatch.setattr(module, "measure_canary", self.measure)

    def measure(self, profile):
        self.timed += 1
        return {k: v * self.factor for k, v in TABLE_CANARY.items()}


def _entries() -> dict:
    return {k: {"min": 0.01 + op.macs / 1e6, "median": 0.02 + op.macs / 1e6, "p10": 0.01 + op.macs / 1e6,
                "iqr": 0.0, "n": 20} for k, op in all_ops(TINY).items()}


def _write_table(path, canary=TABLE_CANARY, machine_record=TABLE_MACHINE, fmt=FORMAT, calibration=None):
    header = {"format": fmt, "space": TINY.name, "resolutions": [16, 24], "profile": "tiny-cpu", "statistic": "min",
              "machine": machine_record, "created": "2026-12-01T00:00:00+00:00",
              "call_overhead": {"min": 0.001, "median": 0.002, "p10": 0.001, "iqr": 0.0, "n": 20},
              "calibration": calibration}
    if canary is not None:
        header["canary"] = {"ms": dict(canary), "total_ms": sum(canary.values()), "measurement": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_table(path, header, _entries())


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A tiny-space profile with a hand-made ofa2-lut/2 table (and a canary) measured on 'Test CPU'."""
    monkeypatch.setenv("OFA2_MACHINE_DIR", str(tmp_path / "machine"))
    monkeypatch.setenv("OFA2_MACHINE_CHECK", "1")
    _write_table(tmp_path / "luts" / "tiny-cpu.json")
    return write_profile(tmp_path, profile_dict(objectives=["latency_ms", "macs_m"]))


def _foreign_networks(monkeypatch, scale=1.6, offset=0.05):
    """Whole networks 'measured' on a machine where every network takes scale x the table sum + offset."""
    def fake(archs, space, m, **kw):
        table = LatencyTable.from_json(fake.table)
        return scale * table.compile(space, calibrated=False).latency_genes(space.archs_to_genes(archs)) + offset

    monkeypatch.setattr(build_mod, "measure_archs", fake)
    monkeypatch.setattr(validate_mod, "measure_archs", fake)
    return fake


# ---------------------------------------------------------------------------- the machine record
def test_cpu_flags_are_read_from_cpuinfo_x86_and_arm(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: sse2 avx2 fma avx2\n\nprocessor\t: 1\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd crc32\n")
    assert machine.cpu_flags(x86) == ["avx2", "fma", "sse2"]
    assert machine.cpu_flags(arm) == ["asimd", "crc32", "fp"]


def test_the_fingerprint_follows_the_flags_and_the_runtimes():
    base = machine.fingerprint(IDENTITY)
    assert len(base) == 16 and base == machine.fingerprint(dict(IDENTITY))
    assert machine.fingerprint({**IDENTITY, "flags": FLAGS + ["avx512f"]}) != base
    assert machine.fingerprint({**IDENTITY, "onnxruntime": "1.1"}) != base


def test_canary_ops_are_the_stem_the_largest_first_block_and_the_head_at_the_largest_resolution():
    stem, block, head = machine.canary_ops(TINY)
    assert stem.kind == "Conv" and stem.inp == (24, 24, 1)
    assert block.kind == "expanded_conv" and block.kernel == 5 and block.mid == 8 * 4 and block.inp[2] == 8
    assert head.kind == "Conv_1"
    assert all(k in all_ops(TINY) for k in CANARY_KEYS)


# ---------------------------------------------------------------------------- the table format
def test_a_version_1_table_without_a_canary_loads_and_keeps_its_format(tmp_path):
    path = _write_table(tmp_path / "old.json", canary=None, fmt="ofa2-lut/1")
    table = LatencyTable.from_json(path)
    assert table.meta["format"] == "ofa2-lut/1" and "canary" not in table.meta
    again = write_table(tmp_path / "again.json", table.meta, json.loads(path.read_text())["entries"])
    assert json.loads(again.read_text())["format"] == "ofa2-lut/1"  # a re-calibrated old table stays /1
    fresh = write_table(tmp_path / "fresh.json", {"space": TINY.name}, {})
    assert json.loads(fresh.read_text())["format"] == FORMAT == "ofa2-lut/2"


def test_the_canary_is_read_back_as_written(tmp_path):
    table = LatencyTable.from_json(_write_table(tmp_path / "t.json"))
    assert table.meta["canary"]["ms"] == TABLE_CANARY and table.meta["machine"]["flags"] == FLAGS


@pytest.mark.parametrize("canary", [{"ms": {}}, {"ms": {"Conv": 0.0}}, {"ms": {"Conv": "1"}}, {"total_ms": 1.0}, [1]])
def test_a_malformed_canary_is_one_clear_error(tmp_path, canary):
    path = _write_table(tmp_path / "t.json")
    data = json.loads(path.read_text())
    data["canary"] = canary
    path.write_text(json.dumps(data))
    with pytest.raises(LookupTableError) as exc:
        LatencyTable.from_json(path)
    assert str(exc.value) == (f"{path}: 'canary' needs 'ms', a mapping of operator keys to positive milliseconds "
                              "(fix: re-time it with ofa2 profile canary PROFILE --write)")


def test_an_unknown_table_format_is_refused(tmp_path):
    path = _write_table(tmp_path / "t.json", fmt="ofa2-lut/2")
    path.write_text(path.read_text().replace('"ofa2-lut/2"', '"ofa2-lut/3"'))
    with pytest.raises(LookupTableError, match="not an ofa2-lut/1 or ofa2-lut/2 table"):
        LatencyTable.from_json(path)


# ---------------------------------------------------------------------------- the check
def test_the_same_machine_passes_quietly(tiny, monkeypatch):
    fake = FakeMachine(monkeypatch, 1.0)
    result = calibration.check_machine(tiny)
    assert (result.status, result.message, result.ratio, result.reference) == ("same", None, 1.0, "table")
    assert fake.timed == 1


@pytest.mark.parametrize("factor, status", [(1.10, "same"), (1.1001, "differs"), (0.90, "same"), (0.8999, "differs")])
def test_the_canary_tolerance_is_10_percent(tiny, monkeypatch, factor, status):
    FakeMachine(monkeypatch, factor)
    assert calibration.check_machine(tiny).status == status


def test_a_slower_machine_gets_one_warning_naming_the_difference_and_the_fix(tiny, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    result = calibration.check_machine(tiny)
    assert result.status == "differs" and result.ratio == pytest.approx(1.6)
    assert result.message == ("profile tiny-cpu's latency table (measured on Test CPU, 2 cores) does not fit this "
                              "machine: its canary runs 60% slower here (4.800 ms vs 3.000 ms), so its latencies "
                              "are likely off here (fix: ofa2 profile calibrate tiny-cpu, about a minute)")


def test_other_cpu_flags_are_named_even_when_the_canary_agrees(tiny, monkeypatch):
    FakeMachine(monkeypatch, 0.5, flags=["avx2", "sse2", "avx512f", "avx512_vnni"])
    result = calibration.check_machine(tiny)
    assert result.flags_missing == ["fma"] and result.flags_extra == ["avx512_vnni", "avx512f"]
    assert "its canary runs 50% faster here (1.500 ms vs 3.000 ms) and the CPU flags differ (this machine " \
           "lacks fma; has avx512_vnni, avx512f besides)" in result.message
    FakeMachine(monkeypatch, 1.0, flags=["avx2", "sse2"])
    result = calibration.check_machine(tiny)
    assert result.status == "differs" and "its canary" not in result.message
    assert "the CPU flags differ (this machine lacks fma)" in result.message


def test_a_table_without_a_canary_is_an_unknown_machine_with_a_note(tmp_path, monkeypatch, tiny):
    fake = FakeMachine(monkeypatch, 1.6)
    _write_table(tmp_path / "luts" / "tiny-cpu.json", canary=None, fmt="ofa2-lut/1")
    result = calibration.check_machine(tiny)
    assert result.status == "unknown" and fake.timed == 0
    assert result.message == ("profile tiny-cpu's latency table (measured on Test CPU, 2 cores) records no canary of "
                              "this version, so whether it was measured on a machine like this one is unknown; its "
                              "latencies may be off here (check: ofa2 profile validate tiny-cpu -n 20; fix: ofa2 "
                              "profile calibrate tiny-cpu)")


def test_profiles_for_another_device_are_not_checked(tmp_path, monkeypatch):
    fake = FakeMachine(monkeypatch, 1.6)
    assert calibration.check_machine("note10").status == "skipped"
    mobile = profile_dict(id="tiny-phone", device_class="mobile")
    _write_table(tmp_path / "luts" / "tiny-phone.json")
    mobile["latency"]["table"]["path"] = "luts/tiny-phone.json"
    assert calibration.check_machine(write_profile(tmp_path, mobile)).status == "skipped"
    no_measurement = profile_dict(id="tiny-other", objectives=["latency_ms", "macs_m"])
    del no_measurement["measurement"]
    _write_table(tmp_path / "luts" / "tiny-cpu.json")
    assert calibration.check_machine(write_profile(tmp_path, no_measurement)).status == "skipped"
    assert fake.timed == 0


def test_the_canary_is_timed_once_a_day_per_machine(tiny, monkeypatch):
    fake = FakeMachine(monkeypatch, 1.0)
    clock = [1_000_000.0]
    monkeypatch.setattr(machine.time, "time", lambda: clock[0])
    calibration.check_machine(tiny)
    clock[0] += machine.CANARY_TTL_S - 1
    calibration.check_machine(tiny)
    assert fake.timed == 1
    clock[0] += 1  # exactly one day after the timing: stale
    calibration.check_machine(tiny)
    assert fake.timed == 2
    other = FakeMachine(monkeypatch, 1.0, identity={**IDENTITY, "cpu": "Other CPU"})
    assert calibration.check_machine(tiny).status == "same"  # another fingerprint: its own timing
    assert other.timed == 1
    cached = json.loads((machine.machine_dir() / "canary.json").read_text())
    assert len(cached) == 2


def test_a_canary_timed_with_other_measurement_settings_is_timed_again(tiny, monkeypatch):
    """The canary cache's key holds the measurement: change any one setting and it is timed anew."""
    from types import SimpleNamespace

    from ofa2_zoo.profiles import load_profile

    fake = FakeMachine(monkeypatch, 1.0)
    profile = load_profile(tiny)
    machine.canary_here(profile)
    machine.canary_here(profile)
    assert fake.timed == 1
    m = profile.measurement
    for change in ({"threads": m.threads + 1}, {"statistic": "median" if m.statistic != "median" else "min"},
                   {"rounds": m.rounds + 1}, {"warmup": m.warmup + 1}):
        other = SimpleNamespace(id=profile.id, space=profile.space, measurement=m.model_copy(update=change))
        timed = fake.timed
        machine.canary_here(other)
        assert fake.timed == timed + 1, change
        machine.canary_here(other)
        assert fake.timed == timed + 1, change  # and then reused


def test_a_corrupt_canary_cache_is_re_timed(tiny, monkeypatch):
    fake = FakeMachine(monkeypatch, 1.0)
    machine.machine_dir().mkdir(parents=True)
    (machine.machine_dir() / "canary.json").write_text("{not json")
    assert calibration.check_machine(tiny).status == "same" and fake.timed == 1


# ---------------------------------------------------------------------------- calibrate
def test_calibrate_fits_this_machine_and_the_profile_uses_it_here_only(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    shipped = table_path.read_bytes()
    networks = _foreign_networks(monkeypatch)
    networks.table = table_path
    assert calibration.check_machine(tiny).status == "differs"

    result = calibration.calibrate_machine(tiny, 12, check=4, seed=3)
    assert table_path.read_bytes() == shipped  # the shipped table is never touched
    labels = [label for label, _ in result.rows]
    assert labels == ["table sum", "this machine's calibration"]
    assert result.rows[0][1].within_10pct == 0.0 and result.rows[1][1].within_10pct == 1.0
    stored = json.loads(result.path.read_text())
    fp = machine.fingerprint()
    assert result.path == machine.machine_dir() / "calibrations" / f"tiny-cpu-{fp}.json"
    assert stored["fingerprint"] == fp and stored["lut_sha256"] == sha256_file(table_path)
    assert stored["calibration"] == result.calibration and stored["calibration"]["archs"] == 12
    assert stored["check"]["networks"] == 4  # the held-out check, not the 12 fitted on
    assert stored["canary"]["ms"] == {k: 1.6 * v for k, v in TABLE_CANARY.items()}

    p = load_profile(tiny)
    assert p.table.meta["calibrated_by"]["fingerprint"] == fp
    genes = TINY.sample_genes(20, np.random.default_rng(0))
    raw = p.table.compile(p.space, calibrated=False).latency_genes(genes)
    np.testing.assert_allclose(p.latency_genes(genes), 1.6 * raw + 0.05, rtol=1e-4)  # a least-squares fit
    # the check now compares with the canary timed when the calibration was fitted: no warning
    check = calibration.check_machine(p)
    assert (check.status, check.reference) == ("same", f"machine:{fp}")

    # another machine (another fingerprint) does not use it, and is warned again
    FakeMachine(monkeypatch, 1.6, identity={**IDENTITY, "cpu": "Other CPU"})
    other = load_profile(tiny)
    assert "calibrated_by" not in other.table.meta
    np.testing.assert_allclose(other.latency_genes(genes), raw)
    assert calibration.check_machine(other).status == "differs"


def test_a_calibration_for_a_rebuilt_table_is_ignored(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    networks = _foreign_networks(monkeypatch)
    networks.table = tmp_path / "luts" / "tiny-cpu.json"
    calibration.calibrate_machine(tiny, 8, check=0)
    assert "calibrated_by" in load_profile(tiny).table.meta
    _write_table(tmp_path / "luts" / "tiny-cpu.json", canary=dict(TABLE_CANARY, **{CANARY_KEYS[0]: 0.6}))
    assert "calibrated_by" not in load_profile(tiny).table.meta


@pytest.mark.parametrize("change", [{"calibration": {"scale": "1.6", "offset": 0.0}},
                                    {"calibration": {"scale": 1.6, "offset": 0.0, "per_block": None}},
                                    {"canary": {"ms": {}}}, {"profile": "other"}, {"format": "x"}])
def test_a_malformed_machine_calibration_is_ignored(tiny, tmp_path, monkeypatch, change):
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    path = calibration.calibrate_machine(tiny, 8, check=0).path
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, **change}))
    assert "calibrated_by" not in load_profile(tiny).table.meta
    assert calibration.check_machine(tiny).status == "differs"  # warned again: calibrating anew replaces it


def test_calibrate_with_check_0_reports_the_fit_in_sample(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    result = calibration.calibrate_machine(tiny, 8, check=0)
    assert result.check_networks == 0 and result.rows[0][1].to_dict() == result.calibration["before"]
    assert json.loads(result.path.read_text())["check"]["networks"] == 0
    assert result.rows[1][1].to_dict() == result.calibration["after"]
    with pytest.raises(ProfileError, match=r"--check needs 0 \(compare on the fitted networks\) or at least 2"):
        calibration.calibrate_machine(tiny, 8, check=1)


def test_calibrate_reports_the_tables_own_calibration_too(tmp_path, monkeypatch, tiny):
    FakeMachine(monkeypatch, 1.6)
    _write_table(tmp_path / "luts" / "tiny-cpu.json", calibration={"scale": 1.0, "offset": 0.001})
    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    result = calibration.calibrate_machine(tiny, 12, check=4)
    assert [label for label, _ in result.rows] == ["table sum", "table's calibration (its machine)",
                                                   "this machine's calibration"]


def test_note10_cannot_be_calibrated_here():
    with pytest.raises(ProfileError, match="profile note10 cannot be calibrated on this machine: its latency does "
                                           "not come from a table measured with ofa2-zoo"):
        calibration.calibrate_machine("note10")


def test_the_objective_cache_keeps_calibrated_latencies_apart(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    before = objective_sources(load_profile(tiny), None, ["latency_ms", "macs_m"])["latency_ms"].namespace
    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    calibration.calibrate_machine(tiny, 8, check=0)
    after = objective_sources(load_profile(tiny), None, ["latency_ms", "macs_m"])["latency_ms"].namespace
    assert before != after and after.startswith(before + ":" + machine.fingerprint())


# ---------------------------------------------------------------------------- attribution
def test_front_and_explorer_say_which_machine_calibrated_the_latencies(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    front = search(tiny, population=6, generations=2, seed=1)
    raw_by = "the table measured on Test CPU, 2 cores (2026-12-01) (uncalibrated sum)"
    assert front.profile["latency_by"] == raw_by and front.profile["latency_calibration"] is None
    saved = json.loads(front.save(tmp_path / "f1").read_text())
    assert saved["profile"]["latency_by"] == raw_by
    assert explorer_data(front)["latency_by"] == raw_by

    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    result = calibration.calibrate_machine(tiny, 8, check=0)
    front = search(tiny, population=6, generations=2, seed=1)
    created = json.loads(result.path.read_text())["created"][:10]
    assert front.profile["latency_by"] == (f"the table measured on Test CPU, 2 cores (2026-12-01), calibrated on "
                                           f"machine {result.fingerprint} ({created}, 8 networks)")
    assert front.profile["latency_calibration"] == f"machine:{result.fingerprint}"


def test_a_front_without_latency_records_no_attribution(tiny, monkeypatch):
    FakeMachine(monkeypatch)
    front = search(tiny, objectives=["macs_m", "params_m"], population=6, generations=2, seed=1)
    assert "latency_by" not in front.profile


# ---------------------------------------------------------------------------- stamping a shipped table
def test_stamping_refuses_a_table_measured_elsewhere(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.0)
    monkeypatch.setattr("ofa2_zoo.profiles.calibration.machine_info", lambda: {"cpu": "Other CPU", "cores": 2})
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    before = table_path.read_bytes()
    with pytest.raises(ProfileError) as exc:
        calibration.stamp_table(tiny)
    assert str(exc.value) == (f"{table_path} was measured on Test CPU, 2 cores, not on this machine (Other CPU, 2 "
                              "cores) with the same runtimes; a canary must be timed where the table was measured "
                              "(fix: run this there, or rebuild the table here: ofa2 profile build-lut tiny-cpu)")
    assert table_path.read_bytes() == before


def test_stamping_an_old_table_adds_the_canary_and_flags(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.25)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    old_machine = {k: v for k, v in TABLE_MACHINE.items() if k != "flags"}
    _write_table(table_path, canary=None, machine_record=old_machine, fmt="ofa2-lut/1")
    entries = json.loads(table_path.read_text())["entries"]
    monkeypatch.setattr("ofa2_zoo.profiles.calibration.machine_info", lambda: dict(TABLE_MACHINE))
    path, canary = calibration.stamp_table(tiny)
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["machine"]["flags"] == FLAGS and data["entries"] == entries
    assert data["canary"]["ms"] == {k: 1.25 * v for k, v in TABLE_CANARY.items()} == canary["ms"]
    assert calibration.check_machine(tiny).status == "same"


# ---------------------------------------------------------------------------- the CLI
def _run(*args) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code


def test_search_warns_once_and_calibrate_silences_it(tiny, tmp_path, monkeypatch, capsys):
    FakeMachine(monkeypatch, 1.6)
    assert _run("search", "-p", tiny, "--population", 6, "--generations", 2, "-o", tmp_path / "s1", "--no-plot") == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "fix: ofa2 profile calibrate tiny-cpu" in " ".join(err.split())

    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    assert _run("profile", "calibrate", tiny, "-n", 12, "--check", 4, "-q") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "this machine's calibration" in out and f"for machine {machine.fingerprint()}" in out
    assert "(compared on 4 other networks, measured here)" in out

    assert _run("search", "-p", tiny, "--population", 6, "--generations", 2, "-o", tmp_path / "s2", "--no-plot") == 0
    assert "warning" not in capsys.readouterr().err
    saved = json.loads((tmp_path / "s2" / "front.json").read_text())
    assert saved["profile"]["latency_calibration"] == f"machine:{machine.fingerprint()}"


def test_package_checks_the_fronts_profile(tiny, tmp_path, monkeypatch, capsys):
    from ofa2_zoo.cli.package import _check_front
    from ofa2_zoo.errors import Ofa2Error

    FakeMachine(monkeypatch, 1.6)
    monkeypatch.setenv("OFA2_PROFILES", str(tmp_path))  # the front names its profile by id
    search(tiny, population=6, generations=2, seed=1).save(tmp_path / "front")
    _check_front(tmp_path / "front", None, None)
    assert capsys.readouterr().err.count("warning:") == 1
    with pytest.raises(Ofa2Error, match="no front at"):  # a bad front fails before packaging starts
        _check_front(tmp_path / "missing", None, None)
    assert capsys.readouterr().err == ""


def test_the_check_can_be_turned_off(tiny, tmp_path, monkeypatch, capsys):
    fake = FakeMachine(monkeypatch, 1.6)
    monkeypatch.setenv("OFA2_MACHINE_CHECK", "0")
    assert _run("search", "-p", tiny, "--population", 6, "--generations", 2, "-o", tmp_path / "s", "--no-plot") == 0
    assert "warning" not in capsys.readouterr().err and fake.timed == 0


def test_profile_show_reports_the_check_and_the_attribution(tiny, monkeypatch, capsys):
    FakeMachine(monkeypatch, 1.6)
    assert _run("profile", "show", tiny) == 0
    captured = capsys.readouterr()
    info = json.loads(captured.out)
    assert info["machine_check"]["status"] == "differs" and info["lut"]["canary"]["ms"] == TABLE_CANARY
    assert info["latency_by"] == "the table measured on Test CPU, 2 cores (2026-12-01) (uncalibrated sum)"
    assert captured.err.count("warning:") == 1


def test_profile_canary_times_afresh(tiny, monkeypatch, capsys):
    fake = FakeMachine(monkeypatch, 1.0)
    assert _run("profile", "canary", tiny) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "same"
    assert _run("profile", "canary", tiny) == 0  # not from the day's cache: timed again
    assert fake.timed == 2


def test_calibrate_cli_refuses_note10_in_one_line(capsys):
    assert _run("profile", "calibrate", "note10") == 2
    assert "error: profile note10 cannot be calibrated on this machine" in capsys.readouterr().err


def test_the_objective_cache_key_changes_with_this_machines_calibration(tiny):
    """A search's cache (``--cache``) keys latencies by the table and by the calibration in use on
    this machine: which machine fitted it and when, so a re-calibration never reads stale values."""
    from ofa2_zoo.search.evaluator import objective_sources

    def namespace(by):
        p = load_profile(tiny)
        if by is None:
            p.table.meta.pop("calibrated_by", None)
        else:
            p.table.meta["calibrated_by"] = by
        return objective_sources(p, None, ["latency_ms", "macs_m"])["latency_ms"].namespace

    first = {"fingerprint": "aaaa", "created": "2026-12-08T00:00:00+00:00"}
    names = [namespace(None), namespace(first), namespace({**first, "created": "2026-12-08T00:00:01+00:00"}),
             namespace({**first, "fingerprint": "bbbb"})]
    assert len(set(names)) == 4, names
    assert namespace(dict(first)) == names[1]  # the same calibration: the same key


# ---------------------------------------------------------------------------- an unsteady machine
def _check_networks(monkeypatch, factors, table_path):
    """The check networks 'measured' as the fitted machine's latency (1.6 x sum + 0.05) x ``factors``
    (cycled): the machine's speed changed between the fit and the check."""
    def fake(archs, space, m, **kw):
        table = LatencyTable.from_json(table_path)
        steady = 1.6 * table.compile(space, calibrated=False).latency_genes(space.archs_to_genes(archs)) + 0.05
        return steady * np.resize(np.asarray(factors, float), len(archs))

    monkeypatch.setattr(validate_mod, "measure_archs", fake)


@pytest.mark.parametrize("slow, warned", [(1, False), (2, True)])
def test_calibrate_warns_when_fewer_than_9_in_10_check_networks_agree(tiny, tmp_path, monkeypatch, capsys, slow,
                                                                      warned):
    FakeMachine(monkeypatch, 1.6)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    _foreign_networks(monkeypatch).table = table_path
    _check_networks(monkeypatch, [1.3] * slow + [1.0] * (10 - slow), table_path)  # 9 or 8 of 10 within ±10 %
    result = calibration.calibrate_machine(tiny, 12, check=10, seed=3)
    assert result.rows[-1][1].within_10pct == pytest.approx((10 - slow) / 10)
    assert result.path.is_file() and load_profile(tiny).table.meta["calibrated_by"]  # stored either way
    assert (result.warning is not None) == warned
    if warned:
        assert result.warning.startswith("only 80% of the 10 check networks are within ±10 % of this machine's "
                                         "calibration")
        assert "speed probably changed while measuring" in result.warning
        assert "`ofa2 profile calibrate tiny-cpu` again when the machine is idle" in result.warning
    # the CLI prints it as one warning on stderr
    capsys.readouterr()
    assert _run("profile", "calibrate", tiny, "-n", 12, "--check", 10, "--seed", 3, "-q") == 0
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("warning:") == int(warned) and ("only 80% of the 10 check networks" in err) == warned


def test_calibrate_stores_nothing_when_it_predicts_the_check_worse_than_the_table(tiny, tmp_path, monkeypatch,
                                                                                    capsys):
    FakeMachine(monkeypatch, 1.6)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    _foreign_networks(monkeypatch).table = table_path
    _check_networks(monkeypatch, [0.55], table_path)  # the check ran nearly twice as fast: the table sum is closer
    with pytest.raises(ProfileError, match=r"the calibration fitted here predicts the 4 check networks worse than "
                                           r"the table sum does \(MAPE [\d.]+ % vs [\d.]+ %\), so it was not stored"):
        calibration.calibrate_machine(tiny, 12, check=4, seed=3)
    assert not machine.calibration_path(load_profile(tiny)).exists()
    assert "calibrated_by" not in load_profile(tiny).table.meta
    assert _run("profile", "calibrate", tiny, "-n", 12, "--check", 4, "--seed", 3) == 2
    assert "so it was not stored" in " ".join(capsys.readouterr().err.split())


def _exact_table_and_slower_fit_networks(monkeypatch, tmp_path, slow: float) -> None:
    """A foreign machine (1.6 x the table sum + 0.05 ms) whose table carries that exact calibration; the
    check networks are measured at that speed, the fitted ones ``slow`` x slower."""
    FakeMachine(monkeypatch, 1.6)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    _write_table(table_path, calibration={"scale": 1.6, "offset": 0.05 + 1.6 * 0.001})  # exact
    _check_networks(monkeypatch, [1.0], table_path)
    monkeypatch.setattr(build_mod, "measure_archs", lambda archs, space, m, **kw: slow * (
        1.6 * LatencyTable.from_json(table_path).compile(space, calibrated=False).latency_genes(
            space.archs_to_genes(archs)) + 0.05))


def test_calibrate_stores_a_good_calibration_even_when_the_tables_own_is_better(tiny, tmp_path, monkeypatch):
    """Refused only when it misses the target too: a calibration within ±10 % on every check network
    is stored, although the table's own (here exact) calibration predicts them better still."""
    _exact_table_and_slower_fit_networks(monkeypatch, tmp_path, 1.05)
    result = calibration.calibrate_machine(tiny, 12, check=4, seed=3)
    own, mine = result.rows[1][1], result.rows[2][1]
    assert own.mape < mine.mape and mine.within_10pct == 1.0
    assert result.path.is_file() and result.warning is None


@pytest.mark.parametrize("factor, note", [(1.05, None), (1.06, "6% slower"), (0.94, "6% faster"), (1.0, None)])
def test_validate_notes_how_much_the_machines_speed_changed_since_its_calibration(tiny, tmp_path, monkeypatch, capsys,
                                                                                 factor, note):
    FakeMachine(monkeypatch, 1.6)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    _foreign_networks(monkeypatch, scale=1.6, offset=0.0).table = table_path
    calibration.calibrate_machine(tiny, 12, check=4, seed=3)
    # now whole networks take `factor` x as long
    monkeypatch.setattr(validate_mod, "measure_archs", lambda archs, space, m, **kw: factor * 1.6 * LatencyTable
                        .from_json(table_path).compile(space, calibrated=False).latency_genes(space.archs_to_genes(archs)))
    report = validate_mod.validate_profile(load_profile(tiny), 6, seed=5, extremes=False)
    assert report.speed_vs_calibration == pytest.approx(factor, rel=1e-9)
    assert validate_mod.validate_profile(load_profile(tiny), 6, seed=5, calibrate=8,  # a fresh fit: no comparison
                                         extremes=False).speed_vs_calibration is None
    assert _run("profile", "validate", tiny, "-n", 6, "--seed", 5, "-q") == 0
    err = " ".join(capsys.readouterr().err.split())
    if note is None:
        assert "note:" not in err
    else:
        assert err.count("note:") == 1 and f"whole networks run about {note} here now than when this machine's " \
                                           "calibration was checked" in err


def test_validate_makes_no_speed_comparison_without_a_checked_calibration(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    _foreign_networks(monkeypatch, scale=1.6, offset=0.0).table = table_path
    assert validate_mod.validate_profile(load_profile(tiny), 6, seed=5).speed_vs_calibration is None  # none stored
    calibration.calibrate_machine(tiny, 12, check=0)  # compared on the fitted networks only
    assert load_profile(tiny).table.meta["calibrated_by"]
    assert validate_mod.validate_profile(load_profile(tiny), 6, seed=5).speed_vs_calibration is None


def test_calibrate_stores_nothing_when_the_tables_own_calibration_predicts_the_check_better(tiny, tmp_path,
                                                                                          monkeypatch):
    """The best row compared with is the one of least MAPE, here the table's own calibration (exact), not
    the table sum: a calibration fitted while the machine ran 20 % slow misses the check and is refused."""
    _exact_table_and_slower_fit_networks(monkeypatch, tmp_path, 1.2)
    with pytest.raises(ProfileError, match=r"predicts the 4 check networks worse than the table's calibration "
                                           r"\(its machine\) does \(MAPE 20\.0 % vs 0\.0 %\), so it was not stored"):
        calibration.calibrate_machine(tiny, 12, check=4, seed=3)
    assert not machine.calibration_path(load_profile(tiny)).exists()


def test_calibrate_without_check_networks_never_warns_about_them(tiny, tmp_path, monkeypatch, capsys):
    """--check 0 compares on the fitted networks: however noisy they are, there is no check to warn about."""
    FakeMachine(monkeypatch, 1.6)
    table_path = tmp_path / "luts" / "tiny-cpu.json"
    noise = np.resize([1.0, 1.3, 0.75], 12)
    monkeypatch.setattr(build_mod, "measure_archs", lambda archs, space, m, **kw: noise[:len(archs)] * (
        1.6 * LatencyTable.from_json(table_path).compile(space, calibrated=False).latency_genes(
            space.archs_to_genes(archs)) + 0.05))
    result = calibration.calibrate_machine(tiny, 12, check=0)
    assert result.rows[-1][1].within_10pct < calibration.CHECK_TARGET  # the fitted networks agree badly ...
    assert result.warning is None and result.path.is_file()  # ... but nothing was checked
    assert _run("profile", "calibrate", tiny, "-n", 12, "--check", 0, "-q") == 0
    assert "warning:" not in capsys.readouterr().err


def test_the_objective_cache_key_changes_with_the_table_file_alone(tiny, tmp_path):
    """A table re-measured (or re-calibrated) under the same profile file: the profile's own sha256 stays,
    the table's changes, and so does the cache key, so a search's --cache never returns the old latencies."""
    from ofa2_zoo.search.evaluator import objective_sources

    before = load_profile(tiny)
    key = objective_sources(before, None, ["latency_ms", "macs_m"])["latency_ms"].namespace
    _write_table(tmp_path / "luts" / "tiny-cpu.json", calibration={"scale": 2.0, "offset": 0.0})
    after = load_profile(tiny)
    assert after.sha256 == before.sha256 and after.lut_sha256 != before.lut_sha256
    assert objective_sources(after, None, ["latency_ms", "macs_m"])["latency_ms"].namespace != key


def test_right_after_calibrating_the_check_compares_with_the_canary_timed_for_it(tiny, tmp_path, monkeypatch):
    """The canary calibrate times is also this machine's cached canary: a slower moment before calibrating
    (cached for a day) must not bring the warning back right after calibrating."""
    FakeMachine(monkeypatch, 1.6)
    assert calibration.check_machine(tiny).status == "differs"  # caches a canary at 1.6 x the table's
    fake = FakeMachine(monkeypatch, 2.0)  # the same machine, slower now
    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    calibration.calibrate_machine(tiny, 8, check=0)
    check = calibration.check_machine(tiny)
    assert (check.status, check.ratio, fake.timed) == ("same", pytest.approx(1.0), 1)  # timed once, for the calibration


def test_right_after_stamping_the_check_compares_with_the_stamped_canary(tiny, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    calibration.check_machine(tiny)  # caches a canary at 1.6 x the table's
    FakeMachine(monkeypatch, 1.0, identity={**IDENTITY})
    calibration.stamp_table(tiny, force=True)
    check = calibration.check_machine(tiny)
    assert (check.status, check.ratio) == ("same", pytest.approx(1.0))


def test_the_attribution_of_a_machine_calibration_says_only_what_is_recorded(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = tmp_path / "luts" / "tiny-cpu.json"
    path = calibration.calibrate_machine(tiny, 8, check=0).path
    fp = machine.fingerprint()
    measured = "the table measured on Test CPU, 2 cores (2026-12-01), calibrated on machine " + fp
    data = json.loads(path.read_text())
    for created, archs, tail in ((data["created"], 8, f" ({data['created'][:10]}, 8 networks)"),
                                 (None, 8, " (8 networks)"), (data["created"], None, f" ({data['created'][:10]})"),
                                 (None, None, "")):
        record = {**data, "created": created, "calibration": {**data["calibration"], "archs": archs}}
        path.write_text(json.dumps({k: v for k, v in record.items() if v is not None}))
        assert calibration.latency_attribution(load_profile(tiny))["latency_by"] == measured + tail
