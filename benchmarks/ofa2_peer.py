"""Run the OFA² authors' own pymoo problem (PyPI package ``ofa2``) on local assets.

Runs in its own environment (pymoo 0.6.0.1, numpy 1.x, the ``ofa2`` package; see
``benchmarks/setup_ofa2_peer.sh``) and is called by ``bench_search.py``. Their code is used
unmodified: ``ofa2/tutorial/{latency_table,accuracy_predictor,multi_objective_optimization}.py``
are loaded by path, and the only shim is a stand-in for ``ofa2.utils`` (whose package
``__init__`` imports torchvision and data loaders) providing ``download_url`` — which is never
called, because the lookup tables and the predictor weights are given as local files.

Settings (OFA²): population 100, uniform random sampling (their ``OfaSampling``), uniform
crossover with probability 1.0, per-gene random choice mutation with probability 0.1, duplicate
elimination. The script prints one JSON object: wall time, final front, and the front of every
generation (for HV-vs-evaluations curves; the copies are taken in a callback that is not part
of the timed search work beyond a list append).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch


def _load_tutorial(name: str):
    import ofa2

    utils = types.ModuleType("ofa2.utils")

    def download_url(*args, **kwargs):  # pragma: no cover - never reached with local assets
        raise RuntimeError("offline benchmark: assets must be local files")

    utils.download_url = download_url
    sys.modules["ofa2.utils"] = utils
    path = Path(ofa2.__file__).parent / "tutorial" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"ofa2_tutorial_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_problem(assets: Path):
    lt = _load_tutorial("latency_table")
    ap = _load_tutorial("accuracy_predictor")
    moo = _load_tutorial("multi_objective_optimization")
    resolutions = (160, 176, 192, 208, 224)
    table = lt.LatencyTable.__new__(lt.LatencyTable)  # their __init__ only adds download URLs
    table.latency_tables = {r: lt.LatencyEstimator(local_dir=str(assets / "note10"),
                                                   url=str(assets / "note10" / f"{r}_lookup_table.yaml"))
                            for r in resolutions}
    predictor = ap.AccuracyPredictor(pretrained=False, device="cpu")
    predictor.model.load_state_dict(torch.load(assets / "acc_predictor.pth", map_location="cpu", weights_only=True))
    search_vars = {"ks": [3, 5, 7], "e": [3, 4, 6], "d": [2, 3, 4], "r": list(resolutions)}
    problem = moo.OfaProblem(table, predictor, num_blocks=20, num_stages=5, search_vars=search_vars)
    return problem, moo


def make_algorithm(name: str, moo, population: int):
    from pymoo.operators.crossover.ux import UniformCrossover
    from pymoo.operators.mutation.rm import ChoiceRandomMutation

    ops = dict(sampling=moo.OfaSampling(), crossover=UniformCrossover(prob=1.0),
               mutation=ChoiceRandomMutation(prob=1.0, prob_var=0.1), eliminate_duplicates=True)
    if name == "nsga2":
        from pymoo.algorithms.moo.nsga2 import NSGA2
        return NSGA2(pop_size=population, **ops)
    if name == "smsemoa":
        from pymoo.algorithms.moo.sms import SMSEMOA
        return SMSEMOA(pop_size=population, **ops)
    if name == "spea2":
        from pymoo.algorithms.moo.spea2 import SPEA2
        return SPEA2(pop_size=population, **ops)
    raise SystemExit(f"unknown algorithm {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algorithm", required=True, choices=["nsga2", "smsemoa", "spea2"])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--population", type=int, default=100)
    ap.add_argument("--generations", type=int, default=1000)
    ap.add_argument("--assets", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: torch's own default, as the authors' code runs)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from pymoo.core.callback import Callback
    from pymoo.optimize import minimize

    problem, moo = build_problem(args.assets)
    fronts = []

    class Keep(Callback):
        def notify(self, algorithm):
            fronts.append((int(algorithm.evaluator.n_eval), np.array(algorithm.opt.get("F"), dtype=float)))

    algo = make_algorithm(args.algorithm, moo, args.population)
    t0, c0 = time.perf_counter(), time.process_time()
    res = minimize(problem, algo, ("n_gen", args.generations), seed=args.seed, callback=Keep(), verbose=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    import pymoo

    print(json.dumps({
        "algorithm": args.algorithm, "seed": args.seed, "population": args.population,
        "generations": args.generations, "wall_time_s": wall, "cpu_time_s": cpu, "evaluations": int(res.algorithm.evaluator.n_eval),
        "front_F": np.asarray(res.opt.get("F"), dtype=float).tolist(),
        "X": np.asarray(res.opt.get("X")).astype(float).tolist(),
        "history": [{"evaluations": n, "F": F.tolist()} for n, F in fronts],
        "versions": {"pymoo": pymoo.__version__, "numpy": np.__version__, "torch": torch.__version__},
    }))


if __name__ == "__main__":
    main()
