"""More on tables that travel between machines (issue 26): the exact words of the machine check,
of ``ofa2 profile calibrate`` and of the latency attribution, the record a calibration stores,
and the decisions at their boundaries.

Like ``test_profiles_machine.py`` (whose fixtures and fakes these tests reuse), a foreign machine
is simulated by faking its identity, CPU flags and canary timings, and the networks measured for
a calibration: nothing here depends on real timings.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

import ofa2_zoo.profiles.build as build_mod
import ofa2_zoo.profiles.calibration as calibration
import ofa2_zoo.profiles.machine as machine
import ofa2_zoo.profiles.validate as validate_mod
from _profiles_helpers import TINY, profile_dict, write_profile
from ofa2_zoo._io import sha256_file
from ofa2_zoo.profiles import ProfileError, load_profile
from ofa2_zoo.profiles.agreement import Agreement
from ofa2_zoo.profiles.lut import FORMAT, LatencyTable
from test_profiles_machine import (CANARY_KEYS, FLAGS, IDENTITY, TABLE_CANARY, TABLE_MACHINE, FakeMachine,  # noqa: F401
                                   _check_networks, _foreign_networks, _write_table, tiny)

UNSTEADY = ("the machine's speed probably changed while measuring (another process, a throttled or shared virtual "
            "machine), so the fitted networks and the check networks disagree")
DIFFERS_TAIL = ", so its latencies are likely off here (fix: ofa2 profile calibrate tiny-cpu, about a minute)"
TABLE_WHAT = "profile tiny-cpu's latency table (measured on Test CPU, 2 cores)"


class ProfileTimedMachine(FakeMachine):
    """A :class:`FakeMachine` whose canary, like the real one, times the operators of the profile's
    own space (so the canary needs the profile it is timed for)."""

    def measure(self, profile):
        self.timed += 1
        return {op.key: TABLE_CANARY[op.key] * self.factor for op in machine.canary_ops(profile.space)}


def _table_path(tmp_path):
    return tmp_path / "luts" / "tiny-cpu.json"


def _steady(archs, space, table_path):
    """Whole networks on the foreign machine: 1.6 x the table sum + 0.05 ms (as ``_foreign_networks``)."""
    table = LatencyTable.from_json(table_path)
    return 1.6 * table.compile(space, calibrated=False).latency_genes(space.archs_to_genes(archs)) + 0.05


def _recording_networks(monkeypatch, table_path):
    """Like ``_foreign_networks``, and it records which networks were measured for the fit and for the
    check, and reports progress as ``measure_archs`` does (once per chunk: distinct networks done, all)."""
    seen = {"fit": [], "check": []}

    def measuring(step):
        def fake(archs, space, m, progress=None, **kw):
            seen[step].append([a.to_string() for a in archs])
            if progress:
                distinct = len(set(archs))
                progress("measuring", distinct, distinct)
            return _steady(archs, space, table_path)
        return fake

    monkeypatch.setattr(build_mod, "measure_archs", measuring("fit"))
    monkeypatch.setattr(validate_mod, "measure_archs", measuring("check"))
    return seen


# ---------------------------------------------------------------------------- the check: its result
def test_every_check_result_names_its_profile_and_what_it_compared_with(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.0)
    skipped = calibration.check_machine("note10")
    assert skipped.to_dict() == {"profile": "note10", "status": "skipped", "message": None, "ratio": None,
                                 "flags_missing": [], "flags_extra": [], "reference": None}
    same = calibration.check_machine(tiny)
    assert same.to_dict() == {"profile": "tiny-cpu", "status": "same", "message": None, "ratio": 1.0,
                              "flags_missing": [], "flags_extra": [], "reference": "table"}
    FakeMachine(monkeypatch, 1.6)
    differs = calibration.check_machine(tiny, ttl=0)
    assert (differs.profile, differs.status, differs.reference) == ("tiny-cpu", "differs", "table")
    _write_table(_table_path(tmp_path), canary=None, fmt="ofa2-lut/1")
    unknown = calibration.check_machine(tiny)
    assert (unknown.profile, unknown.status, unknown.reference, unknown.ratio) == ("tiny-cpu", "unknown", "table",
                                                                                   None)


def test_a_canary_of_another_version_is_unknown_too(tiny, tmp_path, monkeypatch):
    """A canary timed on other operators (an older canary definition) cannot be compared."""
    fake = FakeMachine(monkeypatch, 1.0)
    _write_table(_table_path(tmp_path), canary={**{k: 1.0 for k in CANARY_KEYS[:2]}, "Conv_old": 1.0})
    result = calibration.check_machine(tiny)
    assert (result.status, result.reference, fake.timed) == ("unknown", "table", 0)
    assert result.message.startswith(f"{TABLE_WHAT} records no canary of this version")


# ---------------------------------------------------------------------------- the check: CPU flags
AVX512 = ["avx512_vnni", "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl"]  # sorted


@pytest.mark.parametrize("table_flags, here_flags, text", [
    (FLAGS, FLAGS + ["avx512f"], "has avx512f besides"),
    (FLAGS + AVX512[:5], FLAGS, "this machine lacks avx512_vnni, avx512bw, avx512cd, avx512dq, avx512f"),
    (FLAGS + AVX512, FLAGS, "this machine lacks avx512_vnni, avx512bw, avx512cd, avx512dq, avx512f and 1 more"),
    (FLAGS, FLAGS + AVX512[:5], "has avx512_vnni, avx512bw, avx512cd, avx512dq, avx512f besides"),
    (FLAGS, FLAGS + AVX512, "has avx512_vnni, avx512bw, avx512cd, avx512dq, avx512f and 1 more besides"),
    (FLAGS + AVX512 + ["sha_ni"], ["avx2"], "this machine lacks avx512_vnni, avx512bw, avx512cd, avx512dq, avx512f "
                                            "and 4 more"),
    (["fma"] + AVX512[:2], ["avx2", "fma", "sse2"] + AVX512[2:],
     "this machine lacks avx512_vnni, avx512bw; has avx2, avx512cd, avx512dq, avx512f, avx512vl and 1 more besides"),
])
def test_other_cpu_flags_are_named_five_at_most(tiny, tmp_path, monkeypatch, table_flags, here_flags, text):
    """At most five flags are named per side, then how many more: the warning stays one line."""
    _write_table(_table_path(tmp_path), machine_record={**TABLE_MACHINE, "flags": table_flags})
    FakeMachine(monkeypatch, 1.0, flags=here_flags)
    result = calibration.check_machine(tiny)
    assert result.status == "differs" and result.ratio == 1.0
    assert result.flags_missing == sorted(set(table_flags) - set(here_flags))
    assert result.flags_extra == sorted(set(here_flags) - set(table_flags))
    assert result.message == f"{TABLE_WHAT} does not fit this machine: the CPU flags differ ({text}){DIFFERS_TAIL}"


def test_a_faster_canary_and_other_flags_are_one_warning(tiny, monkeypatch):
    FakeMachine(monkeypatch, 0.75, flags=["avx2", "sse2", "avx512f"])
    result = calibration.check_machine(tiny)
    assert result.message == (f"{TABLE_WHAT} does not fit this machine: its canary runs 25% faster here (2.250 ms vs "
                              "3.000 ms) and the CPU flags differ (this machine lacks fma; has avx512f besides)"
                              f"{DIFFERS_TAIL}")


@pytest.mark.parametrize("record, where", [({"cpu": "Test CPU", "cores": 2}, "Test CPU, 2 cores"),
                                           (None, "an unrecorded machine")])
def test_a_table_without_cpu_flags_is_compared_by_its_canary_alone(tiny, tmp_path, monkeypatch, record, where):
    """Tables stamped before flags were recorded (or with no machine record at all) still have a canary."""
    _write_table(_table_path(tmp_path), machine_record=record)
    FakeMachine(monkeypatch, 1.0, flags=["avx2", "avx512f"])
    result = calibration.check_machine(tiny)
    assert (result.status, result.flags_missing, result.flags_extra) == ("same", [], [])
    FakeMachine(monkeypatch, 1.5, flags=["avx2", "avx512f"])
    result = calibration.check_machine(tiny, ttl=0)
    assert result.message == (f"profile tiny-cpu's latency table (measured on {where}) does not fit this machine: its "
                              f"canary runs 50% slower here (4.500 ms vs 3.000 ms){DIFFERS_TAIL}")


# ---------------------------------------------------------------------------- the check: after calibrating
def test_a_calibrated_machine_is_checked_against_the_canary_of_its_calibration(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = _table_path(tmp_path)
    fp = calibration.calibrate_machine(tiny, 8, check=0).fingerprint
    assert calibration.check_machine(tiny, ttl=0).to_dict() == {
        "profile": "tiny-cpu", "status": "same", "message": None, "ratio": 1.0, "flags_missing": [],
        "flags_extra": [], "reference": f"machine:{fp}"}
    FakeMachine(monkeypatch, 2.0)  # the machine got slower since (same identity: the same calibration applies)
    result = calibration.check_machine(tiny, ttl=0)
    assert (result.profile, result.status, result.reference) == ("tiny-cpu", "differs", f"machine:{fp}")
    assert result.ratio == pytest.approx(2.0 / 1.6)
    assert result.message == ("this machine's calibration does not fit this machine: its canary runs 25% slower here "
                              f"(6.000 ms vs 4.800 ms){DIFFERS_TAIL}")


def test_a_profile_loaded_before_the_machine_changed_is_checked_against_the_calibration_it_uses(
        tiny, tmp_path, monkeypatch):
    """A profile loaded on machine A (with A's calibration) and checked after the machine changed (a
    virtual machine moved to a host with AVX-512: another fingerprint) is compared with A's stored
    calibration, whose CPU flags it names, not with whatever is stored for the new fingerprint."""
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = _table_path(tmp_path)
    fp = calibration.calibrate_machine(tiny, 8, check=0).fingerprint
    loaded = load_profile(tiny)
    assert loaded.table.meta["calibrated_by"]["fingerprint"] == fp
    FakeMachine(monkeypatch, 1.6, flags=FLAGS + ["avx512f"])
    assert machine.fingerprint() != fp
    result = calibration.check_machine(loaded)
    assert (result.status, result.reference, result.flags_extra) == ("differs", f"machine:{fp}", ["avx512f"])
    assert result.message == ("this machine's calibration does not fit this machine: the CPU flags differ (has avx512f "
                              f"besides){DIFFERS_TAIL}")


def test_a_calibration_without_a_canary_of_this_version_is_unknown(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = _table_path(tmp_path)
    result = calibration.calibrate_machine(tiny, 8, check=0)
    data = json.loads(result.path.read_text())
    data["canary"]["ms"] = {"Conv_old": 1.0}  # well-formed, but timed on other operators
    result.path.write_text(json.dumps(data))
    check = calibration.check_machine(tiny)
    assert (check.status, check.reference) == ("unknown", f"machine:{result.fingerprint}")
    assert check.message == ("this machine's calibration records no canary of this version, so whether it was "
                             "measured on a machine like this one is unknown; its latencies may be off here (check: "
                             "ofa2 profile validate tiny-cpu -n 20; fix: ofa2 profile calibrate tiny-cpu)")


# ---------------------------------------------------------------------------- calibrate: the stored record
def test_calibrate_with_its_defaults_stores_a_complete_record(tiny, tmp_path, monkeypatch):
    """30 fitted networks, 10 check networks, seed 1; every field of the record read back."""
    ProfileTimedMachine(monkeypatch, 1.6)
    info = {**TABLE_MACHINE, "os": "Linux-test", "python": "3.11.7"}
    monkeypatch.setattr(calibration, "machine_info", lambda: dict(info))
    seen = _recording_networks(monkeypatch, _table_path(tmp_path))
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    result = calibration.calibrate_machine(tiny)
    after = dt.datetime.now(dt.timezone.utc)
    assert [len(archs) for archs in seen["fit"]] == [30] and [len(archs) for archs in seen["check"]] == [10]

    fp = machine.fingerprint(IDENTITY)
    assert result.path == machine.machine_dir() / "calibrations" / f"tiny-cpu-{fp}.json"
    assert (result.fingerprint, result.check_networks, result.warning) == (fp, 10, None)
    record = json.loads(result.path.read_text())
    assert set(record) == {"format", "profile", "lut_sha256", "fingerprint", "machine", "created", "canary",
                           "calibration", "check"}
    assert record["format"] == "ofa2-machine-calibration/1" and record["profile"] == "tiny-cpu"
    assert record["lut_sha256"] == sha256_file(_table_path(tmp_path)) and record["fingerprint"] == fp
    assert record["machine"] == info
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["created"]), record["created"]
    assert before <= dt.datetime.fromisoformat(record["created"]) <= after
    assert record["canary"]["ms"] == pytest.approx({k: 1.6 * v for k, v in TABLE_CANARY.items()})
    assert record["canary"]["total_ms"] == pytest.approx(4.8)
    settings = record["canary"]["measurement"]
    assert settings["min_seconds"] <= machine.CANARY_MAX_SECONDS
    assert {k: settings[k] for k in ("backend", "threads", "warmup", "repeats", "rounds", "statistic")} == {
        "backend": "onnxruntime", "threads": 1, "warmup": 2, "repeats": 20, "rounds": 2, "statistic": "min"}
    assert record["calibration"] == result.calibration and record["calibration"]["archs"] == 30
    labels = ["table sum", "this machine's calibration"]
    assert [label for label, _ in result.rows] == labels
    assert record["check"] == {"networks": 10, "seed": 1,
                               "agreement": {label: a.to_dict() for label, a in result.rows}}
    assert record["check"]["agreement"]["this machine's calibration"]["within_10pct"] == 1.0


def test_calibrate_on_the_fitted_networks_labels_its_rows_and_records_its_seed(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = _table_path(tmp_path)
    result = calibration.calibrate_machine(tiny, 8, check=0, seed=7)
    assert [label for label, _ in result.rows] == ["table sum", "this machine's calibration"]
    check = json.loads(result.path.read_text())["check"]
    assert check == {"networks": 0, "seed": 7, "agreement": {"table sum": result.calibration["before"],
                                                             "this machine's calibration": result.calibration["after"]}}


@pytest.mark.parametrize("check", [0, 4])
def test_the_seed_picks_the_networks_calibrate_measures(tiny, tmp_path, monkeypatch, check):
    """The same seed measures the same networks again (a reproducible calibration), another seed others."""
    FakeMachine(monkeypatch, 1.6)

    def networks(seed):
        seen = _recording_networks(monkeypatch, _table_path(tmp_path))
        calibration.calibrate_machine(tiny, 8, check=check, seed=seed)
        return seen

    first, again, other = networks(3), networks(3), networks(4)
    assert first == again
    assert first["fit"] != other["fit"]
    if check:
        assert first["check"] != other["check"]


def test_the_check_networks_are_those_validate_measures_for_the_seed(tiny, tmp_path, monkeypatch):
    """``calibrate --check 4 --seed 3`` compares on the networks ``validate -n 4 --seed 3 --calibrate``
    measures (and only those: not the smallest and largest networks validate adds by default)."""
    FakeMachine(monkeypatch, 1.6)
    seen = _recording_networks(monkeypatch, _table_path(tmp_path))
    calibration.calibrate_machine(tiny, 8, check=4, seed=3)
    report = validate_mod.validate_profile(load_profile(tiny), 4, seed=3, calibrate=8, extremes=False)
    assert len(seen["check"]) == 2 and seen["check"][0] == seen["check"][1] == report.archs


def test_calibrate_reports_the_progress_of_the_check_networks(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    seen = _recording_networks(monkeypatch, _table_path(tmp_path))
    steps = []
    calibration.calibrate_machine(tiny, 8, check=4, seed=3, progress=lambda *step: steps.append(step))
    distinct = len(set(seen["check"][0]))
    assert steps == [("measuring", distinct, distinct)] and distinct == 4


def test_check_1_is_refused_in_so_many_words(tiny, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    with pytest.raises(ProfileError) as exc:
        calibration.calibrate_machine(tiny, 8, check=1)
    assert str(exc.value) == "--check needs 0 (compare on the fitted networks) or at least 2 networks"
    assert not machine.calibration_path(load_profile(tiny)).exists()


# ---------------------------------------------------------------------------- calibrate: warning and refusal
def test_the_unsteady_machine_warning_word_for_word(tiny, tmp_path, monkeypatch):
    """2 of 10 check networks run 1.3 x slower than the machine the calibration was fitted on: each is
    predicted 1 / 1.3 - 1 = -23.1 % off, a bias of -4.6 % over the ten."""
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = _table_path(tmp_path)
    _check_networks(monkeypatch, [1.3] * 2 + [1.0] * 8, _table_path(tmp_path))
    result = calibration.calibrate_machine(tiny, 12, check=10, seed=3)
    assert result.warning == (f"only 80% of the 10 check networks are within ±10 % of this machine's calibration (bias "
                              f"-4.6 %): {UNSTEADY}; it is stored, as it predicts them better than the table, but run "
                              "`ofa2 profile calibrate tiny-cpu` again when the machine is idle (or with more networks, "
                              "-n 60)")


def test_a_poor_calibration_of_the_tables_own_machine_does_not_warn(tiny, tmp_path, monkeypatch):
    """The warning is about the calibration fitted here: the table's own one (fitted on its machine,
    so off here) misses the target, this machine's does not, and nothing is said."""
    FakeMachine(monkeypatch, 1.6)
    _write_table(_table_path(tmp_path), calibration={"scale": 1.0, "offset": 0.001})
    _foreign_networks(monkeypatch).table = _table_path(tmp_path)
    result = calibration.calibrate_machine(tiny, 12, check=4, seed=3)
    (_, table_sum), (_, own), (_, mine) = result.rows
    assert own.within_10pct == 0.0 and mine.within_10pct == 1.0
    assert result.warning is None and result.path.is_file()


def _agreement(within: float, mape: float) -> Agreement:
    return Agreement(within_10pct=within, mape=mape, kendall_tau=0.9, bias=0.0)


@pytest.mark.parametrize("within, mape, refused", [
    (0.9, 20.0, False),  # on the target: stored, however much better the table predicts
    (0.89, 20.0, True),  # just below it
    (0.0, 5.0, False),  # as good as the table sum: stored (with the warning)
    (0.0, 5.01, True),  # just worse
    (0.0, 4.99, False),
])
def test_a_calibration_is_refused_only_below_the_target_and_worse_than_the_table(tiny, within, mape, refused):
    rows = [("table sum", _agreement(0.5, 5.0)), ("this machine's calibration", _agreement(within, mape))]
    if not refused:
        assert calibration._refuse_a_worse_calibration(load_profile(tiny), rows, 10) is None
        return
    with pytest.raises(ProfileError) as exc:
        calibration._refuse_a_worse_calibration(load_profile(tiny), rows, 10)
    assert str(exc.value) == (f"the calibration fitted here predicts the 10 check networks worse than the table sum "
                              f"does (MAPE {mape:.1f} % vs 5.0 %), so it was not stored: {UNSTEADY} (fix: run `ofa2 "
                              "profile calibrate tiny-cpu` again when the machine is idle, or with more networks, "
                              "-n 60)")


@pytest.mark.parametrize("sum_mape, own_mape, best", [(5.0, 8.0, "table sum"),
                                                      (8.0, 5.0, "table's calibration (its machine)")])
def test_the_new_calibration_is_compared_with_the_better_of_the_tables_predictions(tiny, sum_mape, own_mape, best):
    rows = [("table sum", _agreement(0.5, sum_mape)), ("table's calibration (its machine)", _agreement(0.6, own_mape)),
            ("this machine's calibration", _agreement(0.5, 6.0))]
    with pytest.raises(ProfileError, match=re.escape(f"worse than the {best} does (MAPE 6.0 % vs 5.0 %)")):
        calibration._refuse_a_worse_calibration(load_profile(tiny), rows, 4)
    rows[-1] = ("this machine's calibration", _agreement(0.5, 4.0))  # better than both: stored
    assert calibration._refuse_a_worse_calibration(load_profile(tiny), rows, 4) is None


# ---------------------------------------------------------------------------- latency attribution
def test_attribution_of_a_profile_that_measures_every_network(tmp_path):
    measured = load_profile(write_profile(tmp_path, profile_dict(id="tiny-measured", objectives=["latency_ms", "macs_m"],
                                                                 latency={"source": "measure"})))
    assert calibration.latency_attribution(measured) == {
        "latency_by": "measured network by network on the machine that ran the search", "latency_calibration": None}


def test_attribution_of_ofas_published_tables():
    assert calibration.latency_attribution(load_profile("note10")) == {
        "latency_by": "OFA's published lookup table (note10)", "latency_calibration": None}


def test_attribution_of_a_table_with_its_own_calibration(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    _write_table(_table_path(tmp_path), calibration={"scale": 1.2, "offset": 0.001})
    assert calibration.latency_attribution(load_profile(tiny)) == {
        "latency_by": "the table measured on Test CPU, 2 cores (2026-12-01), with its calibration from that machine",
        "latency_calibration": "table"}


def test_attribution_of_a_table_without_a_date(tiny, tmp_path, monkeypatch):
    FakeMachine(monkeypatch, 1.6)
    path = _table_path(tmp_path)
    data = json.loads(path.read_text())
    del data["created"]
    path.write_text(json.dumps(data))
    assert calibration.latency_attribution(load_profile(tiny)) == {
        "latency_by": "the table measured on Test CPU, 2 cores (uncalibrated sum)", "latency_calibration": None}


def test_attribution_of_a_machine_calibration_without_a_date(tiny, tmp_path, monkeypatch):
    """A stored calibration without its ``created`` date (hand-edited) is still named by machine and
    network count, and no date is made up."""
    FakeMachine(monkeypatch, 1.6)
    _foreign_networks(monkeypatch).table = _table_path(tmp_path)
    result = calibration.calibrate_machine(tiny, 8, check=0)
    data = json.loads(result.path.read_text())
    del data["created"]
    result.path.write_text(json.dumps(data))
    by = calibration.latency_attribution(load_profile(tiny))
    head = f"the table measured on Test CPU, 2 cores (2026-12-01), calibrated on machine {result.fingerprint} ("
    assert by["latency_calibration"] == f"machine:{result.fingerprint}" and by["latency_by"].startswith(head)
    assert re.fullmatch(r"\W*8 networks\)", by["latency_by"][len(head):]), by["latency_by"]


# ---------------------------------------------------------------------------- stamping
def test_stamping_refuses_a_profile_without_an_ofa2_table(monkeypatch):
    fake = FakeMachine(monkeypatch, 1.0)
    with pytest.raises(ProfileError) as exc:
        calibration.stamp_table("note10")
    assert str(exc.value) == ("profile note10 cannot be timed on this machine: its latency does not come from a table "
                              "measured with ofa2-zoo")
    assert fake.timed == 0


def test_stamping_keeps_the_tables_machine_record_and_adds_the_flags(tiny, tmp_path, monkeypatch):
    ProfileTimedMachine(monkeypatch, 1.25)
    table_path = _table_path(tmp_path)
    old_machine = {k: v for k, v in TABLE_MACHINE.items() if k != "flags"}
    _write_table(table_path, canary=None, machine_record=old_machine, fmt="ofa2-lut/1")
    monkeypatch.setattr(calibration, "machine_info", lambda: dict(TABLE_MACHINE))
    path, canary = calibration.stamp_table(tiny)
    data = json.loads(path.read_text())
    assert data["machine"] == {**old_machine, "flags": FLAGS}
    assert data["canary"] == canary and canary["ms"] == pytest.approx({k: 1.25 * v for k, v in TABLE_CANARY.items()})
    assert data["format"] == FORMAT and data["created"] == "2026-12-01T00:00:00+00:00"


def test_stamping_a_table_measured_elsewhere_with_force(tiny, tmp_path, monkeypatch):
    """``--force`` stamps it anyway: the canary and CPU flags of this machine, the table's own record kept."""
    ProfileTimedMachine(monkeypatch, 1.0, flags=["avx2", "avx512f"])
    monkeypatch.setattr(calibration, "machine_info", lambda: {"cpu": "Other CPU", "cores": 2})
    path, canary = calibration.stamp_table(tiny, force=True)
    data = json.loads(path.read_text())
    assert data["machine"] == {**TABLE_MACHINE, "flags": ["avx2", "avx512f"]}
    assert data["canary"]["ms"] == pytest.approx(TABLE_CANARY)
    assert calibration.check_machine(tiny).status == "same"
