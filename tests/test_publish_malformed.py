"""Malformed Hub replies (issue 23): an answer that is not JSON, has another shape, or gives
commit ids that are not commit ids is refused with one clear line; publish never reports
success on such an answer and never tags or records a version from it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ofa2_zoo.publish import PublishError, RetryPolicy, publish
from ofa2_zoo.publish.hub import Hub, HubUnavailable, MalformedReply, _remote_file, read_refs

from _hub_helpers import NAMESPACE, cached_package, make_server, use_hub

C1, C2 = "a" * 40, "b" * 40
RETRY = RetryPolicy(attempts=2, base_delay=0.0)


def _ref(name, commit):
    return SimpleNamespace(name=name, target_commit=commit)


class FakeApi:
    def __init__(self, refs=None, error=None):
        self.refs, self.error = refs, error

    def list_repo_refs(self, repo_id):
        if self.error is not None:
            raise self.error
        return self.refs


# ---------------------------------------------------------------------------- read_refs (no server)
def test_a_good_refs_listing_reads_as_maps():
    api = FakeApi(SimpleNamespace(branches=[_ref("main", C1)], tags=[_ref("v1", C2)]))
    assert read_refs(api, "o/r") == ({"main": C1}, {"v1": C2})


@pytest.mark.parametrize("error, shown", [
    (json.JSONDecodeError("Expecting value", "garbage", 0), "JSONDecodeError: Expecting value"),
    (TypeError("list indices must be integers or slices, not str"), "TypeError: list indices"),
    (KeyError("ref"), "KeyError: 'ref'"),
])
def test_a_reply_huggingface_hub_cannot_parse_is_malformed(error, shown):
    with pytest.raises(MalformedReply) as exc:
        read_refs(FakeApi(error=error), "o/r")
    assert str(exc.value).startswith(f"the Hub's reply is not a refs listing ({shown}")


@pytest.mark.parametrize("commit", ["a" * 39, "a" * 41, "A" * 40, "g" * 40, 7, None, ""])
def test_a_commit_id_that_is_not_one_is_malformed(commit):
    api = FakeApi(SimpleNamespace(branches=[_ref("main", commit)], tags=[]))
    with pytest.raises(MalformedReply, match=r"^the Hub's reply gives the commit of branch 'main' as .*, not a "
                                             r"40-digit commit id$"):
        read_refs(api, "o/r")


def test_a_tag_listed_twice_or_unnamed_is_malformed():
    with pytest.raises(MalformedReply, match=r"names the tag 'v1' twice"):
        read_refs(FakeApi(SimpleNamespace(branches=[], tags=[_ref("v1", C1), _ref("v1", C2)])), "o/r")
    with pytest.raises(MalformedReply, match=r"has a tag named ''"):
        read_refs(FakeApi(SimpleNamespace(branches=[], tags=[_ref("", C1)])), "o/r")
    with pytest.raises(MalformedReply, match=r"has a branch named 'a\\nb'"):
        read_refs(FakeApi(SimpleNamespace(branches=[_ref("a\nb", C1)], tags=[])), "o/r")


def test_a_name_of_256_characters_is_accepted_and_257_refused():
    ok = FakeApi(SimpleNamespace(branches=[], tags=[_ref("v" * 256, C1)]))
    assert read_refs(ok, "o/r")[1] == {"v" * 256: C1}
    with pytest.raises(MalformedReply, match=r"has a tag named"):
        read_refs(FakeApi(SimpleNamespace(branches=[], tags=[_ref("v" * 257, C1)])), "o/r")


def test_malformed_is_never_retried_and_names_the_operation():
    calls = []

    class Api(FakeApi):
        def list_repo_refs(self, repo_id):
            calls.append(repo_id)
            raise ValueError("not json")

    hub = Hub(Api(), retry=RetryPolicy(attempts=5, base_delay=0.0), sleep=lambda s: None)
    with pytest.raises(HubUnavailable) as exc:
        hub.state("o/r")
    assert str(exc.value) == ("reading the refs of o/r failed: MalformedReply: the Hub's reply is not a refs listing "
                              "(ValueError: not json)")
    assert calls == ["o/r"]


# ---------------------------------------------------------------------------- tree entries
def _entry(path="a.txt", size=3, blob=C1, lfs=None):
    return SimpleNamespace(path=path, size=size, blob_id=blob, lfs=lfs)


def test_a_good_tree_entry_is_kept():
    f = _remote_file(_entry(lfs=SimpleNamespace(sha256="c" * 64)))
    assert (f.blob_id, f.sha256, f.size) == (C1, "c" * 64, 3)
    assert _remote_file(_entry(size=0)).size == 0


@pytest.mark.parametrize("entry, match", [
    (_entry(size=-1), r"has an entry 'a.txt' of size -1"),
    (_entry(size=True), r"has an entry 'a.txt' of size True"),
    (_entry(size="3"), r"has an entry 'a.txt' of size '3'"),
    (_entry(path=""), r"has an entry '' of size 3"),
    (_entry(blob="zz"), r"gives 'a.txt' the blob id 'zz'"),
    (_entry(lfs=SimpleNamespace(sha256="c" * 63)), r"gives 'a.txt' the LFS sha256 'c+\.\.\.c+'$"),
])
def test_a_bad_tree_entry_is_malformed(entry, match):
    with pytest.raises(MalformedReply, match=match):
        _remote_file(entry)


# ---------------------------------------------------------------------------- publish against the loopback Hub
@pytest.fixture()
def hub(tmp_path):
    server = make_server()
    with use_hub(server, tmp_path / "hf"):
        yield server
    server.stop()


def _nth_refs(n: int):
    seen = []

    def match(info):
        if info.route != "refs":
            return False
        seen.append(info.index)
        return len(seen) == n + 1

    return match


GARBAGE = {
    "not-json": (b"garbage{", r"the Hub's reply is not a refs listing \(JSONDecodeError"),
    "a-list": (b"[]", r"the Hub's reply is not a refs listing \(TypeError"),
    "bad-commit": (json.dumps({"branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": "zz"}],
                               "tags": [], "converts": []}).encode(),
                   r"the Hub's reply gives the commit of branch 'main' as 'zz', not a 40-digit commit id"),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_publish_refuses_a_malformed_refs_read_before_writing(hub, tmp_path, case):
    body, match = GARBAGE[case]
    hub.fail(_nth_refs(0), kind="body", body=body)
    index = tmp_path / "index.json"
    with pytest.raises(PublishError, match=r"^could not read the Hub state before publishing \(reading the refs of "
                                           rf"{NAMESPACE}/\S+ failed: MalformedReply: {match}"):
        publish(cached_package(seed=0), NAMESPACE, index_path=index, retry=RETRY)
    assert not index.exists() and not any(hub.repos[r].tags for r in hub.repos)


def test_publish_fails_on_a_malformed_refs_read_while_committing(hub, tmp_path):
    pkg = cached_package(seed=0)
    hub.fail(_nth_refs(4), kind="body", body=b"garbage{")  # 4 state reads (front and 3 members), then commits
    index = tmp_path / "index.json"
    with pytest.raises(PublishError) as exc:
        publish(pkg, NAMESPACE, index_path=index, retry=RETRY)
    assert exc.value.result.status == "failed" and "MalformedReply: the Hub's reply is not a refs listing" in str(
        exc.value)
    assert not index.exists() and not any(hub.repos[r].tags for r in hub.repos)
    assert publish(pkg, NAMESPACE, index_path=index, retry=RETRY).version == "v1"  # the Hub back: completes


def test_cli_publish_with_a_malformed_refs_read_is_one_line(hub, tmp_path, capsys):
    from _bad_input_helpers import refused

    hub.fail(_nth_refs(0), kind="body", body=b"[]")
    refused(capsys, "publish", cached_package(seed=0), "--namespace", NAMESPACE, "--index", tmp_path / "i.json",
            match=r"^error: could not read the Hub state before publishing \(reading the refs of .* failed: "
                  r"MalformedReply: the Hub's reply is not a refs listing")


def test_a_repo_id_of_96_characters_is_accepted_and_of_97_refused_before_any_request():
    """The Hub's limit is on the whole ``namespace/name`` (here the member repo is the longest)."""
    from ofa2_zoo.publish.content import RepoNames, check_names

    assert len(RepoNames("a" * 81, "p").member(0)) == 96
    assert check_names("a" * 81, "p", 1).member(0) == "a" * 81 + "/ofa2-p-front-0"
    with pytest.raises(PublishError, match=r"^invalid Hub repo name 'a{82}/ofa2-p-front-0': at most 96 characters"):
        check_names("a" * 82, "p", 1)
