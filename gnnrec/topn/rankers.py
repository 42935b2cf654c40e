r"""One API for every list-maker (``fit`` / ``scores`` / ``recommend``) and the closed-form
references the field uses for top-N lists: most popular, item-item cosine, EASE, GF-CF, and the
rating models ranked by the rating they estimate.

Letters: U training users, B users to rank for, N movies, K list length. Inputs are rating
matrices, 0 = not rated; a ranker reads them as who-rated-what unless it says otherwise.
"""

from __future__ import annotations

import numpy as np

from ..predict import Predictor


class Ranker:
    """Base class: ``fit`` on ``(U, N)`` training ratings, ``scores`` ``(B, N)`` (higher = better),
    ``recommend`` the best ``k`` movies each user has not rated.

    ``users`` (row indices into the training matrix) lets a transductive model (LightGCN) find a
    user's learnt embedding; the other models score from the ratings ``x`` alone, so any new user
    can be ranked.
    """

    name = "ranker"

    def fit(self, train: np.ndarray) -> Ranker:
        raise NotImplementedError

    def scores(self, x: np.ndarray, users: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def recommend(self, x: np.ndarray, k: int = 10, users: np.ndarray | None = None,
                  allowed: np.ndarray | None = None) -> np.ndarray:
        """``(B, K)`` movie indices, best first, among the movies each user has not rated (and
        ``allowed`` ``(N,)`` boolean, if given); -1 pads a row with fewer candidates. Ties are
        broken by training popularity, then by index, so a list never depends on sort internals."""
        x = np.atleast_2d(x)
        s = np.asarray(self.scores(x, users), dtype=np.float64)  # (B, N)
        return top_k(s, x > 0, k, self.popularity, allowed)

    def _set_popularity(self, train: np.ndarray) -> None:
        self.popularity = (train > 0).sum(0).astype(np.float64)  # (N,) training raters


def top_k(s: np.ndarray, seen: np.ndarray, k: int, popularity: np.ndarray,
          allowed: np.ndarray | None = None) -> np.ndarray:
    """Each row's ``k`` best unseen columns by ``s`` ``(B, N)`` (NaN = worst), ties by ``popularity``."""
    s = np.where(np.isnan(s), -np.inf, s)
    out_of_list = seen if allowed is None else seen | ~allowed[None, :]
    order = np.lexsort((np.broadcast_to(-popularity, s.shape), -s), axis=1)  # (B, N) best first
    keep = ~np.take_along_axis(out_of_list, order, 1)  # (B, N)
    top = np.full((s.shape[0], k), -1, dtype=np.int64)
    for b in range(s.shape[0]):
        cand = order[b][keep[b]][:k]
        top[b, :len(cand)] = cand
    return top


class Popular(Ranker):
    """The movies most users rated in training, the same list for everyone."""

    name = "popular"

    def fit(self, train: np.ndarray) -> Popular:
        self._set_popularity(train)
        return self

    def scores(self, x: np.ndarray, users=None) -> np.ndarray:
        return np.broadcast_to(self.popularity, (x.shape[0], len(self.popularity))).copy()


class ItemCosine(Ranker):
    r"""Item-item cosine on who-rated-what: :math:`s_u = r_u C`, :math:`C_{ij} = \frac{r_i^\top r_j}
    {\|r_i\| \|r_j\|}` over training users' binary rows, zero diagonal."""

    name = "item_cosine"

    def fit(self, train: np.ndarray) -> ItemCosine:
        self._set_popularity(train)
        r = (train > 0).astype(np.float64)  # (U, N)
        g = r.T @ r  # (N, N) co-raters
        norm = np.sqrt(np.diag(g))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.nan_to_num(g / np.outer(norm, norm))
        np.fill_diagonal(c, 0.0)
        self.sim = c
        return self

    def scores(self, x: np.ndarray, users=None) -> np.ndarray:
        return (x > 0).astype(np.float64) @ self.sim


class EASE(Ranker):
    r"""EASE (Steck, WWW 2019): the closed-form item-item model
    :math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}(P))`, :math:`P = (R^\top R + \lambda I)^{-1}`,
    zero diagonal; :math:`s_u = r_u B`. A rational graph filter of the item co-rating graph.

    Args:
        lam: λ (default 500, the value measured in issue 20).
    """

    name = "ease"

    def __init__(self, lam: float = 500.0):
        if not lam > 0:
            raise ValueError(f"lam={lam!r} must be > 0")
        self.lam = lam

    def fit(self, train: np.ndarray) -> EASE:
        self._set_popularity(train)
        r = (train > 0).astype(np.float64)  # (U, N)
        g = r.T @ r + self.lam * np.eye(r.shape[1])  # (N, N)
        p = np.linalg.inv(g)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        self.weights = b
        return self

    def scores(self, x: np.ndarray, users=None) -> np.ndarray:
        return (x > 0).astype(np.float64) @ self.weights


def normalised_gram(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The normalised item co-rating graph :math:`\tilde P = \tilde R^\top \tilde R`,
    :math:`\tilde R = D_u^{-1/2} R D_i^{-1/2}` (GF-CF's item graph; eigenvalues in [0, 1]), and the
    item degrees :math:`d_i` ``(N,)``."""
    r = (train > 0).astype(np.float64)  # (U, N)
    du, di = r.sum(1), r.sum(0)  # (U,), (N,)
    with np.errstate(divide="ignore"):
        iu = np.where(du > 0, du ** -0.5, 0.0)
        ii = np.where(di > 0, di ** -0.5, 0.0)
    rt = r * iu[:, None] * ii[None, :]  # (U, N)
    return rt.T @ rt, di


class GFCF(Ranker):
    r"""GF-CF (Shen et al., CIKM 2021): a linear low-pass filter on the normalised item graph plus
    an ideal low-pass term,

    .. math::
        s_u = r_u \tilde P + \alpha\, r_u D_i^{-1/2} V_m V_m^\top D_i^{1/2}

    with :math:`V_m` the top ``rank`` eigenvectors of :math:`\tilde P` (its right singular vectors
    of :math:`\tilde R`). ``alpha=0`` is the linear part alone (issue 20's measured reference).

    Args:
        alpha: weight of the ideal low-pass term (default 0.3, the paper's).
        rank: eigenvectors kept (default 256, the paper's).
    """

    name = "gf_cf"

    def __init__(self, alpha: float = 0.3, rank: int = 256):
        if not alpha >= 0 or rank < 1:
            raise ValueError(f"alpha={alpha!r} must be >= 0 and rank={rank!r} >= 1")
        self.alpha, self.rank = alpha, rank

    def fit(self, train: np.ndarray) -> GFCF:
        self._set_popularity(train)
        self.gram, di = normalised_gram(train)  # (N, N), (N,)
        self.ideal = None
        if self.alpha > 0:
            _, vecs = np.linalg.eigh(self.gram)  # ascending eigenvalues; dense: N is small
            v = vecs[:, -self.rank:]  # (N, m) the top ``rank``
            with np.errstate(divide="ignore"):
                left = np.where(di > 0, di ** -0.5, 0.0)
            self.ideal = (left[:, None] * v) @ (v.T * np.sqrt(di)[None, :])  # (N, N)
        return self

    def scores(self, x: np.ndarray, users=None) -> np.ndarray:
        r = (x > 0).astype(np.float64)  # (B, N)
        s = r @ self.gram
        if self.ideal is not None:
            s = s + self.alpha * (r @ self.ideal)
        return s


class ByRating(Ranker):
    """A rating predictor's list: movies ranked by the rating it estimates, before clipping
    (the fallback, the movie's training mean, where it cannot estimate), ties by popularity."""

    def __init__(self, predictor: Predictor, name: str):
        self.predictor, self.name = predictor, name

    def fit(self, train: np.ndarray) -> ByRating:
        """The predictor must already be fitted on ``train``; this records popularity only."""
        self._set_popularity(train)
        return self

    def scores(self, x: np.ndarray, users=None) -> np.ndarray:
        p = self.predictor
        est = np.asarray(p.estimate(np.asarray(x, dtype=np.float32), np.arange(x.shape[1])), dtype=np.float64)
        return np.where(np.isfinite(est), est, p.item_means[None, :])
