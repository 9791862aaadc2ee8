"""What a test does when something it needs is missing: locally a skip, in CI a failure.

CI sets ``CI=true`` (GitHub Actions and most CI services do; ``.ci/run`` sets it too). There a
missing official-assets folder or a missing ``ofa`` oracle would silently turn every check that
needs it into a skip, so a green run would prove little: it fails instead.
"""

from __future__ import annotations

import os

import pytest

CI_NOTE = "CI=true makes this a failure"


def in_ci() -> bool:
    """Whether the tests run in CI (``CI=true`` or ``CI=1``)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def missing(message: str) -> None:
    """Skip with ``message`` (also at module level), or fail with it when :func:`in_ci`."""
    if in_ci():
        pytest.fail(f"{message} ({CI_NOTE})", pytrace=False)
    pytest.skip(message, allow_module_level=True)


#: Set by `.ci/run` for its second environment, the one with the deployment runtimes' extras
#: (``.[litert,executorch,openvino]``): there a runtime that cannot be imported fails its tests.
#: The README's own test run (CI=true, no extras) still skips them.
RUNTIMES_ENV = "OFA2_REQUIRE_RUNTIMES"
RUNTIMES_NOTE = f"{RUNTIMES_ENV}=1 makes this a failure"


def missing_runtime(name: str) -> None:
    """Skip the test when deployment runtime ``name``'s extra is not installed, or fail it when
    :data:`RUNTIMES_ENV` says the runtimes must be there."""
    from ofa2_zoo.package.runtimes import RUNTIMES

    rt = RUNTIMES[name]
    absent = rt.missing()
    if not absent:
        return
    message = f"runtime {name} is not installed (no module {', '.join(absent)}; pip install 'ofa2-zoo[{rt.extra}]')"
    if os.environ.get(RUNTIMES_ENV, "").strip().lower() in ("true", "1"):
        pytest.fail(f"{message} ({RUNTIMES_NOTE})", pytrace=False)
    pytest.skip(message)
