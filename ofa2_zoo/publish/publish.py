"""``publish``: put a packaged front on the Hugging Face Hub as an immutable, tagged version.

One repo per member and one front repo (see :mod:`ofa2_zoo.publish.content`). A version is
published in two phases:

1. **commits** — each repo's ``main`` is made to hold exactly the version's files, in one
   commit per repo (none where ``main`` already holds them: a member that did not change
   between versions keeps its commit);
2. **tags** — only when every commit is in place, tag ``v<N>`` is created on every repo,
   member repos first and the front repo last. The front repo's tag is what marks a version
   as published; it never exists before all members carry theirs.

So a failure at any request leaves no tag on an incomplete version; running the same publish
again finds the commits already made (by content), adds what is missing and creates the
missing tags, without duplicating a commit. Versions are immutable: a tag that exists with
other content is refused, never moved. A front identical to the newest version publishes
nothing ("unchanged"); another front becomes the next version, and its front card shows the
change from the previous version. Afterwards a zoo index records the version: the user index
(:func:`ofa2_zoo.zoo.user_index_path`, so later ``import ofa2_zoo`` registers it) or the file
given as ``index_path`` (CI passes the repository's shipped index and commits it). The index
inside an installed ofa2-zoo is never written.

Transient Hub failures (5xx, timeouts, connection resets) are retried with exponential
backoff; :class:`~ofa2_zoo.publish.errors.PublishFailed` reports what was and wasn't done.
The token comes from ``HF_TOKEN`` or the saved Hugging Face login only, and is never printed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from .._schema import is_version_tag, version_number
from ..constants import offline
from ..errors import Ofa2Error
from ..progress import ProgressFn, no_progress
from ..front import Front
from ..package.manifest import PackageManifest, read_manifest
from .content import Package, RepoContent, RepoNames, check_names, front_content, load_package, member_contents
from .errors import PublishError, PublishFailed, TagConflict
from .hub import DEFAULT_RETRY, MAIN, Changes, Hub, HubUnavailable, RepoState, RetryPolicy, request_timeout

Say = Callable[[str], None]
T = TypeVar("T")


@dataclass
class RepoOutcome:
    """What happened (or, in a dry run, would happen) to one repo."""

    repo_id: str
    role: str
    create_repo: bool = False
    changes: Changes = field(default_factory=Changes)
    commit: str | None = None  # the commit the version tag points (or will point) at
    committed: bool = False  # a new commit was made by this run
    tagged: bool = False  # the tag was created by this run
    already_tagged: bool = False  # the tag existed with this content (an earlier, interrupted run)

    def describe(self, tag: str, dry_run: bool) -> str:
        if self.already_tagged:
            return f"{self.repo_id}: already holds {tag} with this content"
        verb = "would" if dry_run else "did"
        steps = []
        if self.create_repo:
            steps.append("create the repo" if dry_run else "created the repo")
        if self.changes.empty:
            steps.append("no new commit (main already holds these files)")
        elif dry_run or self.committed:
            steps.append(f"{'commit' if dry_run else 'committed'} {self.changes.describe()}")
        if dry_run:
            steps.append(f"tag {tag}")
        elif self.tagged:
            steps.append(f"tagged {tag} on {self.commit[:12]}")
        else:
            steps.append(f"not tagged {tag}")
        return f"{self.repo_id}: " + (f"{verb} " if dry_run else "") + "; ".join(steps)


@dataclass
class PublishResult:
    """Summary of a publish: ``status`` is "published", "unchanged", "dry-run" or "failed"."""

    status: str
    profile: str
    front_version_id: str
    version: str
    previous: str | None
    endpoint: str
    repos: list[RepoOutcome] = field(default_factory=list)
    index_path: Path | None = None
    index_updated: bool = False
    index_pending: bool = False  # dry run: the zoo index does not record this version yet
    error: str | None = None

    def lines(self) -> list[str]:
        dry = self.status == "dry-run"
        head = {
            "published": f"published {self.profile} front {self.front_version_id[:12]} as {self.version}",
            "unchanged": f"unchanged: {self.profile} front {self.front_version_id[:12]} is already the newest "
                         f"version, {self.version}; nothing was created",
            "dry-run": f"dry run: would publish {self.profile} front {self.front_version_id[:12]} as {self.version}",
            "failed": f"FAILED publishing {self.profile} front {self.front_version_id[:12]} as {self.version}",
        }[self.status]
        out = [f"{head} on {self.endpoint}" + (f" (previous version: {self.previous})" if self.previous else "")]
        out += ["  " + r.describe(self.version, dry) for r in self.repos]
        if self.index_path is not None:
            if self.index_pending:
                out.append(f"  zoo index {self.index_path}: would record {self.profile} {self.version}")
            elif self.index_updated:
                out.append(f"  zoo index {self.index_path}: recorded {self.profile} {self.version}")
            elif self.status in ("published", "unchanged"):
                out.append(f"  zoo index {self.index_path}: already records {self.profile} {self.version}")
        if self.error:
            out.append(f"  error: {self.error}")
        return out


def _published_versions(state: RepoState) -> list[str]:
    return sorted((t for t in state.tags if is_version_tag(t)), key=version_number)


def _token_present() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())


def publish(package_dir: str | os.PathLike, namespace: str, *, dry_run: bool = False, version: str | None = None,
            index_path: str | os.PathLike | None = None, update_index: bool = True,
            retry: RetryPolicy = DEFAULT_RETRY, timeout: float | None = 60.0, hub: Hub | None = None,
            say: Say | None = None, progress: ProgressFn | None = None) -> PublishResult:
    """Publish the package in ``package_dir`` under the Hub user/organization ``namespace``.

    ``dry_run``: read the Hub, change nothing, return (and ``say``) what would be done.
    ``version``: the tag to create (default: the next ``v<N>``); refused if it exists with other
    content. ``index_path``: the zoo index to record the version in (default: the user index,
    :func:`ofa2_zoo.zoo.user_index_path`); ``update_index=False`` skips it. ``retry``/``timeout``:
    transient-failure policy and per-request timeout (s). ``hub``: a :class:`Hub` to use
    (default: one on ``HF_ENDPOINT`` with the token from ``HF_TOKEN``/the HF login).
    ``say(line)`` reports each repo's outcome; ``progress(step, done, total)`` counts the
    commits (uploads) and tags as they happen.

    Args:
        package_dir: The package folder (``ofa2 package`` output).
        namespace: The Hub user or organization.
        dry_run: Read the Hub, change nothing, return (and ``say``) what would be done.
        version: The tag to create (default: the next ``v<N>``); refused if it exists with other content.
        index_path: The zoo index to record the version in (default: the user index).
        update_index: Whether to record the version in that index.
        retry: Retry policy for transient Hub failures.
        timeout: Per-request timeout (s), or ``None`` for none.
        hub: The :class:`Hub` to use (default: one on ``HF_ENDPOINT`` with the user's token).
        say: Called with one line per repo's outcome; ``None`` for none.
        progress: Called with (step, done, total) as commits and tags happen; ``None`` for none.
    """
    say = say or (lambda line: None)
    pkg = load_package(package_dir)
    names = check_names(namespace, pkg.profile, len(pkg.members))
    if version is not None and not is_version_tag(version):
        raise PublishError(f"version must look like v1, v2, ... (got {version!r})")
    if offline():
        raise PublishError("offline mode is on (HF_HUB_OFFLINE or OFA2_OFFLINE): cannot publish; unset it")
    if not dry_run and not _token_present():
        raise PublishError("no Hugging Face token: set HF_TOKEN (a write token; in CI the HF_TOKEN secret) or "
                           "run `hf auth login`; nothing was published")
    index_file = _index_file(index_path) if update_index else None
    hub = hub or Hub(retry=retry, on_retry=lambda msg: say(f"  retrying: {msg}"))
    with request_timeout(timeout):
        try:
            return _publish(pkg, names, hub, dry_run, version, index_file, say, progress or no_progress)
        except HubUnavailable as exc:
            if isinstance(exc.cause, Ofa2Error):
                raise exc.cause from None
            raise PublishError(f"could not read the Hub state before publishing ({exc}); nothing was published") \
                from None


def _index_file(index_path: str | os.PathLike | None) -> Path:
    from ..zoo import user_index_path

    return Path(index_path) if index_path is not None else user_index_path()


def _publish(pkg: Package, names: RepoNames, hub: Hub, dry_run: bool, version: str | None, index_file: Path | None,
             say: Say, progress: ProgressFn) -> PublishResult:
    if not dry_run:
        try:
            hub.whoami()
        except HubUnavailable as exc:
            if exc.cause is not None and getattr(getattr(exc.cause, "response", None), "status_code", None) == 401:
                raise PublishError("the Hub rejected the token (HTTP 401): set HF_TOKEN to a valid write token or "
                                   "run `hf auth login`; nothing was published") from None
            raise
    front_state = hub.state(names.front)
    published = _published_versions(front_state)
    newest = published[-1] if published else None
    fvid = pkg.front_version_id
    newest_manifest = _manifest_at(hub, names.front, newest) if newest else None

    if version is not None and version in published:
        have = newest_manifest if version == newest else _manifest_at(hub, names.front, version)
        if have.front_version_id != fvid:
            raise TagConflict(f"{names.front} already has version {version} = front {have.front_version_id[:12]}, "
                              f"not {fvid[:12]}; versions are immutable: publish without --version to make the "
                              "next version")
        return _unchanged(pkg, names, version, hub, index_file, dry_run, say)
    if version is None and newest_manifest is not None and newest_manifest.front_version_id == fvid:
        return _unchanged(pkg, names, newest, hub, index_file, dry_run, say)
    tag = version or f"v{version_number(newest) + 1 if newest else 1}"
    if newest and version_number(tag) <= version_number(newest):
        raise PublishError(f"version {tag} is not newer than the newest published version {newest} of {names.front}")

    previous = (newest, _front_at(hub, names.front, newest)) if newest else None
    contents = member_contents(pkg, names) + [front_content(pkg, names, tag, previous)]
    states = {c.repo_id: (front_state if c.repo_id == names.front else hub.state(c.repo_id)) for c in contents}
    outcomes = [_check_existing_tag(hub, c, states[c.repo_id], tag) for c in contents]
    result = PublishResult("dry-run" if dry_run else "published", pkg.profile, fvid, tag, newest, hub.endpoint,
                           outcomes, index_file, index_pending=dry_run and index_file is not None)
    if dry_run:
        for c, o in zip(contents, outcomes, strict=True):
            if not o.already_tagged:
                o.create_repo = not states[c.repo_id].exists
                o.changes = hub.changes(c, states[c.repo_id])
        for line in result.lines():
            say(line)
        return result

    message = f"ofa2-zoo: {pkg.profile} front {tag}"
    description = f"front_version_id: {fvid}\nprofile: {pkg.profile}\nversion: {tag}\n"
    step = "committing"
    todo = sum(not o.already_tagged for o in outcomes)
    done = 0
    try:
        for c, o in zip(contents, outcomes, strict=True):  # phase 1: one commit per repo
            if o.already_tagged:
                continue
            progress(f"uploading {c.repo_id}", done, 2 * todo)
            if not states[c.repo_id].exists:
                hub.ensure_repo(c.repo_id)
                o.create_repo = True
            o.commit, o.changes = hub.sync(c, f"{message} ({c.role})", description)
            o.committed = not o.changes.empty
            say(f"  {c.repo_id}: " + (f"committed {o.commit[:12]}" if o.committed else
                                      f"main already holds these files ({o.commit[:12]})"))
            done += 1
        step = "tagging"
        for c, o in zip(contents, outcomes, strict=True):  # phase 2: tags, members first, the front repo last
            if o.already_tagged:
                continue
            progress(f"tagging {c.repo_id}", done, 2 * todo)
            hub.tag(c.repo_id, tag, o.commit, f"{message}; front_version_id {fvid}")
            o.tagged = True
            say(f"  {c.repo_id}: tagged {tag}")
            done += 1
        progress("published", done, 2 * todo)
    except HubUnavailable as exc:
        result.status, result.error = "failed", str(exc)
        if isinstance(exc.cause, TagConflict):
            result.error = str(exc.cause)
        raise PublishFailed(_failure_message(result, step), result) from None
    result.index_updated = _record(pkg, names, tag, index_file, hub.endpoint)
    for line in result.lines():
        say(line)
    return result


def _failure_message(result: PublishResult, step: str) -> str:
    done = [r.repo_id for r in result.repos if r.tagged or r.already_tagged]
    committed = [r.repo_id for r in result.repos if r.commit and not (r.tagged or r.already_tagged)]
    todo = [r.repo_id for r in result.repos if not r.commit and not r.already_tagged]
    parts = [f"publishing {result.profile} {result.version} failed while {step}: {result.error}"]
    if done:
        parts.append(f"tagged {result.version}: {', '.join(done)}")
    if committed:
        parts.append(f"committed, not tagged: {', '.join(committed)}")
    if todo:
        parts.append(f"not committed: {', '.join(todo)}")
    parts.append(f"no {result.version} tag was put on an incomplete version; run the same publish again to "
                 "complete it")
    return "; ".join(parts)


def _check_existing_tag(hub: Hub, content: RepoContent, state: RepoState, tag: str) -> RepoOutcome:
    """A tag ``tag`` already on the repo must hold exactly this content (an interrupted run of this
    same publish); anything else is a different version under an existing tag: refused."""
    outcome = RepoOutcome(content.repo_id, content.role)
    if tag in state.tags:
        commit = state.tags[tag]
        if not hub.changes(content, RepoState(True, {MAIN: commit})).empty:
            raise TagConflict(f"{content.repo_id} already has tag {tag} with other content; versions are immutable "
                              f"(an interrupted publish of another front? finish it with its own package, or "
                              f"delete the stray tag {tag} on that repo); nothing was published")
        outcome.commit, outcome.already_tagged = commit, True
    return outcome


def _manifest_at(hub: Hub, repo_id: str, tag: str) -> PackageManifest:
    return _load_bytes(hub.read(repo_id, "package.json", tag), "package.json", read_manifest, f"{repo_id}@{tag}")


def _front_at(hub: Hub, repo_id: str, tag: str) -> Front:
    return _load_bytes(hub.read(repo_id, "front.json", tag), "front.json", Front.load, f"{repo_id}@{tag}")


def _load_bytes(data: bytes, name: str, loader: Callable[[Path], T], where: str) -> T:
    """Parse a file read from the Hub (``where``: repo@tag) with the validating loader for that
    file kind; its errors name the file on the Hub, not the temporary copy."""
    with tempfile.TemporaryDirectory(prefix="ofa2-publish-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return loader(path)
        except Ofa2Error as exc:
            raise PublishError(f"{name} of {where} on the Hub is invalid: {str(exc).replace(str(path), name)}; "
                               "nothing was published") from None


def _unchanged(pkg: Package, names: RepoNames, tag: str, hub: Hub, index_file: Path | None, dry_run: bool,
               say: Say) -> PublishResult:
    result = PublishResult("unchanged", pkg.profile, pkg.front_version_id, tag, None, hub.endpoint, [], index_file)
    if dry_run:
        result.index_pending = index_file is not None and not _records(pkg, tag, index_file)
    else:
        result.index_updated = _record(pkg, names, tag, index_file, hub.endpoint)
    for line in result.lines():
        say(line)
    return result


def _records(pkg: Package, tag: str, index_file: Path) -> bool:
    """Whether the zoo index file already records this front as ``tag`` (read only, for dry runs)."""
    from ..zoo.index import ZooIndex

    try:
        index = ZooIndex.load(index_file)
    except Ofa2Error:  # missing or unreadable: a real run would create or report it
        return False
    return _holds(index, pkg, tag)


def _holds(index, pkg: Package, tag: str) -> bool:
    """Whether a loaded :class:`~ofa2_zoo.zoo.index.ZooIndex` records this front as ``tag``."""
    return any(v.version == tag and v.front_version_id == pkg.front_version_id for v in index.versions(pkg.profile))


def _record(pkg: Package, names: RepoNames, tag: str, index_file: Path | None, endpoint: str) -> bool:
    """Add the version to the zoo index file (idempotent), with the Hub ``endpoint`` it is on (later
    loads use that Hub whatever HF_ENDPOINT says then); True if the file changed."""
    if index_file is None:
        return False
    from ..zoo.index import edit_index
    from ..zoo.records import hub_index_members

    try:
        with edit_index(index_file) as index:
            if _holds(index, pkg, tag):
                return False
            before = index.model_dump()
            rows = hub_index_members(pkg.path, {k: names.member(k) for k in pkg.members}, tag, endpoint)
            index.add_version(pkg.profile, pkg.front_version_id, rows, version=tag)
            return index.model_dump() != before
    except Ofa2Error as exc:
        raise PublishError(f"{tag} is published on the Hub, but the zoo index {index_file} could not record it: "
                           f"{exc}") from None
