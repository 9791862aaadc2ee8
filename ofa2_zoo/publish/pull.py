"""``pull``: fetch exactly one published version of a front member from the Hub.

``ofa2 pull ofa2_note10_front_3.v2`` looks the name up in the zoo index (member 3 of version
``v2`` of the ``note10`` front; without ``.v<N>`` the newest version that has member 3) and
downloads that member repo at its version tag into the Hugging Face cache — the same cache
``timm.create_model(..., pretrained=True)`` reads, so a pulled model then loads offline
(``HF_HUB_OFFLINE=1``). A version the index recorded with its Hub endpoint (``ofa2 publish``
writes it) is pulled from that Hub, whatever ``HF_ENDPOINT`` says. ``org/repo@v2`` pulls a repo
directly. Always a ``v<N>`` tag, never a
moving branch; the downloaded ``config.json`` is checked against the arch the index lists.
Concurrent pulls of the same model are safe (huggingface_hub locks each file in the cache).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .._schema import REPO_ID, VERSION_TAG, is_version_tag, version_number
from ..constants import offline
from .errors import PullError
from .hub import DEFAULT_RETRY, Hub, HubUnavailable, RetryPolicy, describe

_NAME_RE = re.compile(r"^ofa2_(?:(?P<profile>[a-z0-9_]+?)_)?front_(?P<k>\d+)(?:\.(?P<tag>" + VERSION_TAG + "))?$")
_REPO_RE = re.compile(r"^(?P<repo>" + REPO_ID + r")(?:@(?P<tag>[A-Za-z0-9._-]+))?$")


@dataclass(frozen=True)
class PullTarget:
    name: str
    repo_id: str
    revision: str
    arch: dict | None = None  # what the zoo index says the member is
    endpoint: str | None = None  # the Hub the zoo index recorded it on (None: HF_ENDPOINT's)


@dataclass(frozen=True)
class PullResult:
    target: PullTarget
    commit: str | None
    path: Path  # the snapshot folder (or local_dir)
    files: tuple[str, ...]


def resolve_target(name: str, index_path: str | os.PathLike | None = None) -> PullTarget:
    """What ``NAME[.vN]`` or ``org/repo[@vN]`` stands for (a repo without a tag: its newest ``v<N>``).

    Names are looked up in ``index_path``, or by default in the shipped zoo index together with
    the user index (versions this user published)."""
    m = _NAME_RE.match(name)
    if m:
        return _from_index(name, m, _indexes(index_path))
    m = _REPO_RE.match(name)
    if m:
        tag = m.group("tag") or _newest_tag(m.group("repo"))
        return PullTarget(name, m.group("repo"), tag)
    raise PullError(f"{name!r} is neither an ofa2 model name (ofa2_<profile>_front_<k>[.vN], ofa2_front_<k>[.vN]) "
                    f"nor a Hub repo id (org/repo[@vN]){_suggest(name, _indexes(index_path))}")


def _indexes(index_path: str | os.PathLike | None) -> list:
    from ..errors import Ofa2Error
    from ..zoo.index import ZooIndex, shipped_index_path, user_index_path

    paths = [Path(index_path)] if index_path is not None else [shipped_index_path(), user_index_path()]
    try:
        return [ZooIndex.load(p) for p in paths if index_path is not None or p.exists()] or [ZooIndex()]
    except Ofa2Error as exc:
        raise PullError(str(exc)) from None


def _suggest(name: str, indexes: list) -> str:
    """Close known names (published, local, embedded), or a pointer to ``ofa2 zoo list``."""
    from ..zoo.entries import Zoo, hub_entries, suggest

    zoo = Zoo(indexes[0].default_profile, hub_entries(*indexes))
    tables = [zoo.by_name(), _zoo_names()]
    names = [n for t in tables for n in t] + [f"{n}.{tag}" for t in tables for n, tags in t.items() for tag in tags]
    return suggest(name, names) or "; `ofa2 zoo list` shows every known name"


def _zoo_names() -> dict:
    """name -> tag -> entry of everything the zoo registers (its warnings are `ofa2 zoo list`'s to show)."""
    import warnings

    from ..zoo.entries import collect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return collect().by_name()


def _not_on_the_hub(name: str) -> str:
    """Where a name that has no Hub version comes from, if the zoo has it (nothing to pull then)."""
    tags = _zoo_names().get(name.split(".")[0], {})
    return f"; it is in the zoo as {', '.join('.' + t for t in tags)}, which load without pulling" if tags else ""


def _from_index(name: str, m: re.Match, indexes: list) -> PullTarget:
    from ..zoo.entries import hub_entries

    entries = hub_entries(*indexes)
    wanted = m.group("profile")
    profiles = sorted({e.profile for e in entries})
    if wanted is None:
        profile = indexes[0].default_profile
    else:
        found = [p for p in profiles if p.replace("-", "_") == wanted]
        if not found:
            raise PullError(f"no published front of profile {wanted!r} in the zoo index "
                            f"(published: {', '.join(profiles) or 'none'}){_not_on_the_hub(name)}{_suggest(name, indexes)}")
        profile = found[0]
    k, tag = int(m.group("k")), m.group("tag")
    rows = sorted((e for e in entries if e.profile == profile and e.k == k and tag in (None, e.tag)),
                  key=lambda e: version_number(e.tag))
    if not rows:
        have = ", ".join(sorted({e.tag for e in entries if e.profile == profile}, key=version_number)) or "none"
        raise PullError(f"{name}: the {profile} front has no {'version ' + tag if tag else 'version'} with a member "
                        f"{k} (published versions: {have}){_not_on_the_hub(name)}{_suggest(name, indexes)}")
    row = rows[-1]
    repo_id, _, revision = row.where.partition("@")
    if not is_version_tag(revision):
        raise PullError(f"{name}: the zoo index points at revision {revision!r}, not a version tag")
    return PullTarget(name, repo_id, revision, dict(row.arch), row.endpoint)


def _newest_tag(repo_id: str) -> str:
    from huggingface_hub import constants, scan_cache_dir

    if offline():
        try:
            repos = [r for r in scan_cache_dir(constants.HF_HUB_CACHE).repos if r.repo_id == repo_id]
        except Exception:  # noqa: BLE001 - no cache yet
            repos = []
        tags = [t for r in repos for t in r.refs if is_version_tag(t)]
    else:
        try:
            tags = [t for t in Hub().state(repo_id).tags if is_version_tag(t)]
        except HubUnavailable as exc:
            raise PullError(f"cannot list the versions of {repo_id}: {exc}") from None
    if not tags:
        raise PullError(f"{repo_id} has no version tags (v1, v2, ...)" + (" in the local cache (offline)"
                                                                          if offline() else ""))
    return max(tags, key=lambda t: int(t[1:]))


def pull(name: str, *, index_path: str | os.PathLike | None = None, local_dir: str | os.PathLike | None = None,
         retry: RetryPolicy = DEFAULT_RETRY) -> PullResult:
    """Download the member ``name`` at its version tag; returns where its files are."""
    from huggingface_hub import constants, snapshot_download

    target = resolve_target(name, index_path)
    cache_only = offline()

    def fetch() -> str:
        return snapshot_download(target.repo_id, revision=target.revision, cache_dir=constants.HF_HUB_CACHE,
                                 local_dir=local_dir, endpoint=target.endpoint, local_files_only=cache_only)

    try:
        path = Path(fetch() if cache_only else Hub(retry=retry).retrying(f"downloading {target.repo_id}@"
                                                                      f"{target.revision}", fetch))
    except HubUnavailable as exc:
        raise PullError(f"cannot pull {target.name}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - huggingface_hub's errors, one line for the user
        hint = " (offline mode is on and it is not in the local cache: pull it once online)" if cache_only else ""
        raise PullError(f"cannot pull {target.name} ({target.repo_id}@{target.revision}): {describe(exc)}{hint}") \
            from None
    _check(target, path)
    files = tuple(sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".cache" not in p.parts))
    commit = path.name if re.fullmatch(r"[0-9a-f]{40}", path.name) else None
    return PullResult(target, commit, path, files)


def _check(target: PullTarget, path: Path) -> None:
    """The downloaded files stay inside the repo's cache folder (or ``local_dir``), and an ofa2
    member's config.json and weights are what the zoo index says: schema, arch, tensor shapes."""
    from .._io import read_json_capped
    from ..errors import FileTooLarge, Ofa2Error
    from ..package.verify import MAX_CONFIG_BYTES, check_weights, config_arch, read_config

    where = f"{target.repo_id}@{target.revision}"
    # In the Hugging Face cache a snapshot's files are links into the repo's blobs/ folder.
    home = path.parents[1] if path.parent.name == "snapshots" else path
    for p in path.rglob("*"):
        if ".cache" in p.relative_to(path).parts:
            continue
        if not p.resolve().is_relative_to(home.resolve()):
            raise PullError(f"{where}: {p} resolves outside {home} ({p.resolve()}); refusing to use it "
                            "(fix: delete the folder and pull again)")
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        if target.arch is not None:
            raise PullError(f"{where} has no config.json: not an ofa2 member repo")
        return
    try:
        raw = read_json_capped(cfg_path, MAX_CONFIG_BYTES)
    except FileTooLarge as exc:
        raise PullError(f"{where}: config.json has {exc.size:,} bytes, more than a member's config.json may have "
                        f"({MAX_CONFIG_BYTES:,}; fix: publish the package again)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PullError(f"{where}: config.json is not valid JSON ({exc}; fix: publish the package again)") from None
    if target.arch is None and (not isinstance(raw, dict) or raw.get("architecture") != "ofa2_subnet"):
        return  # org/repo@tag of another kind of model: nothing of ours to check
    try:
        cfg = read_config(cfg_path, where)
        arch, space = config_arch(cfg, cfg_path, where)
        if target.arch is not None and arch.to_dict() != target.arch and \
                arch != type(arch).from_dict(target.arch, space):
            raise PullError(f"{where} does not hold the arch the zoo index lists for {target.name}; the index "
                            "and the Hub disagree (fix: update the zoo index, or publish the package again)")
        weights = path / "model.safetensors"
        if not weights.is_file():
            raise PullError(f"{where} has no model.safetensors")
        check_weights(weights, arch, space, where)
    except PullError:
        raise
    except Ofa2Error as exc:
        raise PullError(str(exc)) from None
