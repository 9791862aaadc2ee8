"""Fault injection at every distinct request of a publish (loopback Hub, real huggingface_hub).

The scenario: front A is published as v1; front B (four members: three existing repos change,
one repo is new) is then published as v2. Its requests are grouped by (method, route, repo
role): every group is one fault point.

- Outage: from the first request of a group on, every request fails (HTTP 503, a connection
  reset or a stall, by turn). The publish must fail cleanly, leave no v2 tag on an incomplete
  version (if any repo has v2, every repo already holds B's files) and leave v1 untouched; a
  re-run with the Hub back must complete v2 with exactly the commits a clean run makes.
- One-shot faults at each group (503, reset before handling, reset *after* handling — the
  change is made, the answer lost — and a stall): the publish must succeed in one run, again
  with no duplicate commit.
"""

from __future__ import annotations

from typing import Callable

import pytest

import ofa2_zoo  # noqa: F401
from ofa2_zoo.publish import PublishError, PublishFailed, RetryPolicy, publish
from ofa2_zoo.registry import ZooIndex

from _hub_helpers import NAMESPACE, cached_package, fast_client_retries, make_server, use_hub
from hub_server import RequestInfo

FRONT_REPO = f"{NAMESPACE}/ofa2-tiny-publish-front"
RETRY = RetryPolicy(attempts=3, base_delay=0.0)
OUTAGE_KINDS = ({"kind": "status", "status": 503}, {"kind": "reset"}, {"kind": "stall", "delay": 0.1})
ONE_SHOT_KINDS = ({"kind": "status", "status": 502}, {"kind": "reset"}, {"kind": "reset_after"},
                  {"kind": "stall", "delay": 0.1})


def signature(info: RequestInfo) -> tuple[str, str, str]:
    role = "-" if info.repo_id is None else "front" if info.repo_id == FRONT_REPO else "member"
    return info.method, info.route, role


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Packages A (3 members) and B (4 members), a server, and the reference run's results."""
    pkg_a, pkg_b = cached_package(seed=0), cached_package(seed=1, members=4)
    server = make_server()
    home = tmp_path_factory.mktemp("hf")
    with use_hub(server, home):
        index = home / "index.json"
        publish(pkg_a, NAMESPACE, index_path=index, retry=RETRY)
        v1 = {"repos": server.snapshot(), "index": index.read_bytes()}
        start = server.request_count
        assert publish(pkg_b, NAMESPACE, index_path=index, retry=RETRY).version == "v2"
        groups: dict[tuple, int] = {}
        for r in server.requests[start:]:
            groups.setdefault(signature(r.info), r.info.index - start)
        reference = {"commits": {r: len(server.commits(r)) for r in server.repos},
                     "files": {r: server.files(r, "v2") for r in server.repos}}
        yield {"a": pkg_a, "b": pkg_b, "server": server, "home": home, "groups": list(groups), "ref": reference,
               "v1": v1}
    server.stop()


def _fresh_v1(sc, index) -> dict[str, dict[str, str]]:
    """Back to the state right after A was published as v1 (Hub and zoo index)."""
    server = sc["server"]
    server.restore(sc["v1"]["repos"])
    index.write_bytes(sc["v1"]["index"])
    return {r: server.tags(r) for r in server.repos}


def _check_after_failure(sc, v1_tags) -> None:
    server, ref = sc["server"], sc["ref"]
    assert "v2" not in server.tags(FRONT_REPO), "the front repo's tag marks a finished version"
    tagged = [r for r in server.repos if "v2" in server.tags(r)]
    if tagged:  # a v2 tag anywhere means every repo already holds B's files
        for r in ref["files"]:
            assert r in server.repos and server.files(r, "main") == ref["files"][r], r
        for r in tagged:
            assert server.files(r, "v2") == ref["files"][r]
    for r, tags in v1_tags.items():
        assert server.tags(r).get("v1") == tags["v1"]


def _check_complete(sc, index) -> None:
    server, ref = sc["server"], sc["ref"]
    assert {r: len(server.commits(r)) for r in server.repos} == ref["commits"], "no duplicate commits"
    for r, files in ref["files"].items():
        assert server.files(r, "v2") == files and server.files(r, "main") == files
    assert [v.version for v in ZooIndex.load(index).versions("tiny-publish")] == ["v1", "v2"]


def _from_group_on(group: tuple) -> Callable[[RequestInfo], bool]:
    state = {"on": False}

    def match(info: RequestInfo) -> bool:
        state["on"] = state["on"] or signature(info) == group
        return state["on"]

    return match


def test_reference_run_has_enough_distinct_fault_points(scenario):
    groups = scenario["groups"]
    routes = {g[1] for g in groups}
    assert {"whoami", "refs", "resolve", "tree", "create_repo", "validate_yaml", "preupload", "lfs_batch",
            "lfs_upload", "lfs_verify", "commit", "tag_create"} <= routes
    assert len(groups) >= 10
    print(f"\n{len(groups)} distinct requests (method, route, repo role) in a v2 publish: "
          f"{len(groups) * len(OUTAGE_KINDS[:1])} outage points, {len(groups) * len(ONE_SHOT_KINDS)} one-shot points")


def test_outage_from_each_distinct_request_then_rerun_completes(scenario):
    sc, server = scenario, scenario["server"]
    failures = 0
    with use_hub(server, sc["home"]), fast_client_retries():
        index = sc["home"] / "index.json"
        for i, group in enumerate(sc["groups"]):
            v1_tags = _fresh_v1(sc, index)
            fault = server.fail(_from_group_on(group), times=None, **OUTAGE_KINDS[i % len(OUTAGE_KINDS)])
            with pytest.raises(PublishError) as exc:
                publish(sc["b"], NAMESPACE, index_path=index, retry=RETRY)
            assert fault.fired > 0, group
            if isinstance(exc.value, PublishFailed):
                assert exc.value.result.status == "failed" and "run the same publish again" in str(exc.value)
                failures += 1
            else:
                assert "nothing was published" in str(exc.value), (group, str(exc.value))
            _check_after_failure(sc, v1_tags)
            server.clear_faults()
            assert publish(sc["b"], NAMESPACE, index_path=index, retry=RETRY).status == "published", group
            _check_complete(sc, index)
    assert failures >= len(sc["groups"]) // 2  # most faults hit after the first write


@pytest.mark.parametrize("kind", ONE_SHOT_KINDS, ids=lambda k: k["kind"])
def test_one_shot_fault_at_each_distinct_request_is_retried(scenario, kind):
    sc, server = scenario, scenario["server"]
    with use_hub(server, sc["home"]), fast_client_retries():
        index = sc["home"] / "index.json"
        for group in sc["groups"]:
            _fresh_v1(sc, index)
            fault = server.fail(lambda info, g=group: signature(info) == g, times=1, **kind)
            result = publish(sc["b"], NAMESPACE, index_path=index, retry=RETRY)
            assert fault.fired == 1 and result.status == "published" and result.version == "v2", group
            _check_complete(sc, index)


def test_stalled_request_times_out_and_is_retried(scenario):
    sc, server = scenario, scenario["server"]
    with use_hub(server, sc["home"]):
        index = sc["home"] / "index.json"
        _fresh_v1(sc, index)
        fault = server.fail(route="tag_create", kind="stall", delay=3.0)
        lines: list[str] = []
        result = publish(sc["b"], NAMESPACE, index_path=index, retry=RETRY, timeout=0.5, say=lines.append)
        assert fault.fired == 1 and result.status == "published"
        assert any("retrying: tagging" in line and "Timeout" in line for line in lines), lines
        _check_complete(sc, index)


def _member(k: int) -> str:
    return f"{FRONT_REPO}-{k}"


def test_a_failed_publish_says_exactly_what_was_done(scenario):
    """The failure message and the result's lines, word for word, for a failure in each phase."""
    sc, server = scenario, scenario["server"]
    members = [_member(k) for k in range(4)]
    with use_hub(server, sc["home"]), fast_client_retries():
        index = sc["home"] / "index.json"
        # phase 2: every member tagged, the front repo's tag refused
        _fresh_v1(sc, index)
        server.fail(lambda info: info.route == "tag_create" and info.repo_id == FRONT_REPO, times=None,
                    kind="status", status=503)
        with pytest.raises(PublishFailed) as exc:
            publish(sc["b"], NAMESPACE, index_path=index, retry=RETRY)
        server.clear_faults()
        result = exc.value.result
        fvid = result.front_version_id
        error = f"tagging {FRONT_REPO} v2 failed after 3 attempts: HTTP 503 (injected fault: HTTP 503)"
        assert str(exc.value) == (f"publishing tiny-publish v2 failed while tagging: {error}; tagged v2: "
                                  f"{', '.join(members)}; committed, not tagged: {FRONT_REPO}; no v2 tag was put on "
                                  "an incomplete version; run the same publish again to complete it")
        assert (result.status, result.error, result.previous, result.index_updated) == ("failed", error, "v1", False)
        lines = result.lines()
        assert lines[0] == f"FAILED publishing tiny-publish front {fvid[:12]} as v2 on {server.endpoint} (previous version: v1)"
        commits = {r.repo_id: r.commit for r in result.repos}
        for k in range(3):  # existing repos whose files changed
            assert lines[1 + k].startswith(f"  {members[k]}: committed update ")
            assert lines[1 + k].endswith(f"; tagged v2 on {commits[members[k]][:12]}")
        assert lines[4].startswith(f"  {members[3]}: created the repo; committed add ")
        assert lines[5].startswith(f"  {FRONT_REPO}: committed update ") and lines[5].endswith("; not tagged v2")
        assert lines[6:] == [f"  error: {error}"]  # nothing recorded in the zoo index
        # the same publish again completes it: the members' tags are found in place
        done = publish(sc["b"], NAMESPACE, index_path=index, retry=RETRY)
        assert done.status == "published" and [r.already_tagged for r in done.repos] == [True] * 4 + [False]
        lines = done.lines()
        assert lines[1:5] == [f"  {m}: already holds v2 with this content" for m in members]
        assert lines[5] == (f"  {FRONT_REPO}: no new commit (main already holds these files); tagged v2 on "
                            f"{done.repos[4].commit[:12]}")
        assert lines[6:] == [f"  zoo index {index}: recorded tiny-publish v2"]
        # phase 1: the second member's commit refused
        _fresh_v1(sc, index)
        server.fail(lambda info: info.route == "commit" and info.repo_id == members[1], times=None, kind="status",
                    status=503)
        with pytest.raises(PublishFailed) as exc:
            publish(sc["b"], NAMESPACE, index_path=index, retry=RETRY)
        server.clear_faults()
        assert str(exc.value) == (f"publishing tiny-publish v2 failed while committing: committing to {members[1]} "
                                  f"failed after 3 attempts: HTTP 503 (injected fault: HTTP 503); committed, not tagged: {members[0]}; "
                                  f"not committed: {', '.join(members[1:])}, {FRONT_REPO}; no v2 tag was put on an "
                                  "incomplete version; run the same publish again to complete it")
        assert "v2" not in server.tags(FRONT_REPO) and not any("v2" in server.tags(m) for m in members[:3])
