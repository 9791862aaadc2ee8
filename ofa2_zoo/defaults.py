"""The zoo's defaults, in one light module that the command line can import at start-up.

``DEFAULT_PROFILE`` is what ``ofa2 run`` and ``ofa2 search`` search when given no profile, and
its space is the default of the ``ofa2 arch`` commands: the embedded digits supernet, whose data
ships with scikit-learn, so it runs offline right after ``pip install`` with nothing else.

``ZOO_DEFAULT_PROFILE`` is the profile whose front ``ofa2_front_<k>`` names: the Fashion-MNIST
front shipped in the wheel (a new zoo index starts with it; the shipped index says it too).
"""

DEFAULT_PROFILE = "digits-cpu"
ZOO_DEFAULT_PROFILE = "fmnist-cpu"

#: what ``search()``, ``ofa2 search`` and ``ofa2 run`` use when given no algorithm: PALS reaches a
#: higher hypervolume than the MOEAs on every profile benchmarked (``benchmarks/RESULTS.md``)
DEFAULT_ALGORITHM = "pals"

#: tolerance of every parity gate (ONNX, the runtimes, ``ofa2 export``): the atol is a floor only,
#: the tolerance scales with the logits (rtol * max|logit|)
PARITY_ATOL = 1e-6
PARITY_RTOL = 1e-4
#: the search budget when given none: population 100 (OFA²'s) and seed 1 everywhere;
#: ``search()`` and ``ofa2 search`` run 100 generations (10,000 evaluations, a second from the
#: shell), ``run_pipeline()`` and ``ofa2 run`` 200 (its front is packaged, so worth the extra
#: generations); OFA² itself runs 1,000 on the Note10 tables
DEFAULT_POPULATION = 100
DEFAULT_GENERATIONS = 100
RUN_GENERATIONS = 200
DEFAULT_SEED = 1

#: how many front members a package holds when neither the caller nor the profile's
#: ``package.members`` says (spread along the front from the fastest to the most accurate)
DEFAULT_MEMBERS = 5
