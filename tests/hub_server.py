"""A loopback Hugging Face Hub for tests: enough of the Hub's HTTP API for the real clients.

Test fixture only, not part of the installed package. ``huggingface_hub`` ships no test
server (and ``hf-local-hub`` needs a Go binary that is not shipped), so the publish tests
run the real ``huggingface_hub`` and ``timm`` clients against this one. It is bound to
127.0.0.1 on free ports and serves from background threads:

- the **API** origin (``server.endpoint``, what ``HF_ENDPOINT`` points at): repo create /
  delete, ``whoami-v2``, model info (siblings, ``sha``, ``?blobs``), refs, commits, tree,
  paths-info, ``preupload`` (upload modes, remote oids), the NDJSON ``commit`` endpoint
  (regular and LFS files, deletions, ``parentCommit`` check), tags and branches, YAML
  validation of cards, the LFS batch and verify endpoints, and ``resolve`` (HEAD/GET) with
  ``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag``/``X-Linked-Size`` and the ``X-Error-Code``
  values the client maps to ``RepositoryNotFoundError``/``RevisionNotFoundError``/
  ``EntryNotFoundError``;
- the **storage** origin (``server.storage_endpoint``), playing the Hub's CDN/S3: LFS
  uploads (single PUT or multipart parts + completion) and LFS downloads (with ``Range``).
  A different origin on purpose: the client then stops at the ``resolve`` redirect and
  reads the file metadata from it, and does not forward the token, as with the real Hub.

Storage is in memory and git-like: every commit has a sha1 id over its tree, parent and a
server sequence number; regular files have git blob ids, LFS files pointer-blob ids and
their sha256. A new repo starts with a ``.gitattributes`` commit, as on the Hub.

Uploads use the LFS protocol only: set ``HF_HUB_DISABLE_XET=1`` for the client (the
``xet-write-token`` route answers 501 saying so).

Fault injection: :meth:`HubServer.fail` adds a :class:`Fault` that matches requests by
global index (the n-th request the server received, both origins counted) or by a
predicate on :class:`RequestInfo`, and answers with an HTTP status (5xx), a connection
reset before handling, a reset *after* handling (the change is applied, the response is
lost), a stall (the server waits, then drops the connection) or a malformed answer (``body``:
HTTP 200 with the given bytes instead of the real reply). A ``before`` fault is a race
instead of a failure: it runs an action on the server state (another client's change, e.g.
:meth:`HubServer.tag_elsewhere`) just before handling the matched request normally. Every
request is logged in ``server.requests``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import json
import re
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, quote, unquote, urlsplit

import yaml

__all__ = ["HubServer", "Fault", "RequestInfo", "RequestRecord"]

LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.mlmodel", "*.model",
    "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth",
    "*.rar", "*.safetensors", "*.tar.*", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*"))
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024  # larger files are LFS whatever their name (as on the Hub)
NAME_RE = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
REF_NAME_RE = re.compile(r"^(?!.*(\.\.|//))[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
COMMITS_PER_PAGE = 50


# ---------------------------------------------------------------------------- git-like storage
def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    """One file of a commit: a regular git blob or an LFS pointer to ``sha256``."""

    path: str
    size: int
    blob_id: str  # git oid of the blob (of the pointer file for LFS)
    content: bytes | None = None  # regular files
    sha256: str | None = None  # LFS files

    @property
    def lfs(self) -> bool:
        return self.sha256 is not None

    @property
    def pointer_size(self) -> int:
        return len(LFS_POINTER.format(oid=self.sha256, size=self.size)) if self.lfs else 0

    @classmethod
    def regular(cls, path: str, data: bytes) -> "StoredFile":
        return cls(path, len(data), git_blob_id(data), content=data)

    @classmethod
    def lfs_file(cls, path: str, sha256: str, size: int) -> "StoredFile":
        pointer = LFS_POINTER.format(oid=sha256, size=size).encode()
        return cls(path, size, git_blob_id(pointer), sha256=sha256)


@dataclass
class Commit:
    id: str
    parent: str | None
    title: str
    message: str
    author: str
    date: str
    files: dict[str, StoredFile]


@dataclass
class Repo:
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    tag_messages: dict[str, str] = field(default_factory=dict)
    lfs: dict[str, bytes] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        """Commit id of a branch, a tag or a (full) commit id, else None."""
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.tags:
            return self.tags[revision]
        for prefix in ("refs/heads/", "refs/tags/"):
            if revision.startswith(prefix):
                return self.resolve(revision[len(prefix):])
        return revision if revision in self.commits else None

    def history(self, commit_id: str) -> list[Commit]:
        out, seen = [], set()
        while commit_id is not None and commit_id not in seen:  # bounded by the number of commits
            seen.add(commit_id)
            commit = self.commits[commit_id]
            out.append(commit)
            commit_id = commit.parent
        return out


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------------- requests, faults
@dataclass(frozen=True)
class RequestInfo:
    """What a fault predicate sees: the n-th request (0-based, both origins), its route and repo."""

    index: int
    origin: str  # "api" or "storage"
    method: str
    path: str
    route: str
    repo_id: str | None
    user_agent: str = ""  # the client's User-Agent header


@dataclass
class RequestRecord:
    info: RequestInfo
    status: int | str  # HTTP status, or "reset" / "reset_after" / "stall"
    fault: bool


@dataclass
class Fault:
    """A failure to inject. ``kind``: "status" (answer ``status`` without handling), "reset"
    (drop the connection before handling), "reset_after" (handle, then drop the connection:
    the change is applied but the client never sees the answer), "stall" (wait ``delay``
    seconds, then drop the connection), "before" (a race: run ``action(server, info)`` under
    the server lock, then handle the request normally), "body" (answer 200 with ``body`` as
    JSON content, without handling: a malformed reply). ``times``: how often it fires (None:
    every match)."""

    match: Callable[[RequestInfo], bool]
    kind: str = "status"
    status: int = 503
    delay: float = 2.0
    times: int | None = 1
    fired: int = 0
    action: Callable[["HubServer", RequestInfo], None] | None = None
    body: bytes = b""

    def __post_init__(self) -> None:
        if self.kind not in ("status", "reset", "reset_after", "stall", "before", "body"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if (self.kind == "before") != (self.action is not None):
            raise ValueError("a 'before' fault needs an action, and only it takes one")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None  # for HEAD: the length GET would send

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> "Response":
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


class HubError(Exception):
    """Turned into an error response with the Hub's ``X-Error-Code``/``X-Error-Message`` headers."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None,
                 **body: Any):
        super().__init__(message)
        self.status, self.message, self.code, self.headers, self.body = status, message, code, dict(headers or {}), body

    def response(self) -> Response:
        headers = {"X-Error-Message": self.message, **self.headers}
        if self.code:
            headers["X-Error-Code"] = self.code
        return Response.json({"error": self.message, **self.body}, self.status, headers)


# ---------------------------------------------------------------------------- the server
_API_ROUTES: list[tuple[str, str, re.Pattern]] = [
    (m, name, re.compile(p)) for m, name, p in [
        ("POST", "create_repo", r"^/api/repos/create$"),
        ("DELETE", "delete_repo", r"^/api/repos/delete$"),
        ("GET", "whoami", r"^/api/whoami-v2$"),
        ("GET", "agent_harnesses", r"^/api/agent-harnesses$"),
        ("POST", "validate_yaml", r"^/api/validate-yaml$"),
        ("GET", "model_info", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)(?:/revision/(?P<rev>[^/]+))?$"),
        ("GET", "refs", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/refs$"),
        ("GET", "commits", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/commits/(?P<rev>[^/]+)$"),
        ("GET", "tree", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$"),
        ("POST", "paths_info", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/paths-info/(?P<rev>[^/]+)$"),
        ("POST", "preupload", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/preupload/(?P<rev>[^/]+)$"),
        ("POST", "commit", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/commit/(?P<rev>[^/]+)$"),
        ("POST", "tag_create", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/tag/(?P<rev>[^/]+)$"),
        ("DELETE", "tag_delete", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/tag/(?P<rev>[^/]+)$"),
        ("POST", "branch_create", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/branch/(?P<rev>[^/]+)$"),
        ("DELETE", "branch_delete", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/branch/(?P<rev>[^/]+)$"),
        ("GET", "xet_token", r"^/api/models/(?P<ns>[^/]+)/(?P<name>[^/]+)/xet-(?:write|read)-token/(?P<rev>[^/]+)$"),
        ("POST", "lfs_batch", r"^/(?P<ns>[^/]+)/(?P<name>[^/]+?)\.git/info/lfs/objects/batch$"),
        ("POST", "lfs_verify", r"^/(?P<ns>[^/]+)/(?P<name>[^/]+?)\.git/info/lfs/objects/verify$"),
        ("HEAD", "resolve", r"^/(?P<ns>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"),
        ("GET", "resolve", r"^/(?P<ns>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"),
    ]
]
_STORAGE_ROUTES: list[tuple[str, str, re.Pattern]] = [
    (m, name, re.compile(p)) for m, name, p in [
        ("PUT", "lfs_upload", r"^/upload/(?P<ticket>[A-Za-z0-9_-]+)$"),
        ("PUT", "lfs_upload_part", r"^/upload/(?P<ticket>[A-Za-z0-9_-]+)/part/(?P<part>\d+)$"),
        ("POST", "lfs_complete", r"^/upload/(?P<ticket>[A-Za-z0-9_-]+)$"),
        ("GET", "lfs_download", r"^/objects/(?P<ns>[^/]+)/(?P<name>[^/]+)/(?P<oid>[0-9a-f]{64})$"),
        ("HEAD", "lfs_download", r"^/objects/(?P<ns>[^/]+)/(?P<name>[^/]+)/(?P<oid>[0-9a-f]{64})$"),
    ]
]


@dataclass
class _Upload:
    repo_id: str
    oid: str
    size: int
    parts: dict[int, bytes] = field(default_factory=dict)


class HubServer:
    """In-memory Hub on 127.0.0.1. Use as a context manager, or ``start()``/``stop()``.

    ``tokens``: accepted tokens -> user name (writes need one; reads of public repos don't).
    ``orgs``: user -> namespaces the user may write besides its own (a user not listed may
    write anywhere). ``multipart_threshold``: LFS objects at least this large are uploaded in
    parts of ``multipart_chunk`` bytes.
    """

    def __init__(self, tokens: Mapping[str, str] | None = None, orgs: Mapping[str, Iterable[str]] | None = None,
                 multipart_threshold: int = 64 * 1024 * 1024, multipart_chunk: int = 16 * 1024 * 1024):
        self.tokens = dict(tokens or {})
        self.orgs = {u: set(o) for u, o in (orgs or {}).items()}
        self.multipart_threshold, self.multipart_chunk = multipart_threshold, multipart_chunk
        self.repos: dict[str, Repo] = {}
        self.requests: list[RequestRecord] = []
        self.faults: list[Fault] = []
        self._uploads: dict[str, _Upload] = {}
        self._lock = threading.RLock()
        self._seq = 0
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.endpoint = self.storage_endpoint = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "HubServer":
        for origin in ("api", "storage"):
            httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
            httpd.hub, httpd.origin = self, origin
            host, port = httpd.server_address[:2]
            url = f"http://{host}:{port}"
            if origin == "api":
                self.endpoint = url
            else:
                self.storage_endpoint = url
            thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"hub-server-{origin}", daemon=True)
            thread.start()
            self._servers.append(httpd)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for httpd in self._servers:
            httpd.shutdown()
            httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ faults and inspection
    def fail(self, at: int | Iterable[int] | Callable[[RequestInfo], bool] | None = None, *, route: str | None = None,
             method: str | None = None, repo: str | None = None, kind: str = "status", status: int = 503,
             delay: float = 2.0, times: int | None = 1,
             action: Callable[["HubServer", RequestInfo], None] | None = None, body: bytes = b"") -> Fault:
        """Inject a fault at request index ``at`` (an int, a set of ints, or a predicate), optionally
        only for a route / method / repo. Returns the fault (``fault.fired`` counts hits)."""
        indices = {at} if isinstance(at, int) else set(at) if at is not None and not callable(at) else None

        def match(info: RequestInfo) -> bool:
            return ((indices is None or info.index in indices) and (not callable(at) or at(info))
                    and (route is None or info.route == route) and (method is None or info.method == method)
                    and (repo is None or info.repo_id == repo))

        fault = Fault(match, kind=kind, status=status, delay=delay, times=times, action=action, body=body)
        with self._lock:
            self.faults.append(fault)
        return fault

    def race(self, action: Callable[["HubServer", RequestInfo], None], *, route: str, repo: str | None = None,
             times: int | None = 1) -> Fault:
        """Run ``action(server, info)`` just before the next request on ``route`` (and ``repo``) is
        handled: another client's change landing between a client's read and its write."""
        return self.fail(route=route, repo=repo, kind="before", times=times, action=action)

    def tag_elsewhere(self, repo_id: str, tag: str) -> str:
        """Create ``tag`` on the parent of ``main``'s head, as another publisher would (an action for
        :meth:`race`); returns the commit it points at."""
        with self._lock:
            repo = self.repos[repo_id]
            head = repo.commits[repo.branches["main"]]
            target = head.parent or head.id
            repo.tags[tag] = target
            repo.tag_messages[tag] = "created by another client"
            return target

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def reset(self) -> None:
        """Forget every repo, request and fault (the server keeps running on the same ports)."""
        with self._lock:
            self.repos.clear()
            self.requests.clear()
            self.faults.clear()
            self._uploads.clear()

    def snapshot(self) -> dict[str, Repo]:
        """A copy of every repo, for :meth:`restore` (tests that replay a scenario from one state)."""
        with self._lock:
            return copy.deepcopy(self.repos)

    def restore(self, snapshot: dict[str, Repo]) -> None:
        """Go back to a :meth:`snapshot`; requests and faults are cleared as by :meth:`reset`."""
        self.reset()
        with self._lock:
            self.repos.update(copy.deepcopy(snapshot))

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def repo(self, repo_id: str) -> Repo:
        with self._lock:
            return self.repos[repo_id]

    def commits(self, repo_id: str, revision: str = "main") -> list[Commit]:
        """History of ``revision``, newest first."""
        with self._lock:
            repo = self.repos[repo_id]
            head = repo.resolve(revision)
            return repo.history(head) if head else []

    def tags(self, repo_id: str) -> dict[str, str]:
        with self._lock:
            return dict(self.repos[repo_id].tags) if repo_id in self.repos else {}

    def read(self, repo_id: str, revision: str, path: str) -> bytes:
        with self._lock:
            repo = self.repos[repo_id]
            f = repo.commits[repo.resolve(revision)].files[path]
            return f.content if not f.lfs else repo.lfs[f.sha256]

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        with self._lock:
            repo = self.repos[repo_id]
            commit = repo.commits[repo.resolve(revision)]
            return {p: (f.content if not f.lfs else repo.lfs[f.sha256]) for p, f in commit.files.items()}

    # ------------------------------------------------------------------ request handling
    def _next(self, origin: str, method: str, path: str,
              user_agent: str = "") -> tuple[RequestInfo, dict[str, str], Fault | None]:
        route, params = "unknown", {}
        for m, name, rx in (_API_ROUTES if origin == "api" else _STORAGE_ROUTES):
            hit = rx.match(path)
            if hit and m == method:
                route, params = name, {k: v for k, v in hit.groupdict().items() if v is not None}
                break
        repo_id = None
        if "ns" in params:
            repo_id = f"{unquote(params['ns'])}/{unquote(params['name'])}"
        elif "ticket" in params:
            up = self._uploads.get(params["ticket"])
            repo_id = up.repo_id if up else None
        with self._lock:
            info = RequestInfo(len(self.requests), origin, method, path, route, repo_id, user_agent)
            self.requests.append(RequestRecord(info, 0, False))
            fault = None
            for f in self.faults:
                if (f.times is None or f.fired < f.times) and f.match(info):
                    f.fired += 1
                    fault = f
                    self.requests[-1].fault = True
                    break
        return info, params, fault

    def _record(self, info: RequestInfo, status: int | str) -> None:
        with self._lock:
            self.requests[info.index].status = status

    def _user(self, headers: Mapping[str, str]) -> str | None:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if not auth.startswith("Bearer "):
            return None
        user = self.tokens.get(auth[len("Bearer "):].strip())
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return user

    def _require_write(self, headers: Mapping[str, str], namespace: str) -> str:
        user = self._user(headers)
        if user is None:
            raise HubError(401, "You must be authenticated to write to the Hub")
        if namespace != user and user in self.orgs and namespace not in self.orgs[user]:
            raise HubError(403, f"You don't have the rights to write to the namespace {namespace}")
        return user

    def _repo(self, repo_id: str, headers: Mapping[str, str]) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and self._user(headers) is None):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _commit_at(self, repo: Repo, revision: str) -> Commit:
        commit_id = repo.resolve(unquote(revision))
        if commit_id is None:
            raise HubError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
        return repo.commits[commit_id]

    def _new_commit(self, repo: Repo, parent: str | None, files: dict[str, StoredFile], title: str, message: str,
                    author: str) -> Commit:
        self._seq += 1
        tree = hashlib.sha1("\n".join(f"{p} {f.blob_id}" for p, f in sorted(files.items())).encode()).hexdigest()
        raw = f"tree {tree}\nparent {parent}\nauthor {author} {self._seq}\n\n{title}\n\n{message}"
        commit = Commit(hashlib.sha1(raw.encode()).hexdigest(), parent, title, message, author, _now(), dict(files))
        repo.commits[commit.id] = commit
        return commit

    def handle(self, origin: str, method: str, raw_path: str, query: dict[str, list[str]], headers: Mapping[str, str],
               body: bytes, params: dict[str, str], route: str) -> Response:
        """Answer one request (called under no lock; takes the lock itself)."""
        try:
            with self._lock:
                handler = getattr(self, f"_r_{route}", None)
                if handler is None:
                    raise HubError(404, f"no such endpoint: {method} {raw_path}")
                return handler(method=method, query=query, headers=headers, body=body, **params)
        except HubError as exc:
            return exc.response()

    # ------------------------------------------------------------------ API routes
    def _r_whoami(self, headers, **_) -> Response:
        user = self._user(headers)
        if user is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        orgs = sorted(self.orgs.get(user, ()))
        token = {"displayName": "test", "role": "write"}
        return Response.json({"type": "user", "name": user, "fullname": user, "orgs": [{"name": o} for o in orgs],
                              "auth": {"type": "access_token", "accessToken": token}})

    def _r_agent_harnesses(self, **_) -> Response:
        return Response.json({"standardEnvVars": [], "harnesses": {}})

    def _r_xet_token(self, **_) -> Response:
        raise HubError(501, "this loopback Hub speaks LFS only: set HF_HUB_DISABLE_XET=1")

    def _r_validate_yaml(self, body, **_) -> Response:
        content = json.loads(body or b"{}").get("content", "")
        m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, flags=re.S)
        if m:
            try:
                meta = yaml.safe_load(m.group(1))
            except yaml.YAMLError as exc:
                return Response.json({"errors": [{"message": f"invalid YAML: {exc}"}]}, 400)
            if meta is not None and not isinstance(meta, dict):
                return Response.json({"errors": [{"message": "metadata must be a YAML mapping"}]}, 400)
        return Response.json({"errors": [], "warnings": []})

    def _r_create_repo(self, headers, body, **_) -> Response:
        payload = json.loads(body or b"{}")
        if payload.get("type", "model") != "model":
            raise HubError(400, "this loopback Hub serves model repos only")
        name, org = payload.get("name") or "", payload.get("organization")
        user = self._user(headers)
        namespace = org or user
        if namespace is None:
            raise HubError(401, "You must be authenticated to create a repo")
        self._require_write(headers, namespace)
        if not NAME_RE.match(name) or not NAME_RE.match(namespace) or name.endswith(".git"):
            raise HubError(400, f"Invalid repo name {namespace}/{name}: use letters, digits, '-', '_', '.'")
        repo_id = f"{namespace}/{name}"
        url = f"{self.endpoint}/{repo_id}"
        if repo_id in self.repos:
            raise HubError(409, "You already created this model repo", url=url)
        private = payload.get("private") or payload.get("visibility") == "private"
        repo = Repo(repo_id, bool(private), _now())
        init = self._new_commit(repo, None, {".gitattributes": StoredFile.regular(".gitattributes",
                                                                                   GITATTRIBUTES.encode())},
                                "initial commit", "", user or namespace)
        repo.branches["main"] = init.id
        self.repos[repo_id] = repo
        return Response.json({"url": url, "name": repo_id, "id": repo_id})

    def _r_delete_repo(self, headers, body, **_) -> Response:
        payload = json.loads(body or b"{}")
        namespace = payload.get("organization") or self._user(headers)
        self._require_write(headers, namespace or "")
        repo_id = f"{namespace}/{payload.get('name')}"
        if repo_id not in self.repos:
            raise HubError(404, "Repository not found", "RepoNotFound")
        del self.repos[repo_id]
        return Response.json({})

    def _sibling(self, f: StoredFile, blobs: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"rfilename": f.path}
        if blobs:
            out.update(size=f.size, blobId=f.blob_id)
            if f.lfs:
                out["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": f.pointer_size}
        return out

    def _r_model_info(self, headers, query, ns, name, rev="main", **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        commit = self._commit_at(repo, rev)
        blobs = _truthy(query.get("blobs", ["false"])[0])
        return Response.json({
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id, "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0], "sha": commit.id, "lastModified": commit.date,
            "createdAt": repo.created_at, "private": repo.private, "disabled": False, "gated": False,
            "downloads": 0, "likes": 0, "tags": [], "library_name": "timm",
            "siblings": [self._sibling(f, blobs) for _, f in sorted(commit.files.items())], "spaces": [],
        })

    def _r_refs(self, headers, ns, name, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        return Response.json({
            "branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": c}
                         for b, c in sorted(repo.branches.items())],
            "converts": [],
            "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": c} for t, c in sorted(repo.tags.items())],
            "pullRequests": [],
        })

    def _r_commits(self, headers, query, ns, name, rev, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        history = repo.history(self._commit_at(repo, rev).id)
        page = int(query.get("p", ["0"])[0])
        items = history[page * COMMITS_PER_PAGE:(page + 1) * COMMITS_PER_PAGE]
        out = Response.json([{"id": c.id, "title": c.title, "message": c.message, "date": c.date,
                              "authors": [{"user": c.author, "avatar": ""}]} for c in items])
        if (page + 1) * COMMITS_PER_PAGE < len(history):
            out.headers["Link"] = f'<{self.endpoint}/api/models/{repo.repo_id}/commits/{rev}?p={page + 1}>; rel="next"'
        return out

    def _entries(self, commit: Commit, paths: Iterable[str] | None, recursive: bool, prefix: str) -> list[dict]:
        """Tree entries under ``prefix`` (direct children, or all with ``recursive``), or for exact ``paths``."""
        files = commit.files
        folders: dict[str, list[str]] = {}
        for p in files:
            parts = p.split("/")
            for i in range(1, len(parts)):
                folders.setdefault("/".join(parts[:i]), []).append(p)

        def file_entry(f: StoredFile) -> dict:
            e = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path}
            if f.lfs:
                e["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
            return e

        def folder_entry(d: str) -> dict:
            oid = hashlib.sha1("\n".join(f"{p} {files[p].blob_id}" for p in sorted(folders[d])).encode()).hexdigest()
            return {"type": "directory", "oid": oid, "path": d}

        if paths is not None:
            return [file_entry(files[p]) if p in files else folder_entry(p)
                    for p in paths if p in files or p in folders]
        if prefix and prefix not in folders:
            raise HubError(404, f"{prefix} does not exist", "EntryNotFound", {"X-Repo-Commit": commit.id})
        base = f"{prefix}/" if prefix else ""
        out = []
        for d in sorted(folders):
            if d.startswith(base) and (recursive or "/" not in d[len(base):]):
                out.append(folder_entry(d))
        for p in sorted(files):
            if p.startswith(base) and (recursive or "/" not in p[len(base):]):
                out.append(file_entry(files[p]))
        return out

    def _r_tree(self, headers, query, ns, name, rev, path="", **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        commit = self._commit_at(repo, rev)
        recursive = _truthy(query.get("recursive", ["false"])[0])
        return Response.json(self._entries(commit, None, recursive, unquote(path).strip("/")))

    def _r_paths_info(self, headers, body, ns, name, rev, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        commit = self._commit_at(repo, rev)
        form = parse_qs(body.decode(), keep_blank_values=True)
        return Response.json(self._entries(commit, [p.strip("/") for p in form.get("paths", [])], False, ""))

    def _upload_mode(self, commit: Commit, path: str, size: int, sample: bytes) -> str:
        attrs = commit.files.get(".gitattributes")
        patterns = [line.split()[0] for line in (attrs.content.decode() if attrs else "").splitlines()
                    if "filter=lfs" in line]
        base = path.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(base, p) for p in patterns):
            return "lfs"
        return "lfs" if size >= LFS_SIZE_THRESHOLD or b"\0" in sample else "regular"

    def _r_preupload(self, headers, body, ns, name, rev, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        self._require_write(headers, repo.repo_id.split("/")[0])
        commit = self._commit_at(repo, rev)
        out = []
        for item in json.loads(body).get("files", []):
            mode = self._upload_mode(commit, item["path"], int(item["size"]), base64.b64decode(item.get("sample", "")))
            remote = commit.files.get(item["path"])
            oid = None if remote is None else (remote.sha256 if remote.lfs else git_blob_id(remote.content))
            out.append({"path": item["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return Response.json({"files": out, "commitOid": commit.id})

    def _r_commit(self, headers, query, body, ns, name, rev, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        user = self._require_write(headers, repo.repo_id.split("/")[0])
        if _truthy(query.get("create_pr", ["0"])[0]):
            raise HubError(400, "this loopback Hub does not do pull requests")
        branch = unquote(rev)
        if branch not in repo.branches:
            raise HubError(404, f"Invalid rev id: {branch} (commits go to a branch)", "RevisionNotFound")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "the first NDJSON line must be the header")
        header = lines[0]["value"]
        head = repo.branches[branch]
        parent = header.get("parentCommit")
        if parent is not None and parent != head:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(repo.commits[head].files)
        for op in lines[1:]:
            key, value = op.get("key"), op.get("value", {})
            path = value.get("path", "").strip("/")
            if key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, f"unsupported encoding for {path}")
                files[path] = StoredFile.regular(path, base64.b64decode(value["content"]))
            elif key == "lfsFile":
                oid = value.get("oid", "")
                if value.get("algo", "sha256") != "sha256" or oid not in repo.lfs:
                    raise HubError(422, f"LFS object {oid} of {path} was not uploaded")
                files[path] = StoredFile.lfs_file(path, oid, len(repo.lfs[oid]))
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            elif key == "deletedFolder":
                gone = [p for p in files if p.startswith(path + "/")]
                if not gone:
                    raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in gone:
                    del files[p]
            else:
                raise HubError(400, f"unknown commit operation {key!r}")
        commit = self._new_commit(repo, head, files, header.get("summary") or "", header.get("description") or "",
                                  user)
        repo.branches[branch] = commit.id
        return Response.json({"success": True, "commitOid": commit.id, "commitMessage": commit.title,
                              "commitUrl": f"{self.endpoint}/{repo.repo_id}/commit/{commit.id}",
                              "hookOutput": "", "pullRequestUrl": None})

    def _ref_write(self, headers, ns, name) -> Repo:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        self._require_write(headers, repo.repo_id.split("/")[0])
        return repo

    def _r_tag_create(self, headers, body, ns, name, rev, **_) -> Response:
        repo = self._ref_write(headers, ns, name)
        commit = self._commit_at(repo, rev)
        payload = json.loads(body or b"{}")
        tag = payload.get("tag") or ""
        if not REF_NAME_RE.match(tag):
            raise HubError(400, f"Invalid tag name {tag!r}")
        if tag in repo.tags:
            raise HubError(409, f"Tag {tag} already exists")
        repo.tags[tag] = commit.id
        repo.tag_messages[tag] = payload.get("message") or ""
        return Response.json({})

    def _r_tag_delete(self, headers, ns, name, rev, **_) -> Response:
        repo = self._ref_write(headers, ns, name)
        if repo.tags.pop(unquote(rev), None) is None:
            raise HubError(404, f"Tag {unquote(rev)} does not exist", "RevisionNotFound")
        return Response.json({})

    def _r_branch_create(self, headers, body, ns, name, rev, **_) -> Response:
        repo = self._ref_write(headers, ns, name)
        branch = unquote(rev)
        if not REF_NAME_RE.match(branch):
            raise HubError(400, f"Invalid branch name {branch!r}")
        if branch in repo.branches:
            raise HubError(409, f"Branch {branch} already exists")
        start = json.loads(body or b"{}").get("startingPoint") or "main"
        repo.branches[branch] = self._commit_at(repo, quote(start, safe="")).id
        return Response.json({})

    def _r_branch_delete(self, headers, ns, name, rev, **_) -> Response:
        repo = self._ref_write(headers, ns, name)
        branch = unquote(rev)
        if branch == "main":
            raise HubError(403, "the main branch cannot be deleted")
        if repo.branches.pop(branch, None) is None:
            raise HubError(404, f"Branch {branch} does not exist", "RevisionNotFound")
        return Response.json({})

    def _r_lfs_batch(self, headers, body, ns, name, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{name}", headers)
        self._require_write(headers, repo.repo_id.split("/")[0])
        payload = json.loads(body)
        if payload.get("operation") != "upload":
            raise HubError(400, "this loopback Hub serves LFS uploads only (downloads go through resolve)")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            entry: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            if not re.fullmatch(r"[0-9a-f]{64}", oid):
                entry["error"] = {"code": 422, "message": "oid must be a sha256"}
            elif oid not in repo.lfs:
                ticket = secrets.token_urlsafe(12)
                self._uploads[ticket] = _Upload(repo.repo_id, oid, size)
                href = f"{self.storage_endpoint}/upload/{ticket}"
                upload: dict[str, Any] = {"href": href}
                if size >= self.multipart_threshold:
                    n = -(-size // self.multipart_chunk)
                    upload["header"] = {"chunk_size": str(self.multipart_chunk),
                                        **{f"{i:05d}": f"{href}/part/{i}" for i in range(1, n + 1)}}
                verify = {"href": f"{self.endpoint}/{repo.repo_id}.git/info/lfs/objects/verify",
                          "header": {"Authorization": "Bearer <token>"}}
                entry["actions"] = {"upload": upload, "verify": verify}
            objects.append(entry)
        return Response.json({"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                             headers={"Content-Type": "application/vnd.git-lfs+json"})

    def _r_lfs_verify(self, headers, body, ns, name, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{name}", headers)
        payload = json.loads(body)
        data = repo.lfs.get(payload.get("oid", ""))
        if data is None or len(data) != int(payload.get("size", -1)):
            raise HubError(404, f"LFS object {payload.get('oid')} not found")
        return Response.json({"success": True})

    def _r_resolve(self, method, headers, ns, name, rev, path, **_) -> Response:
        repo = self._repo(f"{unquote(ns)}/{unquote(name)}", headers)
        commit = self._commit_at(repo, rev)
        path = unquote(path)
        f = commit.files.get(path)
        if f is None:
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.id})
        common = {"X-Repo-Commit": commit.id, "Accept-Ranges": "bytes"}
        if f.lfs:
            location = f"{self.storage_endpoint}/objects/{repo.repo_id}/{f.sha256}"
            return Response(302, b"", {**common, "Location": location, "ETag": f'"{f.sha256}"',
                                       "X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size)})
        return _ranged(f.content, headers, {**common, "ETag": f'"{f.blob_id}"'})

    # ------------------------------------------------------------------ storage routes
    def _upload(self, ticket: str) -> _Upload:
        up = self._uploads.get(ticket)
        if up is None:
            raise HubError(404, "unknown upload")
        return up

    def _store(self, up: _Upload, data: bytes) -> None:
        if len(data) != up.size or hashlib.sha256(data).hexdigest() != up.oid:
            raise HubError(400, f"uploaded content does not match oid {up.oid} / size {up.size}")
        self.repos[up.repo_id].lfs[up.oid] = data

    def _r_lfs_upload(self, body, ticket, **_) -> Response:
        self._store(self._upload(ticket), body)
        return Response(200)

    def _r_lfs_upload_part(self, body, ticket, part, **_) -> Response:
        up = self._upload(ticket)
        up.parts[int(part)] = body
        return Response(200, b"", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

    def _r_lfs_complete(self, body, ticket, **_) -> Response:
        up = self._upload(ticket)
        payload = json.loads(body)
        parts = sorted(payload.get("parts", []), key=lambda p: p["partNumber"])
        for p in parts:
            data = up.parts.get(p["partNumber"])
            if data is None or f'"{hashlib.md5(data).hexdigest()}"' != p["etag"]:
                raise HubError(400, f"part {p['partNumber']} missing or its etag does not match")
        self._store(up, b"".join(up.parts[p["partNumber"]] for p in parts))
        return Response.json({"success": True})

    def _r_lfs_download(self, headers, ns, name, oid, **_) -> Response:
        repo = self.repos.get(f"{unquote(ns)}/{unquote(name)}")
        if repo is None or oid not in repo.lfs:
            raise HubError(404, "object not found")
        return _ranged(repo.lfs[oid], headers, {"ETag": f'"{oid}"', "Content-Type": "application/octet-stream"})


def _truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


def _ranged(data: bytes, headers: Mapping[str, str], extra: dict[str, str]) -> Response:
    """200 with the whole body, or 206 for a ``Range: bytes=a-[b]`` request."""
    rng = headers.get("Range") or headers.get("range")
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip()) if rng else None
    if m:
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            return Response(416, b"", {**extra, "Content-Range": f"bytes */{len(data)}"})
        return Response(206, data[start:end + 1], {**extra, "Content-Range": f"bytes {start}-{end}/{len(data)}"})
    return Response(200, data, {"Content-Type": "application/octet-stream", **extra})


# ---------------------------------------------------------------------------- HTTP plumbing
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hub: HubServer
    origin: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls
    timeout = 30  # idle keep-alive connections end after this many seconds
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet; the hub logs requests itself
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:  # ends at the zero-size chunk (or a closed connection)
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        hub = self.server.hub
        split = urlsplit(self.path)
        body = self._body()
        info, params, fault = hub._next(self.server.origin, method, split.path, self.headers.get("User-Agent") or "")
        if fault is not None and fault.kind == "before":
            with hub._lock:
                fault.action(hub, info)
        if fault is not None and fault.kind in ("reset", "stall"):
            hub._record(info, fault.kind)
            if fault.kind == "stall":
                time.sleep(fault.delay)
            return self._reset()
        if fault is not None and fault.kind == "status":
            response = HubError(fault.status, f"injected fault: HTTP {fault.status}").response()
        elif fault is not None and fault.kind == "body":
            response = Response(200, fault.body, {"Content-Type": "application/json"})
        else:
            response = hub.handle(self.server.origin, method, split.path, parse_qs(split.query), self.headers, body,
                                  params, info.route)
        if fault is not None and fault.kind == "reset_after":
            hub._record(info, "reset_after")
            return self._reset()
        hub._record(info, response.status)
        self.send_response(response.status)
        for k, v in response.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0), sending nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:  # the connection was reset on purpose
            pass
