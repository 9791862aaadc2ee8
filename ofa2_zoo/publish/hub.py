"""The Hub operations publishing needs, each retried with backoff when the failure is transient.

A thin layer over :class:`huggingface_hub.HfApi`. What makes retries safe is that every
writing step is *idempotent by content*: :meth:`Hub.sync` reads the branch head and its file
list, commits only the difference (with the head as ``parentCommit``) and, when retried after
a commit whose answer was lost, finds nothing left to change instead of committing twice;
:meth:`Hub.tag` accepts an existing tag only if it already points at the intended commit.

The token is never passed around here: ``HfApi`` takes it from ``HF_TOKEN`` or the saved HF
login for every request, and nothing in this module formats request headers into messages.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

from .._version import __version__
from ..errors import HubUnavailable, MalformedReply, clip, describe, shorten
from .content import KEEP_REMOTE, LocalFile, RepoContent

T = TypeVar("T")
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAIN = "main"


@dataclass(frozen=True)
class RetryPolicy:
    """How often (``attempts`` in all) and how patiently a transient Hub failure is retried:
    waits of ``base_delay`` × 2^i seconds, at most ``max_delay``."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, failed_attempts: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (failed_attempts - 1))


DEFAULT_RETRY = RetryPolicy()


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Timeouts, connection resets and broken responses of the HTTP library huggingface_hub uses
    (httpx2 from huggingface_hub 2, httpx before); looked up when an error is classified, which
    is rare, rather than when this module is imported."""
    out: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        out += [mod.TimeoutException, mod.NetworkError, mod.RemoteProtocolError]
    return tuple(out)


def is_transient(exc: BaseException) -> bool:
    """A 5xx/408/429 answer, a timeout or a reset, possibly wrapped (huggingface_hub wraps LFS
    upload errors in a RuntimeError)."""
    from huggingface_hub.errors import HfHubHTTPError

    transport, seen = _transport_errors(), 0
    while exc is not None and seen < 10:
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            return exc.response.status_code in TRANSIENT_STATUS
        if isinstance(exc, transport):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _commit_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _COMMIT_ID.match(value):
        raise MalformedReply(f"the Hub's reply gives {what} as {shorten(value, 60)}, not a 40-digit commit id")
    return value


def _ref_map(items: Any, what: str) -> dict[str, str]:
    """name -> commit of a refs listing's branches or tags, each checked."""
    out: dict[str, str] = {}
    for item in items:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name or len(name) > 256 or not name.isprintable():
            raise MalformedReply(f"the Hub's refs listing has a {what} named {shorten(name, 60)}")
        if name in out:
            raise MalformedReply(f"the Hub's refs listing names the {what} {shorten(name, 60)} twice")
        out[name] = _commit_id(getattr(item, "target_commit", None), f"the commit of {what} {shorten(name, 60)}")
    return out


def read_refs(api: Any, repo_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """(branches, tags) of ``repo_id``, each ``name -> commit id``; a reply that is not a refs
    listing is a :class:`MalformedReply` (huggingface_hub's own parse errors included)."""
    try:
        refs = api.list_repo_refs(repo_id)
        branches, tags = refs.branches, refs.tags
        return _ref_map(branches, "branch"), _ref_map(tags, "tag")
    except MalformedReply:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a JSON decode error is a ValueError
        raise MalformedReply(f"the Hub's reply is not a refs listing ({type(exc).__name__}: "
                             f"{clip(str(exc), 60)})") from None


@contextlib.contextmanager
def request_timeout(seconds: float | None) -> Iterator[None]:
    """Give huggingface_hub's shared HTTP client a timeout (it has none by default), so a stalled
    connection becomes a retryable timeout instead of a hang; restored afterwards."""
    try:
        from huggingface_hub import set_client_factory
        from huggingface_hub.utils import _http

        previous = _http._GLOBAL_CLIENT_FACTORY
    except (ImportError, AttributeError):  # a huggingface_hub without a client factory: keep its defaults
        previous = None
    if seconds is None or previous is None:
        yield
        return

    def factory() -> Any:
        client = previous()
        client.timeout = type(client.timeout)(seconds)
        return client

    set_client_factory(factory)
    try:
        yield
    finally:
        set_client_factory(previous)


@dataclass(frozen=True)
class RemoteFile:
    blob_id: str
    sha256: str | None  # set for LFS files
    size: int


@dataclass(frozen=True)
class RepoState:
    exists: bool
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Changes:
    add: tuple[LocalFile, ...] = ()
    update: tuple[LocalFile, ...] = ()
    delete: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.add or self.update or self.delete)

    def describe(self) -> str:
        if self.empty:
            return "no file changes"
        parts = [f"add {_files(self.add)}" if self.add else "", f"update {_files(self.update)}" if self.update else "",
                 f"delete {', '.join(self.delete)}" if self.delete else ""]
        return "; ".join(p for p in parts if p)


def _files(files: tuple[LocalFile, ...]) -> str:
    return ", ".join(f"{f.path_in_repo} ({_size(f.size)})" for f in files)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def changes_between(content: RepoContent, remote: dict[str, RemoteFile]) -> Changes:
    add, update = [], []
    for path, f in sorted(content.files.items()):
        r = remote.get(path)
        if r is None:
            add.append(f)
        elif not f.same_as(r.blob_id, r.sha256):
            update.append(f)
    delete = sorted(p for p in remote if p not in content.files and p not in KEEP_REMOTE)
    return Changes(tuple(add), tuple(update), tuple(delete))


class Hub:
    """Retried Hub operations on one ``HfApi`` (endpoint from ``HF_ENDPOINT``, token from env/login)."""

    def __init__(self, api: Any = None, retry: RetryPolicy = DEFAULT_RETRY, sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[str], None] | None = None):
        from huggingface_hub import HfApi

        self.api = api if api is not None else HfApi(library_name="ofa2-zoo", library_version=__version__)
        self.retry, self.sleep = retry, sleep
        self.on_retry = on_retry or (lambda msg: None)

    @property
    def endpoint(self) -> str:
        return self.api.endpoint

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:  # bounded by retry.attempts
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised as HubUnavailable
                if not is_transient(exc) or attempt >= self.retry.attempts:
                    raise HubUnavailable(what, exc, attempt) from exc
                wait = self.retry.delay(attempt)
                self.on_retry(f"{what}: {describe(exc)}; retry {attempt}/{self.retry.attempts - 1} in {wait:.1f} s")
                self.sleep(wait)

    # ------------------------------------------------------------------ reading
    def whoami(self) -> str:
        return self.retrying("checking the token (whoami)", lambda: self.api.whoami()["name"])

    def state(self, repo_id: str) -> RepoState:
        from huggingface_hub.errors import RepositoryNotFoundError

        def once() -> RepoState:
            try:
                branches, tags = read_refs(self.api, repo_id)
            except RepositoryNotFoundError:
                return RepoState(False)
            return RepoState(True, branches, tags)

        return self.retrying(f"reading the refs of {repo_id}", once)

    def tree(self, repo_id: str, revision: str) -> dict[str, RemoteFile]:
        return self.retrying(f"listing the files of {repo_id}@{revision[:12]}", lambda: self._tree(repo_id, revision))

    def _tree(self, repo_id: str, revision: str) -> dict[str, RemoteFile]:
        out = {}
        try:
            for f in self.api.list_repo_tree(repo_id, recursive=True, revision=revision):
                if hasattr(f, "blob_id"):  # files; folders have a tree id
                    out[f.path] = _remote_file(f)
        except MalformedReply:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise MalformedReply(f"the Hub's reply is not a file listing ({type(exc).__name__}: "
                                 f"{clip(str(exc), 60)})") from None
        return out

    def read(self, repo_id: str, path: str, revision: str) -> bytes:
        """A file's bytes at ``revision``, straight from the Hub (nothing is written to the HF cache)."""
        from huggingface_hub import get_session, hf_hub_url
        from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

        def once() -> bytes:
            url = hf_hub_url(repo_id, path, revision=revision, endpoint=self.endpoint)
            r = get_session().get(url, headers=build_hf_headers(token=self.api.token, library_name="ofa2-zoo",
                                                                library_version=__version__))
            hf_raise_for_status(r)
            return r.content

        return self.retrying(f"reading {path} of {repo_id}@{revision}", once)

    # ------------------------------------------------------------------ writing
    def ensure_repo(self, repo_id: str) -> None:
        self.retrying(f"creating {repo_id}", lambda: self.api.create_repo(repo_id, exist_ok=True))

    def changes(self, content: RepoContent, state: RepoState) -> Changes:
        """What a commit to ``main`` would change now (everything is new in a repo that doesn't exist)."""
        remote = self.tree(content.repo_id, state.branches[MAIN]) if state.exists and MAIN in state.branches else {}
        return changes_between(content, remote)

    def sync(self, content: RepoContent, message: str, description: str) -> tuple[str, Changes]:
        """Make ``main`` hold exactly ``content``; returns (commit id, what the commit changed).

        One retried unit: a retry re-reads the head, so a commit that landed although its answer
        was lost is found (no changes left) rather than made twice.
        """
        return self.retrying(f"committing to {content.repo_id}", lambda: self._sync_once(content, message,
                                                                                          description))

    def _sync_once(self, content: RepoContent, message: str, description: str) -> tuple[str, Changes]:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        branches, _ = read_refs(self.api, content.repo_id)
        if MAIN not in branches:
            raise MalformedReply(f"the Hub's refs listing of {content.repo_id} has no {MAIN} branch after creating it")
        head = branches[MAIN]
        changes = changes_between(content, self._tree(content.repo_id, head))
        if changes.empty:
            return head, changes
        ops = [CommitOperationAdd(f.path_in_repo, f.upload_source()) for f in (*changes.add, *changes.update)]
        ops += [CommitOperationDelete(p) for p in changes.delete]
        info = self.api.create_commit(content.repo_id, ops, commit_message=message, commit_description=description,
                                      parent_commit=head)
        return _commit_id(getattr(info, "oid", None), "the new commit"), changes

    def tag(self, repo_id: str, tag: str, commit: str, message: str) -> None:
        """Create ``tag`` on ``commit``; an existing tag is accepted only if it already points there."""
        from huggingface_hub.errors import HfHubHTTPError

        from .errors import TagConflict

        def once() -> None:
            try:
                self.api.create_tag(repo_id, tag=tag, revision=commit, tag_message=message)
            except HfHubHTTPError as exc:
                if exc.response is None or exc.response.status_code != 409:
                    raise
                have = read_refs(self.api, repo_id)[1].get(tag)
                if have != commit:
                    raise TagConflict(f"{repo_id} already has tag {tag} on commit {str(have)[:12]}, not on "
                                      f"{commit[:12]}; versions are immutable") from None

        self.retrying(f"tagging {repo_id} {tag}", once)


def _remote_file(f: Any) -> RemoteFile:
    """A file entry of a tree listing, checked (a blob id, a size, an LFS sha256 when LFS)."""
    path, size, sha256 = f.path, f.size, f.lfs.sha256 if f.lfs else None
    if not isinstance(path, str) or not path or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MalformedReply(f"the Hub's file listing has an entry {shorten(path, 60)} of size {shorten(size, 30)}")
    if not isinstance(f.blob_id, str) or not _COMMIT_ID.match(f.blob_id):
        raise MalformedReply(f"the Hub's file listing gives {shorten(path, 60)} the blob id {shorten(f.blob_id, 60)}")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256)):
        raise MalformedReply(f"the Hub's file listing gives {shorten(path, 60)} the LFS sha256 {shorten(sha256, 60)}")
    return RemoteFile(f.blob_id, sha256, size)
