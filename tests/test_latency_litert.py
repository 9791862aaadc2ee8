"""The LiteRT latency backend (profile `measurement: backend: litert`, e.g. `cpu-litert`): without
its extra, one line naming it; with it (`.ci/run`'s runtimes environment), every kind of table
operator converts and runs in ai-edge-litert's interpreter like PyTorch, and is timed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ofa2_zoo.profiles import measure
from ofa2_zoo.profiles.lut import all_ops
from ofa2_zoo.profiles.measure import (BackendUnavailable, make_runner, measure_arch, measure_module,
                                       op_input_shape, op_module)
from ofa2_zoo.profiles.schema import Measurement
from ofa2_zoo.space import get_space

from _ci import missing_runtime
from _profiles_helpers import TINY

LITERT = Measurement(backend="litert", threads=1, warmup=2, repeats=5)

def test_without_the_extra_the_backend_is_one_line_naming_it(monkeypatch):
    monkeypatch.setattr(measure, "_litert_missing", lambda: "no litert_torch package here")
    op = next(iter(all_ops(TINY).values()))
    with pytest.raises(BackendUnavailable) as exc:
        make_runner(op_module(op, TINY), op_input_shape(op, 1), LITERT)
    assert str(exc.value) == ("litert backend unavailable: no litert_torch package here "
                              "(pip install 'ofa2-zoo[litert]')")

def test_the_profile_schema_takes_litert_with_fp32_only():
    assert Measurement(backend="litert").backend == "litert"
    with pytest.raises(ValueError, match="precision fp16 needs backend tensorrt; litert runs fp32"):
        Measurement(backend="litert", precision="fp16")

@pytest.mark.slow("litert-torch converts one operator of each kind (1-8 s each on the loaded machine) and each is timed")
def test_each_kind_of_table_operator_runs_in_litert_like_torch_and_is_timed():
    missing_runtime("litert")  # a skip, or a failure in `.ci/run`'s runtimes environment
    from ai_edge_litert.interpreter import Interpreter

    from ofa2_zoo._litert import tflite_bytes

    space = get_space("ofa2_fmnist")
    ops = all_ops(space)
    kinds: dict[str, object] = {}
    for op in ops.values():  # one operator of each kind (stem, blocks, head, classifier)
        kinds.setdefault(op.kind, op)
    assert len(kinds) >= 4
    for kind, op in kinds.items():
        module, shape = op_module(op, space).eval(), op_input_shape(op, 1)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
        interpreter = Interpreter(model_content=tflite_bytes(module, shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.numpy())
        interpreter.invoke()
        with torch.no_grad():
            reference = module(x).numpy()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert got.shape == reference.shape and np.abs(got - reference).max() <= 1e-4 * max(1.0, np.abs(reference).max()), kind
        timing = measure_module(module, shape, LITERT)
        assert timing.n == 5 and 0 < timing.min_ms <= timing.median_ms < 1000, kind

@pytest.mark.slow("litert-torch converts a whole sub-network: 5-35 s on the loaded machine")
def test_a_whole_sub_network_is_timed_in_litert():
    missing_runtime("litert")
    space = get_space("ofa2_fmnist")
    arch = space.sample(1, 0)[0]
    timing = measure_arch(arch, space, LITERT)
    assert timing.n == 5 and timing.median_ms > 0
