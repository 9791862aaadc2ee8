"""Point the real ``huggingface_hub`` (and timm through it) at the loopback Hub in ``hub_server``.

What works, found by reading huggingface_hub 2.4:

- ``HF_ENDPOINT`` is read once, when ``huggingface_hub.constants`` is imported, into
  ``constants.ENDPOINT`` and ``constants.HUGGINGFACE_CO_URL_TEMPLATE`` (what ``hf_hub_url``
  formats). A **subprocess** gets the environment of :func:`hub_env` before it imports
  anything. **In this process** huggingface_hub is already imported (timm imports it), so
  :func:`use_hub` also patches those constants; ``HfApi()`` reads ``constants.ENDPOINT``
  when it is constructed, downloads read the URL template on every call.
- Cache and token paths are constants too (``HF_HUB_CACHE``, ``HF_HOME``,
  ``HF_TOKEN_PATH``, ...): patched the same way so tests never touch the user's cache or
  login. ``HF_TOKEN`` is read from the environment on every call.
- Uploads: with ``hf_xet`` installed the client uploads through Xet, a protocol this test
  server does not speak: ``HF_HUB_DISABLE_XET=1`` (``constants.HF_HUB_DISABLE_XET``) makes
  it use the LFS batch protocol.
- huggingface_hub fetches ``/api/agent-harnesses`` once a day when it builds request headers;
  an empty registry written to ``constants.AGENT_HARNESSES_PATH`` in the temporary
  ``HF_HOME`` keeps that request out of the request logs (which fault tests index).
- Its shared HTTP client keeps connections alive: :func:`use_hub` closes it on entry and
  exit so no pooled connection to another test's server is reused.
- ``NO_PROXY`` covers 127.0.0.1 so a proxy set in the environment never sees the traffic.
"""

from __future__ import annotations

import contextlib
import json
import os
import types
from pathlib import Path
from typing import Iterator

from hub_server import HubServer

TOKEN = "hf_loopbackTestToken0123456789abcdef"  # a fake token the loopback Hub accepts
USER = "ofa2-bot"
NAMESPACE = "ofa2-test"

_CONSTANTS = ("ENDPOINT", "HUGGINGFACE_CO_URL_TEMPLATE", "HF_HOME", "HF_HUB_CACHE", "HF_ASSETS_CACHE", "HF_TOKEN_PATH",
              "HF_STORED_TOKENS_PATH", "HF_HUB_DISABLE_XET", "HF_HUB_OFFLINE", "AGENT_HARNESSES_PATH",
              "HF_HUB_DISABLE_TELEMETRY")


def make_server(**kw) -> HubServer:
    """A started loopback Hub that accepts :data:`TOKEN` (as user :data:`USER`)."""
    return HubServer(tokens={TOKEN: USER}, **kw).start()


def hub_env(server: HubServer | None, home: Path, token: str | None = TOKEN, offline: bool = False) -> dict[str, str]:
    """Environment variables for a subprocess that uses the loopback Hub and its own HF home."""
    env = {
        "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "HF_HUB_OFFLINE": "1" if offline else "0",
    }
    env["HF_ENDPOINT"] = server.endpoint if server is not None else "http://127.0.0.1:9"  # port 9: discard
    if token:
        env["HF_TOKEN"] = token
    return env


def subprocess_env(server: HubServer | None, home: Path, **kw) -> dict[str, str]:
    """The full environment for ``subprocess.run``: this one minus HF settings, plus :func:`hub_env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
    return {**base, **hub_env(server, home, **kw)}


def _prepare_home(home: Path) -> None:
    (home / "hub").mkdir(parents=True, exist_ok=True)
    registry = home / ".agent_harnesses.json"
    if not registry.exists():
        registry.write_text(json.dumps({"standardEnvVars": [], "harnesses": {}}))


@contextlib.contextmanager
def use_hub(server: HubServer | None, home: Path, token: str | None = TOKEN, offline: bool = False) -> Iterator[Path]:
    """Use the loopback Hub (or none, offline) in this process and in subprocesses; yields the HF cache."""
    from huggingface_hub import close_session, constants

    _prepare_home(home)
    env = hub_env(server, home, token=token, offline=offline)
    saved_env = {k: os.environ.get(k) for k in [*env, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]}
    saved = {k: getattr(constants, k) for k in _CONSTANTS}
    endpoint = env["HF_ENDPOINT"]
    patched = {
        "ENDPOINT": endpoint, "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_TOKEN_PATH": str(home / "token"), "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "HF_HUB_DISABLE_XET": True, "HF_HUB_OFFLINE": offline, "HF_HUB_DISABLE_TELEMETRY": True,
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
    }
    try:
        os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)
        if token is None:
            os.environ.pop("HF_TOKEN", None)
        os.environ.update(env)
        for k, v in patched.items():
            setattr(constants, k, v)
        close_session()
        yield home / "hub"
    finally:
        close_session()
        for k, v in saved.items():
            setattr(constants, k, v)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def fast_client_retries() -> Iterator[None]:
    """huggingface_hub's own retry loop sleeps 1, 2, 4, 8, 8 s; make those sleeps instant.

    Its loop stays bounded (5 retries) and runs unchanged; only the waiting goes. Needed where
    a test keeps a fault on for many requests (an outage), so a failing publish ends quickly.
    """
    from huggingface_hub.utils import _http

    saved = _http.time
    _http.time = types.SimpleNamespace(sleep=lambda s: None)
    try:
        yield
    finally:
        _http.time = saved


_PACKAGES: dict[tuple[int, int], Path] = {}


def cached_package(seed: int, members: int = 3) -> Path:
    """:func:`build_package` once per test session (in a temporary folder removed at exit).

    ``OFA2_TEST_PACKAGE_CACHE`` (set by ``benchmarks/mutation.py``, whose mutants never touch
    packaging): keep the packages in that folder for every later process instead, so each
    mutant's test process does not build them again."""
    import os
    import shutil
    import tempfile

    key = (seed, members)
    if key in _PACKAGES:
        return _PACKAGES[key]
    shared = os.environ.get("OFA2_TEST_PACKAGE_CACHE")
    if shared:
        done = Path(shared) / f"{seed}-{members}"
        if not (done / "package" / "package.json").is_file():
            Path(shared).mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".building-{seed}-{members}-", dir=shared))
            build_package(tmp, seed, members)
            try:
                tmp.rename(done)  # whole or not at all; another process may have finished first
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        _PACKAGES[key] = done / "package"
        return _PACKAGES[key]
    import atexit

    root = Path(tempfile.mkdtemp(prefix=f"ofa2-test-package-{seed}-{members}-"))
    atexit.register(shutil.rmtree, root, True)
    _PACKAGES[key] = build_package(root, seed, members)
    return _PACKAGES[key]


PROFILE = "tiny-publish"  # a profile id of its own: its timm names clash with no other test's


def build_package(root: Path, seed: int, members: int = 3) -> Path:
    """A real package (the packaging engineer's ``package_front``) of a tiny front; ``seed`` picks the front."""
    from _package_helpers import PROFILE_ID, PROFILE_YAML, digits, tiny_supernet, write_front, write_profile

    from ofa2_zoo.package import package_front

    profile = write_profile(root / "profiles", PROFILE_YAML.replace(PROFILE_ID, PROFILE))
    profile = profile.rename(profile.with_name(f"{PROFILE}.yaml"))
    write_front(root / "front", n=4, seed=seed, profile_id=PROFILE)
    return package_front(root / "front", root / "package", supernet=tiny_supernet(), data=digits, profile=profile,
                         members=members, calib_images=200, parity_images=100, eval_images=100).path
