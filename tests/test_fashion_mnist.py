"""Fashion-MNIST: where the files are read from (precedence), pinning, the fixed splits, the
timm-equal resizing, and `ofa2 data fetch` against a loopback HTTP server."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

import ofa2_zoo.training.fashion_mnist as fm
from ofa2_zoo.catalog import FASHION_MNIST
from ofa2_zoo.cli import main
from ofa2_zoo.errors import DatasetError

from _ci import missing

FIXES = ("fix: `apt-get install dataset-fashion-mnist`, `ofa2 data fetch fashion-mnist`, or --data DIR (or "
         "$OFA2_DATA) naming a folder with the four IDX files")


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _synthetic(n_train: int = 40, n_test: int = 10, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": _idx(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": _idx(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte": _idx(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": _idx(np.arange(n_test) % 10),
    }


def _write(folder: Path, files: dict[str, bytes], gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, raw in files.items():
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return folder


@pytest.fixture()
def synthetic(tmp_path, monkeypatch):
    """The module pinned to synthetic files; Debian's folder and the cache moved under tmp_path."""
    files = _synthetic()
    info = dataclasses.replace(FASHION_MNIST, sha256={k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
                               val_per_class=1, debian_folder=str(tmp_path / "debian"))
    monkeypatch.setattr(fm, "INFO", info)
    monkeypatch.setenv("OFA2_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OFA2_DATA", raising=False)
    fm._arrays.cache_clear()
    yield files
    fm._arrays.cache_clear()


def test_precedence_data_then_env_then_debian_then_cache(tmp_path, synthetic, monkeypatch):
    cache = _write(tmp_path / "cache" / "datasets" / "fashion-mnist", synthetic)
    assert fm.data_folder() == cache
    debian = _write(tmp_path / "debian", synthetic, gz=False)  # uncompressed files are read too
    assert fm.data_folder() == debian
    env = _write(tmp_path / "env", synthetic)
    monkeypatch.setenv("OFA2_DATA", str(env))
    assert fm.data_folder() == env
    given = _write(tmp_path / "given", synthetic)
    assert fm.data_folder(given) == given
    # every source present, each one in turn removed: the next one wins
    for stem in FASHION_MNIST.files:
        (given / f"{stem}.gz").unlink()
    with pytest.raises(DatasetError) as info:  # an explicit folder is never passed over silently
        fm.data_folder(given)
    assert str(info.value) == (f"--data folder {given} lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                               f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or .gz); {FIXES}")
    (env / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError) as info:
        fm.data_folder()
    assert str(info.value) == f"$OFA2_DATA folder {env} lacks t10k-labels-idx1-ubyte (or .gz); {FIXES}"
    monkeypatch.delenv("OFA2_DATA")
    (debian / "train-images-idx3-ubyte").unlink()
    assert fm.data_folder() == cache  # Debian's folder is incomplete: the cache is next


def test_nothing_installed_is_one_line_naming_the_fixes(tmp_path, synthetic):
    with pytest.raises(DatasetError) as info:
        fm.load_split("train")
    where = f"{tmp_path / 'debian'}, {tmp_path / 'cache' / 'datasets' / 'fashion-mnist'}"
    assert str(info.value) == f"fashion-mnist is not installed (looked in {where}); {FIXES}"


def test_corrupt_truncated_and_foreign_files_are_refused(tmp_path, synthetic):
    folder = _write(tmp_path / "d", synthetic)
    bad = bytearray(synthetic["train-labels-idx1-ubyte"])
    bad[-1] ^= 1  # one label changed
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(bad)))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz is corrupt \(sha256 of its contents "):
        fm.load_split("val", folder)
    assert fm.file_state(folder, "train-labels-idx1-ubyte") == "corrupt"
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(synthetic["train-labels-idx1-ubyte"])[:-9])
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz cannot be read \(.*\); fix: "):
        fm.load_split("val", folder)
    assert fm.file_state(folder, "t10k-labels-idx1-ubyte") == "present"
    assert fm.file_state(tmp_path, "t10k-labels-idx1-ubyte") == "missing"
    other = tmp_path / "x.idx"
    other.write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc")  # float IDX, not bytes
    with pytest.raises(DatasetError, match="is not an IDX file of unsigned bytes"):
        fm.read_idx(other)
    other.write_bytes(b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"abc")  # header says 4, 3 follow
    with pytest.raises(DatasetError, match=r"holds 3 bytes of data, its header says \(4,\)"):
        fm.read_idx(other)


def test_splits_are_disjoint_stratified_and_fixed(tmp_path, synthetic):
    folder = _write(tmp_path / "d", synthetic)
    x_tr, y_tr = fm.load_split("train", folder)
    x_va, y_va = fm.load_split("val", folder)
    x_te, y_te = fm.load_split("test", folder)
    assert (len(y_tr), len(y_va), len(y_te)) == (30, 10, 10)
    assert sorted(y_va.tolist()) == list(range(10))  # val_per_class=1
    all_x = np.frombuffer(synthetic["train-images-idx3-ubyte"], np.uint8, offset=16).reshape(40, 28, 28)
    val = fm.val_indices(np.arange(40) % 10)
    assert np.array_equal(x_va, all_x[val]) and np.array_equal(x_tr, np.delete(all_x, val, axis=0))
    assert np.array_equal(fm.val_indices(np.arange(40) % 10), val)  # seeded
    with pytest.raises(DatasetError, match="unknown split 'dev' of fashion-mnist"):
        fm.load_split("dev", folder)


def _real():
    try:
        return fm.data_folder()
    except DatasetError as exc:
        missing(f"Fashion-MNIST is not installed: {exc}")


def test_real_files_pass_their_pins_and_split_as_documented():
    _real()
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (fm.load_split(s) for s in ("train", "val", "test"))
    assert (x_tr.shape, x_va.shape, x_te.shape) == ((54000, 28, 28), (6000, 28, 28), (10000, 28, 28))
    assert np.bincount(y_va).tolist() == [600] * 10 and np.bincount(y_te).tolist() == [1000] * 10
    assert np.bincount(y_tr).tolist() == [5400] * 10


def test_get_dataset_resizes_exactly_as_timms_eval_transform():
    _real()
    import timm.data
    import torch
    from PIL import Image

    from ofa2_zoo.training.data import FMNIST_MEAN, FMNIST_STD, get_dataset, source_images

    src = source_images("fashion-mnist", "test")
    assert src.image(0).mode == "L" and src.image(0).size == (28, 28) and len(src) == 10000
    for r in (16, 20, 28):
        ds = get_dataset("fashion-mnist", "test", r)
        cfg = timm.data.resolve_data_config({"input_size": (1, r, r), "interpolation": "bilinear", "crop_pct": 1.0,
                                             "mean": FMNIST_MEAN, "std": FMNIST_STD})
        transform = timm.data.create_transform(**cfg)
        for i in (0, 1, 9999):
            assert isinstance(src.image(i), Image.Image)
            torch.testing.assert_close(ds.tensors[0][i], transform(src.image(i)), rtol=0, atol=1e-6)
        assert ds.tensors[1][9999] == src.labels[9999]


class _Server:
    """A loopback HTTP server for the four .gz files (what `ofa2 data fetch` downloads)."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.requests.append(self.path)
                body = outer.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_fetch_downloads_verifies_and_skips_what_is_there(tmp_path, synthetic, monkeypatch):
    served = {f"{k}.gz": gzip.compress(v) for k, v in synthetic.items()}
    with _Server(served) as server:
        monkeypatch.setattr(fm, "INFO", dataclasses.replace(fm.INFO, url=server.url))
        seen = []
        folder = fm.fetch(progress=lambda stem, done, total: seen.append((stem, done, total)))
        assert folder == tmp_path / "cache" / "datasets" / "fashion-mnist"
        assert sorted(p.name for p in folder.iterdir()) == sorted(served)
        assert fm.data_folder() == folder and len(fm.load_split("test")[1]) == 10
        assert ("t10k-labels-idx1-ubyte", len(served["t10k-labels-idx1-ubyte.gz"]),
                len(served["t10k-labels-idx1-ubyte.gz"])) in seen
        (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"junk")  # corrupt: fetched again, nothing else
        server.requests.clear()
        fm.fetch()
        assert server.requests == ["/t10k-images-idx3-ubyte.gz"] and fm.file_state(folder, "t10k-images-idx3-ubyte") == "present"


def test_fetch_of_a_wrong_file_leaves_nothing_behind(tmp_path, synthetic, monkeypatch):
    served = {f"{k}.gz": gzip.compress(v) for k, v in synthetic.items()}
    served["train-labels-idx1-ubyte.gz"] = gzip.compress(_idx(np.zeros(40)))  # a wrong mirror
    with _Server(served) as server:
        monkeypatch.setattr(fm, "INFO", dataclasses.replace(fm.INFO, url=server.url))
        with pytest.raises(DatasetError) as info:
            fm.fetch(tmp_path / "d")
    assert str(info.value) == (f"the download of {server.url}train-labels-idx1-ubyte.gz does not match its pinned "
                               "sha256 and was deleted (a wrong mirror?)")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["train-images-idx3-ubyte.gz"]
    with _Server({}) as server:  # nothing served: one line naming how to resume
        monkeypatch.setattr(fm, "INFO", dataclasses.replace(fm.INFO, url=server.url))
        with pytest.raises(DatasetError, match=r"could not download .*train-labels-idx1-ubyte.gz \(HTTP Error 404"):
            fm.fetch(tmp_path / "d")


def test_cli_data_path_and_fetch(tmp_path, synthetic, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "path"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and FIXES in err
    served = {f"{k}.gz": gzip.compress(v) for k, v in synthetic.items()}
    with _Server(served) as server:
        monkeypatch.setattr(fm, "INFO", dataclasses.replace(fm.INFO, url=server.url))
        with pytest.raises(SystemExit) as exit_info:
            main(["data", "fetch", "fashion-mnist", "--data", str(tmp_path / "mine"), "-q"])
    assert exit_info.value.code == 0
    assert f"all files verified in {tmp_path / 'mine'}" in capsys.readouterr().out.replace("\n", "")
    with pytest.raises(SystemExit):
        main(["data", "path", "--data", str(tmp_path / "mine")])
    assert capsys.readouterr().out == f"{tmp_path / 'mine'}\n"
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "path", "cifar"])
    assert exit_info.value.code == 2 and "unknown dataset 'cifar'; known: fashion-mnist" in capsys.readouterr().err
