"""The search stage: multi-objective search over a supernet's space for one hardware profile.

``search(...)`` (:mod:`.api`) returns a :class:`~ofa2_zoo.front.Front`. Modules: :mod:`.api`
(the facade and its option checks), :mod:`.evaluator` (objective sources, units, cache use),
:mod:`.cache`, :mod:`.executor` (in-process / process pool / Ray), :mod:`.problem` (pymoo
problem), :mod:`.operators`, :mod:`.algorithms`, :mod:`.engine` (the vectorised runs),
:mod:`.pals`, :mod:`.metrics` (HV, IGD, history).

``ofa2_zoo.search`` as an attribute of the package ``ofa2_zoo`` is the function (see
``ofa2_zoo/__init__.py``); this package is ``sys.modules["ofa2_zoo.search"]`` and what
``from ofa2_zoo.search import ...`` reads.
"""

from __future__ import annotations

from ..defaults import DEFAULT_ALGORITHM
from .algorithms import ALGORITHMS, BASELINES, MOEAS, AlgorithmError, check_algorithm
from .api import ENGINES, SearchError, check_budget, default_reference_point, estimate_memory, search
from .cache import ObjectiveCache
from .engine import VECTORISED
from .evaluator import OBJECTIVES, ObjectiveEvaluator
from .executor import EXECUTORS, make_executor
from .metrics import hypervolume, igd, non_dominated
from .problem import OFAProblem

__all__ = ["search", "AlgorithmError", "ALGORITHMS", "DEFAULT_ALGORITHM", "MOEAS", "BASELINES", "EXECUTORS",
           "OBJECTIVES", "ObjectiveCache", "ObjectiveEvaluator", "OFAProblem", "SearchError", "hypervolume", "igd",
           "non_dominated", "default_reference_point", "make_executor", "ENGINES", "VECTORISED", "check_budget",
           "check_algorithm", "estimate_memory"]
