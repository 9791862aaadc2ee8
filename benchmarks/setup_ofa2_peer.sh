#!/usr/bin/env bash
# Build the environment for the OFA² peer of benchmarks/bench_search.py: the authors' PyPI
# package `ofa2` with the pymoo it was written for (0.6.0.x; 0.6.2 rejects its `vars` list),
# numpy 1.x, and a CPU torch. pymoo 0.6.0.1 is built from its sdist with Cython < 3 so that its
# compiled modules (non-dominated sorting, hypervolume) are used, as in a normal install.
# Usage: benchmarks/setup_ofa2_peer.sh [VENV_DIR]   (default /work/ofa2-peer-venv)
set -euo pipefail
VENV="${1:-/work/ofa2-peer-venv}"
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q "numpy<2" "torch" pyyaml setuptools "cython<3"
"$VENV/bin/pip" install -q --no-build-isolation --no-binary pymoo "pymoo==0.6.0.1"
"$VENV/bin/pip" install -q --no-deps ofa2 ofa
"$VENV/bin/python" -c "from pymoo.util.function_loader import is_compiled; assert is_compiled(), 'pymoo not compiled'"
echo "peer environment ready: $VENV"
