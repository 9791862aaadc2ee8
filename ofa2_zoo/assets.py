"""Official OFA assets: where they live, their pinned checksums, local folders and the cache.

An asset is named by its path relative to OFA's file tree (``note10/160_lookup_table.yaml``).
:func:`resolve_asset` finds it, in this order: the ``assets`` folder the caller passes, the
folder named by ``$OFA2_ASSETS``, the download cache (``$OFA2_CACHE`` or
``~/.cache/ofa2_zoo``), and finally a download from the official URL. Every copy is checked
against its pinned sha256; a mismatch is an error, never a silent use of other data.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

from ._io import atomic_path
from .errors import AssetError

BASE_URL = "https://raw.githubusercontent.com/han-cai/files/master/ofa/"

#: Pinned sha256 of the official files. ``None``: the file is known but was never available
#: to pin (the supernet checkpoints); its sha256 is computed and recorded wherever it is used.
PINNED_SHA256: dict[str, str | None] = {
    "acc_predictor.pth": "48685122a3540636b06699af66cd816456b25f29b69563e2fda9bed4018eeba0",
    "note10/160_lookup_table.yaml": "a2671a45e9400542679ed03de946b45d6a35010f9ab21834af3e7ba8341d36d1",
    "note10/176_lookup_table.yaml": "34223ae037d5719a5f33261bdfd9341f590a2999edf520f174309605dc06307c",
    "note10/192_lookup_table.yaml": "0ff5ca0649e56ad34a42d6a8a6f20adb5121c8d12d135299397b310472db79e2",
    "note10/208_lookup_table.yaml": "41aa63af766a8298354e6aa5ae69d512ac68656a6e7d0a4fa5dc725c8d438633",
    "note10/224_lookup_table.yaml": "c13a9bcb3f4becae844bce4897129c4e42975984c1029cbd5acb48c970136530",
    "ofa_nets/ofa_mbv3_d234_e346_k357_w1.0": None,
    "ofa_nets/ofa_mbv3_d234_e346_k357_w1.2": None,
}

#: OFA's published specialized networks (``specialized/<id>/{net,run}.config``).
SPECIALIZED_SHA256: dict[str, tuple[str, str]] = {
    "flops-389M_top1-79.1_finetune-75": ("1a267106eca0eb246f297aad5b8df04e82bba198926d65c4f1a2ca0219d73f5d",
                                         "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b"),
    "flops-482M_top1-79.6_finetune-75": ("043fc6a48bd0545912c83844e63625dec422f358ef94cbd087cdff6f7e3c2955",
                                         "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b"),
    "flops-595M_top1-80.0_finetune-75": ("134818e905881e17abdf463570042985684e9a14bbe72b38046975df277bba5a",
                                         "a5e48f4910795069365a971419cc4722b90463a0ce85bfc929bc224ac238caae"),
    "note10_lat-11ms_top1-73.6_finetune-25": ("cde9c4a7f6e19ee264ac63231b1b74ead9df5749747a5e49774d191cb3fe47d1",
                                              "97ec058c87d9138ad5a644a95672689baf740ef7eeef733b9001d939da703c40"),
    "note10_lat-16ms_top1-75.5_finetune-25": ("366c8e44f60b9ef1c99d902bb771af5611955e31ff7bf7a87b60780907c58405",
                                              "923efd4c9f529af1d4312c1bbdb9d9a79c8335e4dbc47ac72fdf835c64c22be5"),
    "note10_lat-22ms_top1-76.6_finetune-25": ("27edf6a687620128a36d2c0c50526caa3850de8785af956630efd9bd9fcc0984",
                                              "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b"),
    "note10_lat-30ms_top1-78.4_finetune-75": ("30a922fd15606ce75baf6b5197972b55bf4550963c9540773e934db947602428",
                                              "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b"),
    "note10_lat-41ms_top1-79.3_finetune-75": ("31ff60e653ce6f6df42b908b330f284ef1420a483896a8359c70205b13252a8c",
                                              "7a6dccdee5a5da8a1435ae437bc24bfd88c64aa05c5102d1afa4aca53d2518b4"),
    "note10_lat-50ms_top1-79.7_finetune-75": ("a2cb5750a2bd61ed2bcf1029cb663833caac57b4976db5e835c9de9d22340d46",
                                              "7a6dccdee5a5da8a1435ae437bc24bfd88c64aa05c5102d1afa4aca53d2518b4"),
    "note10_lat-64ms_top1-80.2_finetune-75": ("3c7152b1252aec1a967fbb90af03cd5bec029635dee166aa56f457b6b5dd3dc0",
                                              "cb9ebdf9a9d49a1b283b183b4f35f9cf92fe610792c718f936915e23bacf9d13"),
    "note10_lat-8ms_top1-71.4_finetune-25": ("63f6fcb4024aa5dcb7d3db428694329fd63e20f17628e5ae857416df3d0620ff",
                                             "0a56a3f95391dfdbc07e097506c4daf1be4f510a80e488692d6c7d417877abae"),
}
for _id, (_net, _run) in SPECIALIZED_SHA256.items():
    PINNED_SHA256[f"specialized/{_id}/net.config"] = _net
    PINNED_SHA256[f"specialized/{_id}/run.config"] = _run

# The official tree names the specialized folder differently from the local copies.
_URL_PATH = {"specialized/": "ofa_specialized/"}


def cache_dir() -> Path:
    return Path(os.environ.get("OFA2_CACHE", Path.home() / ".cache" / "ofa2_zoo")).expanduser()


@lru_cache(maxsize=256)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file (memoised on path, mtime and size)."""
    st = os.stat(path)
    return _sha256_cached(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


def asset_url(name: str) -> str:
    for local, remote in _URL_PATH.items():
        if name.startswith(local):
            name = remote + name[len(local):]
    return BASE_URL + name


def _check(path: Path, name: str, expected: str | None) -> Path:
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected:
            raise AssetError(f"{path}: sha256 {actual} does not match the pinned {expected} for {name!r}; "
                             "the file is corrupt or not the official one (delete it or point --assets elsewhere)")
    return path


def resolve_asset(name: str, assets: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Path of the asset ``name`` (see the module docstring for the search order)."""
    expected = PINNED_SHA256.get(name)
    folder = assets if assets is not None else os.environ.get("OFA2_ASSETS")
    if folder is not None:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise AssetError(f"assets folder {folder} does not exist")
        path = folder / name
        if not path.is_file():
            raise AssetError(f"{name} is not in the assets folder {folder} (expected {path})")
        return _check(path, name, expected)
    cached = cache_dir() / "assets" / name
    if cached.is_file():
        return _check(cached, name, expected)
    if not download or os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("OFA2_OFFLINE") == "1":
        raise AssetError(f"{name} is not cached and downloads are off; pass --assets DIR (or set OFA2_ASSETS) "
                         "to a folder with the official OFA files")
    url = asset_url(name)
    try:
        with atomic_path(cached) as tmp:
            with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
            _check(tmp, name, expected)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        if isinstance(exc, AssetError):
            raise
        raise AssetError(f"could not download {name} from {url} ({exc}); if offline, pass --assets DIR "
                         "(or set OFA2_ASSETS) to a folder with the official OFA files") from None
    return cached
