"""A Hugging Face cache folder written by the test: ``offline_cache`` (the fixture: an empty cache,
offline mode on) and :func:`cache_put` (files into it as one repo at one tag, in the Hub cache
layout: refs/<tag>, blobs/, snapshots/<commit>/ with links to the blobs)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def cache_put(cache: Path, repo_id: str, tag: str, files: Path | dict[str, bytes]) -> Path:
    """Put ``files`` (a folder's files, or name -> bytes; a name may hold '/') into the cache as
    ``repo_id`` at ``tag``; returns the snapshot folder."""
    if isinstance(files, Path):
        files = {f.name: f.read_bytes() for f in files.iterdir() if f.is_file()}
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(f"{repo_id}@{tag}".encode()).hexdigest()
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / tag).write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snap / name).parent.mkdir(parents=True, exist_ok=True)
        (snap / name).symlink_to(os.path.relpath(blob, (snap / name).parent))
    return snap
