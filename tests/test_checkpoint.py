"""Official checkpoint import (both key spellings), safetensors files, and refusals."""

import hashlib
import os
import pickle

import pytest
import torch

from _oracle import ofa_supernet, randomise
from ofa2_zoo import CheckpointError, load_supernet, save_supernet


def _official_old_layout(state):
    """The older spelling: `mobile_inverted_conv`, un-nested `.bn.`/`.conv.`/`.linear.`."""
    out = {}
    for k, v in state.items():
        if k.startswith("blocks."):
            k = k.replace(".conv.", ".mobile_inverted_conv.", 1)
        k = k.replace(".bn.bn.", ".bn.").replace(".conv.conv.weight", ".conv.weight").replace(".linear.linear.", ".linear.")
        out[k] = v
    return out


@pytest.fixture(scope="module")
def reference():
    net = load_supernet("ofa_mbv3_w1.0")
    randomise(net, seed=7)
    return net


@pytest.mark.parametrize("spelling", ["conv", "mobile_inverted_conv"])
def test_official_checkpoint_loads_in_both_spellings(tmp_path, reference, spelling):
    state = reference.state_dict()
    if spelling == "mobile_inverted_conv":
        state = _official_old_layout(state)
        assert any(".mobile_inverted_conv." in k for k in state)
        assert "blocks.1.mobile_inverted_conv.inverted_bottleneck.bn.weight" in state
    path = tmp_path / "ofa_mbv3_d234_e346_k357_w1.0"
    torch.save({"state_dict": state, "epoch": 180, "best_acc": 77.1}, path)
    net = load_supernet("ofa_mbv3_w1.0", weights=path)
    for k, v in reference.state_dict().items():
        assert torch.equal(net.state_dict()[k], v), k
    assert net.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_oracle_reads_what_we_read(tmp_path, reference):
    """The `ofa` package's own loader accepts the same old-layout file and agrees."""
    path = tmp_path / "ck"
    torch.save({"state_dict": _official_old_layout(reference.state_dict())}, path)
    theirs = ofa_supernet(1.0)
    theirs.load_state_dict(torch.load(path, weights_only=True)["state_dict"])
    ours = load_supernet("ofa_mbv3_w1.0", weights=path)
    for k, v in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), k


def test_safetensors_round_trip_records_the_space(tmp_path, reference):
    path = tmp_path / "w.safetensors"
    save_supernet(reference, path)
    net = load_supernet("ofa_mbv3_w1.0", weights=path)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), reference.state_dict().values()))
    with pytest.raises(CheckpointError, match="space 'ofa_mbv3_w1.0', not 'ofa_mbv3_w1.2'"):
        load_supernet("ofa_mbv3_w1.2", weights=path)
    assert not list(tmp_path.glob(".*.tmp"))


def test_truncated_file_is_refused(tmp_path, reference):
    good = tmp_path / "good"
    torch.save({"state_dict": reference.state_dict()}, good)
    bad = tmp_path / "truncated"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_supernet("ofa_mbv3_w1.0", weights=bad)


def test_wrong_shape_names_the_key(tmp_path, reference):
    state = dict(reference.state_dict())
    state["blocks.3.conv.point_linear.conv.conv.weight"] = torch.zeros(3, 3, 1, 1)
    path = tmp_path / "ck"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointError, match=r"shape mismatch for 'blocks.3.conv.point_linear.conv.conv.weight'"):
        load_supernet("ofa_mbv3_w1.0", weights=path)


def test_missing_and_unexpected_keys_are_named(tmp_path, reference):
    state = dict(reference.state_dict())
    del state["final_expand_layer.bn.weight"]
    torch.save({"state_dict": state}, tmp_path / "missing")
    with pytest.raises(CheckpointError, match="missing key 'final_expand_layer.bn.weight'"):
        load_supernet("ofa_mbv3_w1.0", weights=tmp_path / "missing")
    state = dict(reference.state_dict(), **{"blocks.99.conv.x.weight": torch.zeros(1)})
    torch.save({"state_dict": state}, tmp_path / "extra")
    with pytest.raises(CheckpointError, match="unexpected key 'blocks.99.conv.x.weight'"):
        load_supernet("ofa_mbv3_w1.0", weights=tmp_path / "extra")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo this-must-not-run",))


def test_pickle_that_would_run_code_is_refused(tmp_path, capfd):
    path = tmp_path / "evil"
    with open(path, "wb") as f:
        torch.save({"state_dict": {}, "payload": _RunsCode()}, f)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_supernet("ofa_mbv3_w1.0", weights=path)
    assert "this-must-not-run" not in capfd.readouterr().out
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_RunsCode()))
    with pytest.raises(CheckpointError):
        load_supernet("ofa_mbv3_w1.0", weights=raw)


def test_missing_file_and_unknown_official_weights(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_supernet("ofa_mbv3_w1.0", weights=tmp_path / "nope")


def test_a_float16_supernet_file_loads_as_the_rounded_float32_weights(tmp_path):
    import torch
    from safetensors.torch import load_file

    from ofa2_zoo.supernet import load_supernet, save_supernet

    net = load_supernet("ofa2_digits", num_classes=10)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 1e-3)  # values float16 cannot hold exactly
    save_supernet(net, tmp_path / "half.safetensors", {"note": "x"}, dtype=torch.float16)
    stored = load_file(tmp_path / "half.safetensors")
    assert {v.dtype for v in stored.values()} == {torch.float16, torch.int64}  # num_batches_tracked stays int
    back = load_supernet("ofa2_digits", weights=tmp_path / "half.safetensors")
    for (k, a), b in zip(net.state_dict().items(), back.state_dict().values()):
        assert b.dtype == a.dtype and torch.equal(b, a.half().to(a.dtype) if a.is_floating_point() else a), k
    assert any(not torch.equal(a, b) for a, b in zip(net.state_dict().values(), back.state_dict().values()))


@pytest.mark.parametrize(("space", "dataset"), [("ofa2_digits", "digits"), ("ofa2_fmnist", "fashion-mnist")])
def test_missing_embedded_weights_name_the_training_command_for_their_dataset(monkeypatch, space, dataset):
    import dataclasses

    from ofa2_zoo import catalog
    from ofa2_zoo.errors import Ofa2Error

    entry = catalog.EMBEDDED[space]
    monkeypatch.setitem(catalog.EMBEDDED, space, dataclasses.replace(entry, weights="missing.safetensors"))
    with pytest.raises(Ofa2Error) as exc:
        catalog.embedded_weights_path(space)
    assert str(exc.value) == (f"the embedded weights {catalog.EMBEDDED_DIR / 'missing.safetensors'} are missing; "
                              f"rebuild them with `ofa2 train-supernet {dataset} --out {catalog.EMBEDDED_DIR}`")


def test_a_space_restricted_to_fewer_resolutions_loads_its_supernets_weights():
    """A profile's space (the same supernet, fewer input sizes) takes the full space's weights."""
    from ofa2_zoo.catalog import embedded_weights_path
    from ofa2_zoo.space import DIGITS_SPACE

    path = embedded_weights_path("ofa2_digits")
    small = DIGITS_SPACE.restrict(resolutions=DIGITS_SPACE.resolutions[:1], name="digits-one-size")
    net, full = load_supernet(small, weights=str(path)), load_supernet("ofa2_digits", weights=str(path))
    assert net.space.resolutions == DIGITS_SPACE.resolutions[:1] and net.weights_sha256 == full.weights_sha256
    a, b = net.state_dict(), full.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupted_save_keeps_the_old_weights_file_whole(tmp_path, monkeypatch):
    """save_supernet writes beside the target and renames: a crash mid-write leaves the earlier file
    as it was and no partial file behind."""
    from ofa2_zoo.supernet import checkpoint

    net = load_supernet("ofa2_digits")
    path = tmp_path / "w.safetensors"
    save_supernet(net, path)
    before = path.read_bytes()

    def crash(state, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_supernet(net, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]
