"""Official OFA files: the catalog (names, sizes, pinned sha256), where they live, downloading.

An asset is named by its path relative to OFA's file tree (``note10/160_lookup_table.yaml``).
:func:`resolve_asset` finds it, in this order: the ``assets`` folder the caller passes, the
folder named by ``$OFA2_ASSETS``, the download cache (``$OFA2_CACHE/assets``, by default
``~/.cache/ofa2_zoo/assets``), and finally a download from the official URL. Every copy is
checked against its pinned sha256; a mismatch is an error, never a silent use of other data.

Downloads (:func:`download_asset`, ``ofa2 assets fetch``) go to ``<file>.part`` beside the
target, resume from there with an HTTP range request after an interruption, are checked
against the pinned sha256 and only then renamed into place, so a folder never holds a
partial or unverified file under an official name. ``$OFA2_ASSETS_URL`` replaces the official
base URL (a mirror; it must be an http(s) URL). A download is bounded in size (a pinned file
at its catalog size, any other at :data:`MAX_UNPINNED_BYTES`) and time (:class:`DownloadLimits`:
a stall time and one deadline per command), and never writes through a symbolic link.

This module imports nothing heavy: ``ofa2 assets`` and ``ofa2 profile list`` use it.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import constants
from .catalog import cache_dir  # one home for the cache folder (re-exported here for the stages that use it)
from .constants import DEADLINE_SECONDS, STALL_SECONDS  # noqa: F401 - the download limits' defaults
from ._io import sha256_file
from .errors import AssetError, DownloadError, DownloadTimeout, DownloadTooLarge, shorten
from .progress import ProgressFn

BASE_URL = "https://raw.githubusercontent.com/han-cai/files/master/ofa/"


@dataclass(frozen=True)
class OfficialFile:
    """One file OFA publishes. ``sha256``/``size`` are ``None`` where the file was never
    available to pin (the supernet checkpoints could not be downloaded where this catalog was
    made); such a file is downloaded unverified and its sha256 recorded wherever it is used."""

    name: str
    kind: Literal["accuracy predictor", "latency table", "specialized net", "supernet checkpoint"]
    size: int | None
    sha256: str | None

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None


_NOTE10 = {  # resolution: (size, sha256)
    160: (15088, "a2671a45e9400542679ed03de946b45d6a35010f9ab21834af3e7ba8341d36d1"),
    176: (15047, "34223ae037d5719a5f33261bdfd9341f590a2999edf520f174309605dc06307c"),
    192: (15076, "0ff5ca0649e56ad34a42d6a8a6f20adb5121c8d12d135299397b310472db79e2"),
    208: (15083, "41aa63af766a8298354e6aa5ae69d512ac68656a6e7d0a4fa5dc725c8d438633"),
    224: (15007, "c13a9bcb3f4becae844bce4897129c4e42975984c1029cbd5acb48c970136530"),
}

#: OFA's published specialized networks: id -> ((net.config size, sha256), (run.config size, sha256)).
_SPECIALIZED: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {
    "flops-389M_top1-79.1_finetune-75": (
        (13840, "1a267106eca0eb246f297aad5b8df04e82bba198926d65c4f1a2ca0219d73f5d"),
        (25, "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b")),
    "flops-482M_top1-79.6_finetune-75": (
        (16317, "043fc6a48bd0545912c83844e63625dec422f358ef94cbd087cdff6f7e3c2955"),
        (25, "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b")),
    "flops-595M_top1-80.0_finetune-75": (
        (16318, "134818e905881e17abdf463570042985684e9a14bbe72b38046975df277bba5a"),
        (25, "a5e48f4910795069365a971419cc4722b90463a0ce85bfc929bc224ac238caae")),
    "note10_lat-11ms_top1-73.6_finetune-25": (
        (10523, "cde9c4a7f6e19ee264ac63231b1b74ead9df5749747a5e49774d191cb3fe47d1"),
        (25, "97ec058c87d9138ad5a644a95672689baf740ef7eeef733b9001d939da703c40")),
    "note10_lat-16ms_top1-75.5_finetune-25": (
        (13830, "366c8e44f60b9ef1c99d902bb771af5611955e31ff7bf7a87b60780907c58405"),
        (25, "923efd4c9f529af1d4312c1bbdb9d9a79c8335e4dbc47ac72fdf835c64c22be5")),
    "note10_lat-22ms_top1-76.6_finetune-25": (
        (13005, "27edf6a687620128a36d2c0c50526caa3850de8785af956630efd9bd9fcc0984"),
        (25, "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b")),
    "note10_lat-30ms_top1-78.4_finetune-75": (
        (13009, "30a922fd15606ce75baf6b5197972b55bf4550963c9540773e934db947602428"),
        (25, "584a0e70a88f36422bf01d2c4ad976eda0e62dc647fbd40c17daaa08fd21ce8b")),
    "note10_lat-41ms_top1-79.3_finetune-75": (
        (14670, "31ff60e653ce6f6df42b908b330f284ef1420a483896a8359c70205b13252a8c"),
        (25, "7a6dccdee5a5da8a1435ae437bc24bfd88c64aa05c5102d1afa4aca53d2518b4")),
    "note10_lat-50ms_top1-79.7_finetune-75": (
        (15488, "a2cb5750a2bd61ed2bcf1029cb663833caac57b4976db5e835c9de9d22340d46"),
        (25, "7a6dccdee5a5da8a1435ae437bc24bfd88c64aa05c5102d1afa4aca53d2518b4")),
    "note10_lat-64ms_top1-80.2_finetune-75": (
        (16318, "3c7152b1252aec1a967fbb90af03cd5bec029635dee166aa56f457b6b5dd3dc0"),
        (25, "cb9ebdf9a9d49a1b283b183b4f35f9cf92fe610792c718f936915e23bacf9d13")),
    "note10_lat-8ms_top1-71.4_finetune-25": (
        (9689, "63f6fcb4024aa5dcb7d3db428694329fd63e20f17628e5ae857416df3d0620ff"),
        (25, "0a56a3f95391dfdbc07e097506c4daf1be4f510a80e488692d6c7d417877abae")),
}

#: The official supernet checkpoint of each OFA space.
OFFICIAL_CHECKPOINTS = {"ofa_mbv3_w1.0": "ofa_nets/ofa_mbv3_d234_e346_k357_w1.0",
                        "ofa_mbv3_w1.2": "ofa_nets/ofa_mbv3_d234_e346_k357_w1.2"}

OFFICIAL_FILES: dict[str, OfficialFile] = {
    f.name: f for f in (
        OfficialFile("acc_predictor.pth", "accuracy predictor", 1492497,
                     "48685122a3540636b06699af66cd816456b25f29b69563e2fda9bed4018eeba0"),
        *(OfficialFile(f"note10/{r}_lookup_table.yaml", "latency table", size, sha)
          for r, (size, sha) in _NOTE10.items()),
        *(OfficialFile(f"specialized/{i}/{part}.config", "specialized net", size, sha)
          for i, pair in _SPECIALIZED.items() for part, (size, sha) in zip(("net", "run"), pair)),
        *(OfficialFile(name, "supernet checkpoint", None, None) for name in OFFICIAL_CHECKPOINTS.values()),
    )
}

#: Pinned sha256 by name (``None``: known but never available to pin).
PINNED_SHA256: dict[str, str | None] = {name: f.sha256 for name, f in OFFICIAL_FILES.items()}
#: Ids of OFA's published specialized networks (their files are ``specialized/<id>/{net,run}.config``).
SPECIALIZED_IDS: tuple[str, ...] = tuple(sorted(_SPECIALIZED))

# The official tree names the specialized folder differently from the local copies.
_URL_PATH = {"specialized/": "ofa_specialized/"}



#: Most bytes a download without a pinned size may have: the supernet checkpoints (tens of MB)
#: and the dataset files. A mirror that sends more is cut off and its bytes deleted.
MAX_UNPINNED_BYTES = 100 * 2**20




@dataclass(frozen=True)
class DownloadLimits:
    """How long downloads may take: ``stall`` seconds without a byte, ``deadline`` seconds in all
    (from :meth:`start`, shared by every file of one command)."""

    stall: float
    deadline: float
    ends: float  # time.monotonic() at which the deadline passes

    @classmethod
    def start(cls, stall: float | None = None, deadline: float | None = None) -> DownloadLimits:
        """Limits starting now: the arguments, else ``$OFA2_DOWNLOAD_STALL`` / ``$OFA2_DOWNLOAD_DEADLINE``,
        else :data:`STALL_SECONDS` / :data:`DEADLINE_SECONDS`."""
        stall = stall if stall is not None else constants.download_stall_seconds()
        deadline = deadline if deadline is not None else constants.download_deadline_seconds()
        return cls(stall, deadline, time.monotonic() + deadline)

    def passed(self) -> bool:
        return time.monotonic() >= self.ends

    def socket_timeout(self, url: str) -> float:
        """How long one connect or read may block: the stall time, less when the deadline is nearer."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise self.timed_out(url)
        return min(self.stall, left)

    def timed_out(self, url: str) -> DownloadTimeout:
        if self.passed():
            return DownloadTimeout(f"download of {url} stopped: the downloads ran past their deadline of "
                                   f"{self.deadline:g} s (OFA2_DOWNLOAD_DEADLINE); run again to resume")
        return DownloadTimeout(f"download of {url} stalled: no bytes for {self.stall:g} s (OFA2_DOWNLOAD_STALL); "
                               "run again to resume")


def assets_folder(assets: str | os.PathLike | None = None) -> Path:
    """The folder official files are read from and fetched into: ``assets``, else
    ``$OFA2_ASSETS``, else the download cache (``$OFA2_CACHE/assets``)."""
    folder = Path(assets).expanduser() if assets is not None else constants.assets_dir()
    return folder if folder is not None else cache_dir() / "assets"


def base_url() -> str:
    """The base URL downloads use: ``$OFA2_ASSETS_URL`` (a mirror), else :data:`BASE_URL`; a value
    that is not an http(s) URL is an :class:`AssetError`."""
    base = constants.assets_url() or BASE_URL
    try:
        parts = urllib.parse.urlsplit(base)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() or not c.isprintable() for c in base)):
        raise AssetError(f"OFA2_ASSETS_URL={shorten(base)} is not an http(s) URL (fix: the base URL of a mirror with "
                         "OFA's layout, e.g. https://mirror.example/ofa/, or unset it for the official files)")
    return base


def asset_url(name: str) -> str:
    base = base_url()
    for local, remote in _URL_PATH.items():
        if name.startswith(local):
            name = remote + name[len(local):]
    return base.rstrip("/") + "/" + name


def _check(path: Path, name: str, expected: str | None) -> Path:
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected:
            raise AssetError(f"{path}: sha256 {actual} does not match the pinned {expected} for {name!r}; "
                             "the file is corrupt or not the official one (delete it or point --assets elsewhere)")
    return path


AssetState = Literal["present", "unverified", "missing", "corrupt"]


def asset_state(name: str, folder: str | os.PathLike) -> AssetState:
    """``present`` (matches its pinned sha256), ``unverified`` (there, nothing pinned to check it
    against), ``missing`` or ``corrupt`` (sha256 differs from the pin)."""
    path = Path(folder) / name
    if not path.is_file():
        return "missing"
    expected = PINNED_SHA256.get(name)
    if expected is None:
        return "unverified"
    return "present" if sha256_file(path) == expected else "corrupt"


def resolve_asset(name: str, assets: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Path of the asset ``name`` (see the module docstring for the search order)."""
    expected = PINNED_SHA256.get(name)
    folder = Path(assets).expanduser() if assets is not None else constants.assets_dir()
    if folder is not None:
        if not folder.is_dir():
            raise AssetError(f"assets folder {folder} does not exist (fetch the official files into it with "
                             f"`ofa2 assets fetch --assets {folder}`)")
        path = folder / name
        if not path.is_file():
            raise AssetError(f"{name} is not in the assets folder {folder} (expected {path}; fetch it with "
                             f"`ofa2 assets fetch --assets {folder}`)")
        return _check(path, name, expected)
    cached = cache_dir() / "assets" / name
    if cached.is_file():
        return _check(cached, name, expected)
    if not download or constants.offline():
        raise AssetError(f"{name} is not cached and downloads are off; run `ofa2 assets fetch` where there is "
                         "network, or pass --assets DIR (or set OFA2_ASSETS) to a folder with the official OFA files")
    return download_asset(name, cache_dir() / "assets")


def download_asset(name: str, folder: str | os.PathLike, progress: ProgressFn | None = None,
                   limits: DownloadLimits | None = None) -> Path:
    """Download ``name`` into ``folder`` (resuming ``<file>.part``), verify it, rename it into place.

    Refused before any byte is fetched: a target or ``.part`` that is a symbolic link or a
    folder, and a folder between ``folder`` and the target that is a symbolic link. ``limits``
    (default: :meth:`DownloadLimits.start`) bounds the time; the size is capped at the catalog's
    size (pinned files) or :data:`MAX_UNPINNED_BYTES`.
    """
    target = Path(folder) / name
    part = target.with_name(target.name + ".part")
    url = asset_url(name)
    refuse_unsafe_paths(Path(folder), target, part)
    part.parent.mkdir(parents=True, exist_ok=True)
    expected = PINNED_SHA256.get(name)
    size = OFFICIAL_FILES[name].size if name in OFFICIAL_FILES else None
    if part.is_file() and expected is not None and part.stat().st_size == size and sha256_file(part) != expected:
        part.unlink()  # complete but wrong: start over rather than resume past the end
    try:
        if not (part.is_file() and size is not None and part.stat().st_size == size):
            fetch_url(url, part, size, progress, limits, step=name)
        elif progress:
            progress(name, size, size)  # finished before an interruption; only the check and rename were left
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        reason = "the connection closed early" if isinstance(exc, http.client.IncompleteRead) else str(exc)
        raise AssetError(f"could not download {name} from {url} ({reason}); run again to resume, or pass --assets DIR "
                         "(or set OFA2_ASSETS) to a folder with the official OFA files") from None
    if expected is not None and sha256_file(part) != expected:
        actual = sha256_file(part)
        part.unlink()
        raise AssetError(f"downloaded {name} from {url} has sha256 {actual}, not the pinned {expected}; "
                         "the download was deleted (a wrong mirror?)")
    os.chmod(part, 0o644)
    os.replace(part, target)
    return target


def refuse_unsafe_paths(folder: Path, target: Path, part: Path) -> None:
    """Refuse a target or ``.part`` that is a link or a folder, and a linked folder on the way."""
    node = folder
    for piece in target.relative_to(folder).parts[:-1]:
        node = node / piece
        if node.is_symlink():
            raise DownloadError(f"{node} is a symbolic link; refusing to download through it (fix: replace it "
                                "with a real folder)")
    for path, what in ((target, "the file"), (part, "its partial download")):
        if path.is_symlink():
            raise DownloadError(f"{path} is a symbolic link; refusing to download onto it (fix: delete the link "
                                "and run again)")
        if path.exists() and not path.is_file():
            raise DownloadError(f"{path} is a folder, not {what}; refusing to download (fix: remove the folder "
                                "and run again)")


def fetch_url(url: str, part: Path, size: int | None, progress: ProgressFn | None,
              limits: DownloadLimits | None = None, *, max_bytes: int | None = None, step: str | None = None) -> None:
    """Append the rest of ``url`` to ``part`` (a range request), or rewrite it when the server
    cannot resume.

    ``size``: the exact size when known (pinned); otherwise at most ``max_bytes`` (default
    :data:`MAX_UNPINNED_BYTES`). More bytes
    than that stop the download at once and delete ``part`` (:class:`DownloadTooLarge`). A
    stall or the deadline of ``limits`` raises :class:`DownloadTimeout` and keeps ``part`` to
    resume. ``part`` must not be a symbolic link or a folder (it is opened without following
    links).

    Args:
        url: Where the file is downloaded from.
        part: The partial file to append to (created when missing).
        size: The file's exact size in bytes when pinned, else ``None``.
        progress: Called with (step, bytes so far, total or ``None``) as bytes arrive; ``None`` for none.
        limits: The stall and deadline limits (default :meth:`DownloadLimits.start`).
        max_bytes: The most bytes an unpinned file may have (default :data:`MAX_UNPINNED_BYTES`).
        step: The step name progress reports (default: the partial file's name).
    """
    limits = limits if limits is not None else DownloadLimits.start()
    cap = size if size is not None else max_bytes if max_bytes is not None else MAX_UNPINNED_BYTES
    if part.is_symlink() or (part.exists() and not part.is_file()):
        raise DownloadError(f"{part} is a symbolic link or a folder, not a partial download; refusing to "
                            "download (fix: remove it and run again)")
    have = part.stat().st_size if part.is_file() else 0
    if have > cap:
        have = 0  # longer than the file can be: start over
        part.unlink()
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(request, timeout=limits.socket_timeout(url))
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not have:
            raise
        part.unlink()  # the server says there is nothing past what we hold, yet it did not verify
        return fetch_url(url, part, size, progress, limits, max_bytes=max_bytes, step=step)
    except (TimeoutError, urllib.error.URLError) as exc:
        if isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
            raise limits.timed_out(url) from None
        raise
    with resp:
        if have and resp.status != 206:
            have = 0  # the server ignored the range: the body is the whole file
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        if total is not None and total > cap:
            part.unlink(missing_ok=True)
            raise DownloadTooLarge(_too_large(url, size, cap))
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if have else os.O_TRUNC) | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(part, flags, 0o644), "wb") as out:
            done = have
            if progress:
                progress(step or part.name, done, total)
            while True:
                try:
                    chunk = resp.read1(1 << 16)
                except TimeoutError:
                    raise limits.timed_out(url) from None
                if not chunk:
                    break
                done += len(chunk)
                if done > cap:
                    out.close()
                    part.unlink(missing_ok=True)
                    raise DownloadTooLarge(_too_large(url, size, cap))
                out.write(chunk)
                if progress:
                    progress(step or part.name, done, total)
                if limits.passed():
                    out.flush()
                    raise limits.timed_out(url)
            out.flush()
            os.fsync(out.fileno())
    if total is not None and part.stat().st_size != total:
        raise DownloadError(f"download of {url} stopped at {part.stat().st_size} of {total} bytes; run again to "
                            "resume")


def _too_large(url: str, size: int | None, cap: int) -> str:
    limit = (f"the {cap:,} bytes the catalog pins for it" if size is not None else
             f"{cap:,} bytes, the most a file without a pinned size may have")
    return f"{url} sends more than {limit}; the download was stopped and deleted (a wrong mirror?)"
