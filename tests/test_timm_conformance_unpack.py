"""scripts/timm_conformance.py unpacks only timm's tests/ and pyproject.toml from its sdist, and
refuses a link or a path leaving the folder, with and without tarfile's data filter (Python
< 3.11.4 has none: Debian's 3.11.2 ran CI's rehearsal)."""

import importlib.util
import io
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "timm_conformance.py"


def _script():
    spec = importlib.util.spec_from_file_location("timm_conformance_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _sdist(path: Path, extra: tarfile.TarInfo | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in ("timm-9.9/pyproject.toml", "timm-9.9/tests/test_models.py", "timm-9.9/timm/__init__.py"):
            data = name.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x" * extra.size))
    return path


@pytest.fixture(params=["data filter", "no data filter"])
def unpack(request, monkeypatch):
    if request.param == "no data filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python's tarfile has no data filter")
    return _script().unpack_tests


def test_only_the_tests_and_pyproject_are_unpacked(tmp_path, unpack):
    root = unpack(_sdist(tmp_path / "timm-9.9.tar.gz"), tmp_path / "out")
    assert root == tmp_path / "out" / "timm-9.9"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "pyproject.toml", "tests/test_models.py"]
    assert (root / "tests" / "test_models.py").read_text() == "timm-9.9/tests/test_models.py"


@pytest.mark.parametrize("kind", ["symlink", "parent"])
def test_a_link_or_a_path_out_of_the_folder_is_refused(tmp_path, unpack, kind):
    if kind == "symlink":
        bad = tarfile.TarInfo("timm-9.9/tests/link.py")
        bad.type, bad.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        bad = tarfile.TarInfo("timm-9.9/tests/../../../escaped.py")  # out of tmp_path/out
        bad.size = 1
    with pytest.raises((SystemExit, tarfile.TarError)):
        unpack(_sdist(tmp_path / "timm-9.9.tar.gz", bad), tmp_path / "out")
    assert not (tmp_path / "escaped.py").exists()
