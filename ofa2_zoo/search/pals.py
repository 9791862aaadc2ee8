"""PALS, Pareto archive local search: the default search algorithm.

A local search on the current front instead of a generational GA. It keeps

- an *archive*: the non-dominated feasible archs found so far, at most ``population`` of
  them (when more are non-dominated, the one with the least exact hypervolume contribution
  is dropped, one at a time);
- per objective an *elite*: the ``ELITE`` best feasible archs in that objective alone (the most
  accurate, the fastest), dominated or not, so the two ends of the front are searched from
  several starting points instead of one;
- the set of every arch it has evaluated, so no arch is ever evaluated twice.

Each generation makes ``population`` new archs. A parent is the member of the front that is
best at a random *budget*: a value of one objective drawn uniformly between the front's best
value and the reference point, the member being the best in the other objective within that
budget. So a member is chosen in proportion to the stretch of the front it holds in the
hypervolume (its width along each objective): the region a better arch would improve most.
The member that holds the stretch beyond the front's end (the most accurate arch for a
latency budget, the fastest one for an error budget) hands over to that objective's elite.
With probability ``crossover_prob`` the parent is crossed (uniform crossover) with its
neighbour on the front (an elite parent with another elite member); then 1 + a geometric
number of *active* genes (genes of skipped blocks do not change the network) get another
choice: mostly one or two changes, a local move. Children are canonicalised, and those
already evaluated are redrawn.

With more than two objectives parents are drawn uniformly from the archive and elites and
crossed with a random archive member; contributions come from ``moocore``.

Evaluations are counted as for the other algorithms: every arch whose objectives are computed
counts once. PALS never computes an arch twice, so its count is the number of distinct
canonical archs it evaluated (a GA re-evaluates archs it met in earlier generations and
counts each time).
"""

from __future__ import annotations

import numpy as np

from .algorithms import GenerationFn, RunResult
from .engine import _evaluate
from .problem import OFAProblem

#: archs kept per objective in its elite
ELITE = 10
#: probability that a mutation changes one more gene (number of changes: 1 + geometric)
MORE_GENES = 0.5
#: rounds of redrawing when a generation's children were all evaluated before
_MAX_ROUNDS = 100


def contributions_2d(F: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Exact hypervolume contribution of each point of a 2-objective front sorted by the first
    objective (ascending, so the second descends), bounded by ``ref``."""
    x, y = F[:, 0], F[:, 1]
    return (np.concatenate([x[1:], ref[:1]]) - x) * (np.concatenate([ref[1:2], y[:-1]]) - y)


def front_2d(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of a 2-objective ``F``, sorted by the first objective.
    Of rows with equal objectives the first stays."""
    order = np.lexsort((F[:, 1], F[:, 0]))
    y = F[order, 1]
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], y[:-1]]))
    return order[y < best_before]


def reduce_2d(F: np.ndarray, ref: np.ndarray, n_keep: int) -> np.ndarray:
    """Rows (of a front from :func:`front_2d`) kept after dropping the least hypervolume
    contributor until ``n_keep`` remain; only the two neighbours' contributions change per step."""
    keep = np.arange(len(F))
    if len(F) <= n_keep:
        return keep
    F = F.copy()
    c = contributions_2d(F, ref)
    while len(keep) > n_keep:
        i = int(np.argmin(c))
        keep, F, c = np.delete(keep, i), np.delete(F, i, axis=0), np.delete(c, i)
        for j in (i - 1, i):  # the removed point's neighbours
            if 0 <= j < len(F):
                right = F[j + 1, 0] if j + 1 < len(F) else ref[0]
                above = F[j - 1, 1] if j > 0 else ref[1]
                c[j] = (right - F[j, 0]) * (above - F[j, 1])
    return keep


def reduce_nd(F: np.ndarray, ref: np.ndarray, n_keep: int) -> np.ndarray:
    """The same for more objectives, with ``moocore``'s exact contributions."""
    from moocore import hv_contributions

    keep = np.arange(len(F))
    while len(keep) > n_keep:
        inside = np.all(F[keep] < ref, axis=1)
        c = np.zeros(len(keep))
        if inside.any():
            c[inside] = hv_contributions(F[keep][inside], ref=ref)
        keep = np.delete(keep, int(np.argmin(c)))
    return keep


def active_gene_mask(space, genes: np.ndarray) -> np.ndarray:
    """``(N, n_genes)``: the genes that change the network (those of running blocks, depths,
    resolution) and have more than one choice."""
    active = space.active_mask(genes[:, 2 * space.n_blocks:2 * space.n_blocks + space.n_stages])
    mask = np.concatenate([active, active, np.ones((len(genes), space.n_stages + 1), bool)], axis=1)
    return mask & (space.gene_upper_bounds > 0)[None, :]


def mutate_active(rng: np.random.Generator, space, genes: np.ndarray, n_changes: np.ndarray) -> np.ndarray:
    """Give ``n_changes[i]`` distinct active genes of row ``i`` another choice (uniformly among
    the others); the result is canonical."""
    mask = active_gene_mask(space, genes)
    order, pick = rng.random((2, *genes.shape))
    key = np.where(mask, order, 2.0)  # a random order of each row's active genes (the others last)
    n_changes = np.asarray(n_changes)
    nth = np.sort(key, axis=1)[np.arange(len(genes)), np.clip(n_changes, 1, genes.shape[1]) - 1]
    choices = space.gene_upper_bounds + 1
    shift = 1 + (pick * (choices - 1)).astype(np.int64)  # 1 .. choices - 1: never the same choice again
    change = mask & (key <= nth[:, None]) & (n_changes > 0)[:, None]  # the first n_changes in that order
    return space.canonicalize_genes(np.where(change, (genes + shift) % choices, genes))


class _State:
    """Archive (sorted by the first objective when there are two) and per-objective elites."""

    def __init__(self, n_var: int, n_obj: int, ref: np.ndarray, size: int):
        self.ref, self.size, self.n_obj = ref, size, n_obj
        self.X = np.zeros((0, n_var), dtype=np.int64)
        self.F = np.zeros((0, n_obj))
        self.cv = np.zeros(0)
        self.elites = [(self.X, self.F)] * n_obj

    @property
    def feasible(self) -> bool:
        return bool(len(self.cv)) and bool(self.cv[0] <= 0)

    def add(self, X: np.ndarray, F: np.ndarray, cv: np.ndarray) -> None:
        ok = cv <= 0
        for j in range(self.n_obj):
            EX, EF = self.elites[j]
            AX, AF = np.concatenate([EX, X[ok]]), np.concatenate([EF, F[ok]])
            order = np.lexsort([AF[:, i] for i in reversed(range(self.n_obj)) if i != j] + [AF[:, j]])[:ELITE]
            self.elites[j] = (AX[order], AF[order])
        X, F, cv = np.concatenate([self.X, X]), np.concatenate([self.F, F]), np.concatenate([self.cv, cv])
        if (cv <= 0).any():
            X, F, cv = X[cv <= 0], F[cv <= 0], cv[cv <= 0]
            if self.n_obj == 2:
                nd = front_2d(F)
                keep = nd[reduce_2d(F[nd], self.ref, self.size)]
            else:
                from .metrics import non_dominated

                nd = non_dominated(F)
                keep = nd[reduce_nd(F[nd], self.ref, self.size)]
        else:  # nothing feasible yet: the least violating archs
            keep = np.argsort(cv, kind="stable")[:self.size]
        self.X, self.F, self.cv = X[keep], F[keep], cv[keep]

    def parents(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` parents and their crossover partners (see the module docstring)."""
        X, F = self.X, self.F
        if not (self.feasible and self.n_obj == 2 and len(X) > 1):
            pool = np.concatenate([X] + ([EX for EX, _ in self.elites] if self.feasible else []))
            return pool[rng.integers(0, len(pool), n)], X[rng.integers(0, len(X), n)]
        # the stretch of the front each member holds in the hypervolume, along each objective
        width_x = np.concatenate([F[1:, 0], self.ref[:1]]) - F[:, 0]
        width_y = np.concatenate([self.ref[1:2], F[:-1, 1]]) - F[:, 1]
        w = sum(v / v.sum() for v in (np.maximum(width_x, 0), np.maximum(width_y, 0)) if v.sum() > 0)
        i = rng.choice(len(X), n, p=w / w.sum()) if np.sum(w) > 0 else rng.integers(0, len(X), n)
        partner = np.clip(i + np.where(rng.random(n) < 0.5, -1, 1), 0, len(X) - 1)
        P1, P2 = X[i], X[partner]
        for end, j in ((len(X) - 1, 1), (0, 0)):  # the most accurate / the fastest end: its elite
            at = np.flatnonzero(i == end)
            EX = self.elites[j][0]
            P1[at] = EX[rng.integers(0, len(EX), len(at))]
            P2[at] = EX[rng.integers(0, len(EX), len(at))]
        return P1, P2


def run_pals(problem: OFAProblem, population: int, generations: int, seed: int, reference_point: np.ndarray,
             crossover_prob: float = 1.0, on_generation: GenerationFn | None = None) -> RunResult:
    """Run PALS for ``generations`` generations of ``population`` new archs each (the first is
    random); ``reference_point`` (minimisation space) bounds the hypervolume it maximises.

    Args:
        problem: The search problem.
        population: New archs per generation.
        generations: Generations, the random first one included.
        seed: Seed of the run.
        reference_point: Hypervolume reference point in minimisation space.
        crossover_prob: Probability of crossover.
        on_generation: Called with (generation, evaluations, objective values) after each generation.
    """
    rng = np.random.default_rng(seed)
    space = problem.space
    state = _State(problem.n_var, problem.n_obj, np.asarray(reference_point, dtype=float), population)
    seen: set[bytes] = set()

    def new_only(X: np.ndarray, n: int) -> np.ndarray:
        """The first ``n`` rows of ``X`` never seen before (now marked seen)."""
        raw = np.ascontiguousarray(X, dtype=np.int16)  # one key per row: its genes as bytes
        keep = []
        for i, key in enumerate(raw.view(np.dtype((np.void, raw.shape[1] * 2))).ravel().tolist()):
            if key not in seen:
                seen.add(key)
                keep.append(i)
                if len(keep) == n:
                    break
        return X[keep]

    def children(n: int) -> np.ndarray:
        """``n`` new archs; each round draws twice the shortfall (local moves often revisit)."""
        found, n_found = [], 0
        for _ in range(_MAX_ROUNDS):
            k = 2 * (n - n_found)
            if not len(state.X):
                C = space.sample_genes(k, rng)
            else:
                P1, P2 = state.parents(rng, k)
                cross = (rng.random(k) < crossover_prob)[:, None] & (rng.random(P1.shape) < 0.5)
                C = mutate_active(rng, space, np.where(cross, P2, P1), rng.geometric(1 - MORE_GENES, k))
            C = new_only(C, n - n_found)
            found.append(C)
            n_found += len(C)
            if n_found >= n:
                break
        return np.concatenate(found)

    for gen in range(1, generations + 1):
        X = children(population)
        if len(X):
            F, cv = _evaluate(problem, X)
            state.add(X, F, cv)
        if on_generation:
            on_generation(gen, problem.evaluations, state.F[state.cv <= 0])
    return RunResult(state.X, state.F, state.cv <= 0)
