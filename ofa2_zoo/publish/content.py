"""What each Hub repo of a package should contain, read and checked from the package folder.

A package (docs/package.md) becomes one Hub repo per member, ``<namespace>/ofa2-<profile>-front-<k>``,
holding the member folder's files as they are, and one front repo,
``<namespace>/ofa2-<profile>-front``, holding the front folder (``front.json``, ``front.png``,
``package.json``, the explorer page ``index.html``) with an index card: the packaged card plus
a section naming the version, listing the member repos and showing the change from the
previous version. The explorer page is re-rendered for the version: snippets load the tagged
names, and the previous version's front is drawn in grey.

Everything is checked before the first request to the Hub, so a bad package publishes
nothing: every file listed in ``package.json`` exists with its sha256, nothing else sits in
a member folder, every member passed its ONNX parity check, only safetensors weights are
shipped, configs describe the listed archs, and ``front.json`` is the front the package
claims to be (its version id).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .._io import sha256_file
from .._version import __version__
from ..errors import Ofa2Error
from ..explorer import FILENAME as EXPLORER_FILE
from ..explorer import ExplorerError, explorer_data, read_data, render_explorer, with_packaged, with_previous
from ..front import Front, diff_fronts
from ..package.manifest import MANIFEST_NAME, PackageManifest, read_manifest, timm_name
from ..package.plots import packaged_members
from .errors import PublishError

REQUIRED_MEMBER_FILES = ("config.json", "model.safetensors", "README.md", "model.onnx")
REQUIRED_FRONT_FILES = ("front.json", "README.md", MANIFEST_NAME)
# Weights are published and loaded as safetensors only: pickle-based files never leave the machine.
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
KEEP_REMOTE = frozenset({".gitattributes"})  # the Hub's own file in every repo; never deleted


def git_blob_id(data: bytes) -> str:
    """The git object id of a blob, which is what the Hub reports for a non-LFS file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class LocalFile:
    """One file to publish: from a path in the package, or generated (``data``)."""

    path_in_repo: str
    size: int
    sha256: str
    source: Path | None = None
    data: bytes | None = None

    @classmethod
    def from_path(cls, path_in_repo: str, path: Path, sha256: str | None = None) -> "LocalFile":
        return cls(path_in_repo, path.stat().st_size, sha256 or sha256_file(path, memo=False), source=path)

    @classmethod
    def from_bytes(cls, path_in_repo: str, data: bytes) -> "LocalFile":
        return cls(path_in_repo, len(data), hashlib.sha256(data).hexdigest(), data=data)

    def read(self) -> bytes:
        """The bytes to publish: re-read without following a symbolic link and checked against the
        sha256 verified when the package was loaded, so a file swapped after the checks (a symlink
        put in its place, other content) is refused instead of uploaded."""
        if self.data is not None:
            return self.data
        try:
            fd = os.open(self.source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise PublishError(f"{self.source} cannot be read without following a link ({exc.strerror}); it changed "
                               "after the package was checked; nothing more is uploaded") from None
        with os.fdopen(fd, "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise PublishError(f"{self.source} changed after the package was checked (sha256 differs); nothing more "
                               "is uploaded")
        return data

    def upload_source(self) -> bytes:
        return self.read()

    def same_as(self, remote_blob_id: str, remote_sha256: str | None) -> bool:
        """Does a Hub file (its git blob id, and sha256 when stored in LFS) hold these bytes?"""
        if remote_sha256 is not None:
            return remote_sha256 == self.sha256
        return remote_blob_id == git_blob_id(self.read())


@dataclass
class RepoContent:
    """The files one Hub repo should hold for a front version."""

    repo_id: str
    role: str  # "member <k>" or "front"
    files: dict[str, LocalFile] = field(default_factory=dict)


@dataclass(frozen=True)
class RepoNames:
    """Hub repo ids of a profile's front."""

    namespace: str
    profile: str

    @property
    def front(self) -> str:
        return f"{self.namespace}/ofa2-{self.profile}-front"

    def member(self, k: int) -> str:
        return f"{self.front}-{k}"


def check_names(namespace: str, profile: str, n_members: int) -> RepoNames:
    """Refuse repo ids the Hub would refuse (before any request)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not namespace or "/" in namespace:
        raise PublishError(f"invalid namespace {namespace!r}: give a Hub user or organization name, without '/'")
    names = RepoNames(namespace, profile)
    for repo_id in [names.front] + [names.member(k) for k in range(n_members)]:
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            raise PublishError(f"invalid Hub repo name {repo_id!r}: {exc}") from None
        ns, name = repo_id.split("/")
        if len(repo_id) > 96 or ns[0] in "-." or ns[-1] in "-." or name[-1] in "-.":
            raise PublishError(f"invalid Hub repo name {repo_id!r}: at most 96 characters, letters/digits at "
                               "both ends of the namespace and the name")
    return names


@dataclass
class Package:
    """A checked package folder: its manifest, front, and the files of each repo-to-be."""

    path: Path
    manifest: PackageManifest
    front: Front
    members: dict[int, dict[str, LocalFile]]
    front_files: dict[str, LocalFile]

    @property
    def profile(self) -> str:
        return self.manifest.profile

    @property
    def front_version_id(self) -> str:
        return self.manifest.front_version_id


def load_package(package_dir: str | os.PathLike) -> Package:
    """Read and check a package folder; any problem is a :class:`PublishError` (nothing published).

    Every file is checked by :mod:`ofa2_zoo.package.verify` (contained in the folder, no symbolic
    links, sha256, config.json schema, safetensors tensors and shapes of the member's arch)
    before the first request to the Hub; a dry run checks the same.
    """
    from ..package.errors import PackageError
    from ..package.verify import check_member, contained, front_files as list_front_files

    root = Path(package_dir)
    where = f"package {root}"
    try:
        if (root / MANIFEST_NAME).exists():
            contained(root, MANIFEST_NAME, where)
        manifest = read_manifest(root)
    except Ofa2Error as exc:
        raise PublishError(f"cannot publish: {exc}") from None
    ks = [m.k for m in manifest.members]
    if ks != list(range(len(ks))):
        raise PublishError(f"{where}: members must be k = 0..{len(ks) - 1} in order, got {ks}")
    members: dict[int, dict[str, LocalFile]] = {}
    try:
        for m in manifest.members:
            what = f"{where}: member k={m.k}"
            if m.name != timm_name(manifest.profile, m.k):
                raise PublishError(f"{what}: name {m.name!r} should be {timm_name(manifest.profile, m.k)!r}")
            if not m.parity.passed:
                raise PublishError(f"{what} failed its ONNX parity check (max abs diff {m.parity.max_abs_diff:.3g}, "
                                   f"top-1 agreement {100 * m.parity.top1_agreement:.1f} %); re-package it, nothing "
                                   "was published")
            missing = [f for f in REQUIRED_MEMBER_FILES if f not in m.files]
            if missing:
                raise PublishError(f"{what}: package.json lists no {', '.join(missing)}; the package is incomplete")
            bad = [f for f in m.files if f.endswith(FORBIDDEN_SUFFIXES)]
            if bad:
                raise PublishError(f"{what}: only safetensors weights are published, refusing {', '.join(bad)}")
            paths = check_member(root, manifest, m)
            members[m.k] = {name: LocalFile.from_path(name, path, m.files[name]) for name, path in paths.items()}
        front_paths = list_front_files(root, manifest)
    except PackageError as exc:
        raise PublishError(f"cannot publish: {exc}") from None
    front_dir = root / manifest.front_folder
    missing = [f for f in REQUIRED_FRONT_FILES if f not in front_paths]
    if missing:
        raise PublishError(f"{where}: front folder {front_dir} lacks {', '.join(missing)}; re-package it")
    if front_paths[MANIFEST_NAME].read_bytes() != (root / MANIFEST_NAME).read_bytes():
        raise PublishError(f"{where}: {front_dir / MANIFEST_NAME} differs from {root / MANIFEST_NAME}")
    try:
        front = Front.load(front_paths["front.json"])
    except Ofa2Error as exc:
        raise PublishError(f"{where}: {exc}") from None
    if front.version_id != manifest.front_version_id or front.profile_id != manifest.profile:
        raise PublishError(f"{where}: front/front.json is front {front.version_id[:12]} of profile "
                           f"{front.profile_id!r}, package.json says {manifest.front_version_id[:12]} of "
                           f"{manifest.profile!r}; re-package it")
    files = {name: LocalFile.from_path(name, path) for name, path in front_paths.items()}
    return Package(root, manifest, front, members, files)


# ---------------------------------------------------------------------------- repo contents of a version
def member_contents(pkg: Package, names: RepoNames) -> list[RepoContent]:
    return [RepoContent(names.member(k), f"member {k}", dict(files)) for k, files in sorted(pkg.members.items())]


def front_content(pkg: Package, names: RepoNames, tag: str, previous: tuple[str, Front] | None) -> RepoContent:
    """The front repo's files for version ``tag``: the front folder, its card extended with the
    version's member repos and the change from ``previous`` (tag, front)."""
    files = dict(pkg.front_files)
    card = files["README.md"].read().decode("utf-8").rstrip("\n")
    card += "\n\n" + version_section(pkg, names, tag, previous) + "\n"
    files["README.md"] = LocalFile.from_bytes("README.md", card.encode("utf-8"))
    files[EXPLORER_FILE] = LocalFile.from_bytes(EXPLORER_FILE, explorer_page(pkg, names, tag, previous).encode("utf-8"))
    return RepoContent(names.front, "front", files)


def explorer_page(pkg: Package, names: RepoNames, tag: str, previous: tuple[str, Front] | None) -> str:
    """The front repo's ``index.html`` for version ``tag``: the package's explorer page (which
    keeps what packaging placed on it, such as OFA's published nets), its members named
    ``<name>.<tag>`` with their Hub repos, and ``previous`` (tag, front) in grey. A package
    without a readable page of this front gets a fresh one."""
    members = packaged_members(pkg.manifest, tag=tag, repo_ids={m.k: names.member(m.k) for m in pkg.manifest.members})
    title = f"{pkg.profile} front {tag} ({len(members)} packaged)"
    data = None
    page = pkg.front_files.get(EXPLORER_FILE)
    if page is not None:
        try:
            data = read_data(page.read().decode("utf-8"))
        except (ExplorerError, UnicodeDecodeError):
            data = None
    if data is None or data.get("version") != pkg.front_version_id:
        data = explorer_data(pkg.front)
    data = with_packaged(data, members, title)
    if previous is not None:
        data = with_previous(data, *previous)
    return render_explorer(data)


def version_section(pkg: Package, names: RepoNames, tag: str, previous: tuple[str, Front] | None) -> str:
    """Markdown naming the version, its member repos and what changed (deterministic: no dates)."""
    lines = [
        f"## Published version `{tag}`",
        "",
        f"Front version id `{pkg.front_version_id}` of hardware profile `{pkg.profile}`, published with "
        f"ofa2-zoo {__version__}. Every member repository carries the tag `{tag}` on the commit with "
        "this version's files; versions are immutable.",
        "",
        "| k | timm name | Hub repo at this version | load |",
        "|---|---|---|---|",
    ]
    for m in pkg.manifest.members:
        repo = names.member(m.k)
        lines.append(f"| {m.k} | `{m.name}.{tag}` | [{repo}](/{repo}/tree/{tag}) | "
                     f"`timm.create_model(\"hf-hub:{repo}@{tag}\", pretrained=True)` |")
    lines.append("")
    if previous is None:
        lines += ["## Changes", "", "First published version of this front."]
    else:
        prev_tag, prev_front = previous
        lines += [f"## Changes from `{prev_tag}`", "", diff_fronts(prev_front, pkg.front).to_markdown()]
    return "\n".join(lines)
