"""Drawing the scenarios: KPI values from their distributions, joined by a Gaussian copula.

Pure (numpy only; no scipy): the normal CDF by the identity Φ(x) = ½ erfc(−x/√2) with the
standard library's ``math.erfc`` applied element-wise (exact to double precision in both
tails), the inverse normal CDF by Acklam's rational approximation with one Halley refinement
step (relative error below 1e-15), the regularised incomplete beta function by its continued
fraction (Lentz), and beta quantiles by inverting that CDF tabulated on a fine grid (4,097
points, monotone linear interpolation; the drawn value is then rounded to the KPI's decimals,
far coarser than the grid's error).

The draw is a pure function of the seed: one ``numpy.random.Generator(PCG64(seed))`` draws a
runs × variables matrix of standard normals, the Cholesky factor of the correlation matrix
correlates them, Φ turns each column into uniforms and each variable's inverse CDF into its
value. The same seed, assumptions and contract give the same values on any machine with the
same numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from contracts.model import Contract
from ledger.errors import Problem
from settlement.simulation_assumptions import Assumptions, Correlation, Distribution
from settlement.simulation_payouts import KpiDraws, Variable

Floats = npt.NDArray[np.float64]

_ERFC = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(x: Floats) -> Floats:
    """Φ(x) = ½ erfc(−x / √2), exact to double precision in both tails."""
    return np.asarray(0.5 * _ERFC(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0)),
                      dtype=np.float64)


# Acklam's coefficients.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00)
_LOW = 0.02425


def normal_ppf(p: Floats) -> Floats:
    """Φ⁻¹(p) for 0 < p < 1: Acklam's approximation, refined by one Halley step."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-300, 1 - 1e-16)
    x = np.empty_like(p)
    low, high = p < _LOW, p > 1 - _LOW
    mid = ~(low | high)
    q = np.sqrt(-2 * np.log(p[low]))
    x[low] = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
        ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    q = p[mid] - 0.5
    r = q * q
    x[mid] = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
        (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    q = np.sqrt(-2 * np.log(1 - p[high]))
    x[high] = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
        ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    e = normal_cdf(x) - p
    u = e * math.sqrt(2 * math.pi) * np.exp(x * x / 2)
    return np.asarray(x - u / (1 + x * u / 2), dtype=np.float64)


def _beta_cf(a: float, b: float, x: Floats) -> Floats:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        step = d * c
        h *= step
        if np.all(np.abs(step - 1.0) < 1e-15):
            break
    return h


def beta_cdf(x: Floats, a: float, b: float) -> Floats:
    """The regularised incomplete beta function I_x(a, b) on [0, 1]."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    out = np.zeros_like(x)
    inner = (x > 0) & (x < 1)
    out[x >= 1] = 1.0
    xi = x[inner]
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * np.log(xi) + b * np.log1p(-xi))
    front = np.exp(log_front)
    direct = xi < (a + 1) / (a + b + 2)
    value = np.empty_like(xi)
    if direct.any():
        value[direct] = front[direct] * _beta_cf(a, b, xi[direct]) / a
    if (~direct).any():
        value[~direct] = 1 - front[~direct] * _beta_cf(b, a, 1 - xi[~direct]) / b
    out[inner] = value
    return out


def beta_ppf(u: Floats, a: float, b: float, points: int = 4097) -> Floats:
    """Beta quantiles: the CDF tabulated on a grid (denser near the ends, where the density
    may be steep) and inverted by linear interpolation."""
    t = np.linspace(0.0, 1.0, points)
    grid = 0.5 - 0.5 * np.cos(np.pi * t)  # Chebyshev-like spacing
    cdf = np.maximum.accumulate(beta_cdf(grid, a, b))
    return np.asarray(np.interp(u, cdf, grid), dtype=np.float64)


def _f(value: Decimal) -> float:
    return float(value)


def marginal(dist: Distribution, z: Floats, u: Floats,
             empirical: Sequence[Decimal] = (), target: Decimal | None = None) -> Floats:
    """Values of one distribution from correlated normals ``z`` (and their uniforms ``u``)."""
    p = {k: _f(v) for k, v in dist.params.items()}
    kind = dist.kind
    if kind == "fixed":
        return np.full_like(z, p["value"])
    if kind == "normal":
        return p["mean"] + p["sd"] * z
    if kind == "truncated_normal":
        lo = normal_cdf(np.array([(p.get("min", -math.inf) - p["mean"]) / p["sd"]]))[0] \
            if "min" in p else 0.0
        hi = normal_cdf(np.array([(p.get("max", math.inf) - p["mean"]) / p["sd"]]))[0] \
            if "max" in p else 1.0
        x = p["mean"] + p["sd"] * normal_ppf(lo + u * (hi - lo))
        return np.clip(x, p.get("min", -math.inf), p.get("max", math.inf))
    if kind == "uniform":
        return p["min"] + u * (p["max"] - p["min"])
    if kind == "triangular":
        a, c, b = p["min"], p["mode"], p["max"]
        cut = (c - a) / (b - a)
        return np.where(u < cut, a + np.sqrt(u * (b - a) * (c - a)),
                        b - np.sqrt((1 - u) * (b - a) * (b - c)))
    if kind == "beta":
        lo, hi = p.get("min", 0.0), p.get("max", 100.0)
        return lo + (hi - lo) * beta_ppf(u, p["alpha"], p["beta"])
    if kind == "discrete":
        values = np.array([_f(v) for v, _ in dist.table])
        cumulative = np.cumsum([_f(q) for _, q in dist.table])
        cumulative[-1] = 1.0
        return values[np.minimum(np.searchsorted(cumulative, u, side="right"),
                                 len(values) - 1)]
    assert kind == "empirical"
    ratios = np.array(sorted(_f(r) for r in empirical))
    index = np.minimum((u * len(ratios)).astype(np.int64), len(ratios) - 1)
    scale = _f(target) if target is not None else 1.0
    return ratios[index] * scale


def correlation_matrix(order: Sequence[Variable], correlation: Correlation) -> Floats:
    """ρ(a, b) = between_years^|Δyear| × between_payers (when both have payers and they
    differ) × between_kpis (for different KPIs; 0 when no pair is given)."""
    n = len(order)
    m = np.eye(n)
    years = float(correlation.between_years)
    payers = float(correlation.between_payers)
    kpis = {k: float(v) for k, v in correlation.between_kpis.items()}
    for i in range(n):
        yi, _, ki, pi = order[i]
        for j in range(i + 1, n):
            yj, _, kj, pj = order[j]
            rho = years ** abs(yi - yj) if yi != yj else 1.0
            if pi and pj and pi != pj:
                rho *= payers
            if ki != kj:
                rho *= kpis.get(frozenset((ki, kj)), 0.0)
            m[i, j] = m[j, i] = rho
    return m


def draw(contract: Contract, assumptions: Assumptions, simulated: Sequence[Variable],
         known: Mapping[Variable, str], runs: int, seed: int,
         history: Mapping[str, Sequence[Decimal]]) -> tuple[dict[Variable, KpiDraws],
                                                             list[Problem]]:
    """KPI values of every scenario: ``known`` results as they are, ``simulated`` ones drawn.
    ``history``: per KPI, the achievement ratios audited so far (for ``empirical``)."""
    out: dict[Variable, KpiDraws] = {}
    for variable, text in known.items():
        value = Decimal(text)
        exponent = -value.as_tuple().exponent if value.as_tuple().exponent < 0 else 0  # type: ignore[operator]
        scale = 10 ** int(exponent)
        out[variable] = KpiDraws(np.full(runs, int(value * scale), dtype=np.int64), scale)
    problems: list[Problem] = []
    matrix = correlation_matrix(simulated, assumptions.correlation)
    try:
        factor = np.linalg.cholesky(matrix + 1e-12 * np.eye(len(simulated))) \
            if simulated else np.zeros((0, 0))
    except np.linalg.LinAlgError:
        return out, [Problem("CORRELATION_NOT_POSITIVE", "the correlations given do not form a "
                             "valid correlation matrix (not positive definite); lower them",
                             "correlation", assumptions.source)]
    generator = np.random.Generator(np.random.PCG64(seed))
    normals = generator.standard_normal((runs, len(simulated)))
    correlated = normals @ factor.T
    uniforms = normal_cdf(correlated)
    for k, variable in enumerate(simulated):
        year, _, kpi_id, payer = variable
        dist = assumptions.distributions[variable]
        kpi = contract.kpi(kpi_id)
        target = kpi.targets_by_payer.get(payer, {}).get(year) if payer else None
        target = target if target is not None else kpi.targets.get(year)
        if dist.kind == "empirical" and not history.get(kpi_id):
            if any(p.field == dist.where for p in problems):
                continue
            problems.append(Problem("HISTORY_MISSING", f"an empirical distribution for "
                                    f"{kpi_id} needs audited results of earlier years; there "
                                    "are none", dist.where, assumptions.source))
            continue
        values = marginal(dist, correlated[:, k], uniforms[:, k], history.get(kpi_id, ()),
                          target)
        places = assumptions.decimals.get(kpi_id, 1)
        scale = 10 ** places
        out[variable] = KpiDraws(np.rint(values * scale).astype(np.int64), scale)
    return out, problems
