"""The Hub layer of publishing without a server: which failures are retried and how often, how
errors read, what a commit would change, and the client timeout (``ofa2_zoo.publish.hub``).
The same operations against the loopback Hub are in test_publish.py / test_publish_faults.py."""

from __future__ import annotations

import hashlib

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ofa2_zoo.publish.content import LocalFile, RepoContent, git_blob_id
from ofa2_zoo.publish.hub import (DEFAULT_RETRY, Changes, Hub, HubUnavailable, RemoteFile, RepoState, RetryPolicy,
                                  changes_between, describe, is_transient, request_timeout)


def http_error(status: int, server_message: str | None = None, header: str | None = None) -> HfHubHTTPError:
    response = httpx2.Response(status, request=httpx2.Request("GET", "http://127.0.0.1:9/api/x"),
                               headers={"X-Error-Message": header} if header else {})
    return HfHubHTTPError(f"{status} error", response=response, server_message=server_message)


def test_retry_policy_doubles_the_wait_up_to_its_cap():
    assert [RetryPolicy(base_delay=1.0, max_delay=30.0).delay(i) for i in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert [RetryPolicy(base_delay=0.5, max_delay=1.5).delay(i) for i in (1, 2, 3)] == [0.5, 1.0, 1.5]
    assert (DEFAULT_RETRY.attempts, DEFAULT_RETRY.base_delay, DEFAULT_RETRY.max_delay) == (5, 1.0, 30.0)


@pytest.mark.parametrize("status, transient", [(408, True), (429, True), (500, True), (502, True), (503, True),
                                               (504, True), (400, False), (401, False), (403, False), (404, False),
                                               (409, False), (412, False), (501, False)])
def test_which_http_answers_are_transient(status, transient):
    assert is_transient(http_error(status)) is transient


def test_transport_failures_are_transient_even_when_wrapped():
    assert is_transient(TimeoutError("slow")) and is_transient(ConnectionError("reset"))
    assert is_transient(httpx2.ReadTimeout("t")) and is_transient(httpx2.RemoteProtocolError("cut"))
    # each family of huggingface_hub's HTTP library: timeouts, network errors, broken responses
    for exc in (httpx2.ConnectTimeout("t"), httpx2.PoolTimeout("t"), httpx2.ConnectError("refused"),
                httpx2.ReadError("reset"), httpx2.WriteError("broken pipe"), httpx2.RemoteProtocolError("cut")):
        assert is_transient(exc), exc
    assert not is_transient(httpx2.UnsupportedProtocol("ftp")) and not is_transient(httpx2.DecodingError("gzip"))
    assert not is_transient(ValueError("bad")) and not is_transient(RuntimeError("plain"))
    # huggingface_hub wraps LFS upload errors: the cause, or the context, decides
    try:
        try:
            raise http_error(503)
        except HfHubHTTPError as inner:
            raise RuntimeError("upload failed") from inner
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    try:
        try:
            raise ConnectionError("reset")
        except ConnectionError:
            raise RuntimeError("while uploading")  # implicit context
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    # an HTTP answer inside decides even if something transient wraps it
    outer = TimeoutError("t")
    outer.__cause__ = http_error(404)
    assert is_transient(outer)  # the outer timeout is seen first


def test_a_chain_deeper_than_ten_is_not_followed():
    def chain(depth: int) -> BaseException:
        exc: BaseException = TimeoutError("deep")
        for _ in range(depth):
            outer = RuntimeError("wrap")
            outer.__cause__ = exc
            exc = outer
        return exc

    assert is_transient(chain(9)) and not is_transient(chain(10))


def test_error_descriptions_are_one_line_without_headers():
    assert describe(http_error(503)) == "HTTP 503"
    assert describe(http_error(409, server_message="Tag v1 already exists\nmore")) == "HTTP 409 (Tag v1 already exists)"
    assert describe(http_error(502, header="  gateway down  ")) == "HTTP 502 (gateway down)"
    assert describe(TimeoutError("read timed out\nat line 3")) == "TimeoutError: read timed out"
    assert describe(ConnectionError()) == "ConnectionError"
    assert str(HubUnavailable("tagging r v1", http_error(503), 5)) == "tagging r v1 failed after 5 attempts: HTTP 503"
    err = HubUnavailable("reading the refs of r", ValueError("x"), 1)
    assert str(err) == "reading the refs of r failed: ValueError: x" and err.attempts == 1 and err.what.startswith("r")


def _file(path: str, data: bytes) -> LocalFile:
    return LocalFile.from_bytes(path, data)


def test_changes_between_local_content_and_the_remote_tree():
    content = RepoContent("org/r", "member 0", {"same.txt": _file("same.txt", b"same"), "new.txt": _file("new.txt", b"n"),
                                                 "edited.txt": _file("edited.txt", b"v2"),
                                                 "model.safetensors": _file("model.safetensors", b"w" * 10)})
    remote = {"same.txt": RemoteFile(git_blob_id(b"same"), None, 4), "edited.txt": RemoteFile(git_blob_id(b"v1"), None, 2),
              "model.safetensors": RemoteFile("pointer", hashlib.sha256(b"w" * 10).hexdigest(), 10),
              "stale.bin": RemoteFile("x", None, 1), ".gitattributes": RemoteFile("y", None, 1)}
    changes = changes_between(content, remote)
    assert [f.path_in_repo for f in changes.add] == ["new.txt"]
    assert [f.path_in_repo for f in changes.update] == ["edited.txt"]
    assert changes.delete == ("stale.bin",)  # never the Hub's own .gitattributes
    assert changes.describe() == "add new.txt (1 B); update edited.txt (2 B); delete stale.bin"
    assert not changes.empty
    lfs_changed = {**remote, "model.safetensors": RemoteFile("pointer", "0" * 64, 10)}
    assert [f.path_in_repo for f in changes_between(content, lfs_changed).update] == ["edited.txt", "model.safetensors"]
    assert Changes().empty and Changes().describe() == "no file changes"
    assert Changes(delete=("a", "b")).describe() == "delete a, b" and not Changes(delete=("a",)).empty


@pytest.mark.parametrize("size, text", [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (61_234, "61.2 kB"),
                                        (999_949, "999.9 kB"), (1_000_000, "1.0 MB"), (2_500_000_000, "2.5 GB"),
                                        (7_000_000_000_000, "7000.0 GB")])
def test_sizes_in_change_descriptions(size, text):
    f = LocalFile("f", size, "0" * 64, data=b"")
    assert Changes(add=(f,)).describe() == f"add f ({text})"


class _Api:
    """A stand-in for HfApi that fails a given number of times before answering."""

    def __init__(self, failures: list[BaseException], answer="ok"):
        self.failures, self.answer, self.calls = list(failures), answer, 0
        self.endpoint, self.token = "http://127.0.0.1:9", None

    def whoami(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"name": self.answer}

    def list_repo_refs(self, repo_id):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        raise RepositoryNotFoundError("no repo", response=http_error(404).response)


def test_retrying_waits_doubling_delays_then_succeeds():
    slept, said = [], []
    api = _Api([http_error(503), TimeoutError("slow"), http_error(429)], answer="bot")
    hub = Hub(api, retry=RetryPolicy(attempts=4, base_delay=0.25, max_delay=0.75), sleep=slept.append,
              on_retry=said.append)
    assert hub.whoami() == "bot" and api.calls == 4
    assert slept == [0.25, 0.5, 0.75]
    assert said == ["checking the token (whoami): HTTP 503; retry 1/3 in 0.2 s",
                    "checking the token (whoami): TimeoutError: slow; retry 2/3 in 0.5 s",
                    "checking the token (whoami): HTTP 429; retry 3/3 in 0.8 s"]
    assert hub.endpoint == "http://127.0.0.1:9"


def test_retrying_gives_up_after_its_attempts_and_never_retries_a_permanent_error():
    slept = []
    api = _Api([http_error(503)] * 5)
    with pytest.raises(HubUnavailable) as exc:
        Hub(api, retry=RetryPolicy(attempts=3, base_delay=0.0), sleep=slept.append).whoami()
    assert api.calls == 3 and len(slept) == 2 and exc.value.attempts == 3
    assert str(exc.value) == "checking the token (whoami) failed after 3 attempts: HTTP 503"
    api = _Api([http_error(401)])
    with pytest.raises(HubUnavailable) as exc:
        Hub(api, retry=RetryPolicy(attempts=3, base_delay=0.0), sleep=slept.append).whoami()
    assert api.calls == 1 and exc.value.attempts == 1 and exc.value.cause.response.status_code == 401
    assert str(exc.value) == "checking the token (whoami) failed: HTTP 401"


def test_a_missing_repo_reads_as_an_empty_state():
    api = _Api([http_error(502)])
    state = Hub(api, retry=RetryPolicy(attempts=2, base_delay=0.0), sleep=lambda s: None).state("org/none")
    assert (state.exists, state.branches, state.tags) == (False, {}, {}) and api.calls == 2


def test_request_timeout_is_set_on_the_shared_client_and_restored():
    from huggingface_hub.utils import _http

    before = _http._GLOBAL_CLIENT_FACTORY
    with request_timeout(7.5):
        client = _http._GLOBAL_CLIENT_FACTORY()
        assert client.timeout.read == 7.5 and client.timeout.connect == 7.5
        assert _http._GLOBAL_CLIENT_FACTORY is not before
    assert _http._GLOBAL_CLIENT_FACTORY is before
    with request_timeout(None):
        assert _http._GLOBAL_CLIENT_FACTORY is before
    with pytest.raises(KeyError):
        with request_timeout(3.0):
            raise KeyError("inside")
    assert _http._GLOBAL_CLIENT_FACTORY is before


class _Refusing:
    """An HfApi stand-in whose every call fails with a permanent HTTP 403 and records what was asked."""

    endpoint, token = "http://127.0.0.1:9", None

    def __init__(self):
        self.asked = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.asked.append((name, args, kwargs))
            raise http_error(403, server_message="not yours")
        return call


def test_each_hub_operation_names_itself_in_its_error():
    commit = "0123456789abcdef" * 2 + "01234567"
    content = RepoContent("org/r", "front")
    api = _Refusing()
    hub = Hub(api, retry=RetryPolicy(attempts=2, base_delay=0.0), sleep=lambda s: None)
    cases = [
        (lambda: hub.whoami(), "checking the token (whoami)"),
        (lambda: hub.state("org/r"), "reading the refs of org/r"),
        (lambda: hub.tree("org/r", commit), "listing the files of org/r@0123456789ab"),
        (lambda: hub.ensure_repo("org/r"), "creating org/r"),
        (lambda: hub.sync(content, "m", "d"), "committing to org/r"),
        (lambda: hub.tag("org/r", "v1", commit, "m"), "tagging org/r v1"),
    ]
    for call, what in cases:
        with pytest.raises(HubUnavailable) as exc:
            call()
        assert str(exc.value) == f"{what} failed: HTTP 403 (not yours)"
        assert exc.value.what == what and exc.value.attempts == 1
    assert [a[0] for a in api.asked] == ["whoami", "list_repo_refs", "list_repo_tree", "create_repo",
                                         "list_repo_refs", "create_tag"]
    assert api.asked[2][2] == {"recursive": True, "revision": commit}
    assert api.asked[3][2] == {"exist_ok": True}
    assert api.asked[5][2] == {"tag": "v1", "revision": commit, "tag_message": "m"}
    # reading a file goes straight to the endpoint's resolve URL (nothing listens at port 9: a transport error)
    with pytest.raises(HubUnavailable) as exc:
        hub.read("org/r", "config.json", "v1")
    assert str(exc.value).startswith("reading config.json of org/r@v1 failed after 2 attempts: ConnectError")


def test_unavailable_counts_attempts_only_when_it_retried():
    assert str(HubUnavailable("x", TimeoutError("t"), 1)) == "x failed: TimeoutError: t"
    assert str(HubUnavailable("x", TimeoutError("t"), 2)) == "x failed after 2 attempts: TimeoutError: t"


def test_a_repo_without_main_has_every_file_to_add_and_is_not_listed():
    content = RepoContent("org/r", "member 0", {"a.txt": _file("a.txt", b"a"), "b.txt": _file("b.txt", b"bb")})
    api = _Refusing()  # any listing would fail
    hub = Hub(api, retry=RetryPolicy(attempts=1), sleep=lambda s: None)
    for state in (RepoState(False), RepoState(True), RepoState(True, {"dev": "c0ffee"})):
        changes = hub.changes(content, state)
        assert [f.path_in_repo for f in changes.add] == ["a.txt", "b.txt"] and not changes.update and not changes.delete
    assert api.asked == []


def _fake_http_library(name: str):
    import types

    mod = types.ModuleType(name)
    for cls in ("TimeoutException", "NetworkError", "RemoteProtocolError", "DecodingError"):
        setattr(mod, cls, type(cls, (Exception,), {}))
    return mod


def test_transport_errors_of_huggingface_hub_1_are_transient_too(monkeypatch):
    """huggingface_hub 1.x talks httpx (2.x httpx2): with only httpx installed, or both, the
    timeouts, network errors and broken responses of each library are retried."""
    import sys

    httpx = _fake_http_library("httpx")
    monkeypatch.setitem(sys.modules, "httpx", httpx)
    monkeypatch.setitem(sys.modules, "httpx2", None)  # not installed: importing it raises ImportError
    for cls in ("TimeoutException", "NetworkError", "RemoteProtocolError"):
        assert is_transient(getattr(httpx, cls)("x")), cls
    assert not is_transient(httpx.DecodingError("x")) and not is_transient(httpx2.ReadTimeout("t"))
    monkeypatch.setitem(sys.modules, "httpx2", httpx2)
    assert is_transient(httpx.NetworkError("x")) and is_transient(httpx2.ReadTimeout("t"))
