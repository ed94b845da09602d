"""The smooth B0 field map: a low-order 2-D Legendre polynomial, its bound and its projection.

Parametrisation. A field map ``df(y, x)`` in Hz on the ``(H, W)`` grid of the coil images (the
full field of view of the k-space, readout oversampling included: the bound must hold wherever
there is signal) is a polynomial of total degree ``<= degree`` in normalised coordinates
``y, x`` in ``[-1, 1]`` (``linspace(-1, 1, H)`` down the rows, ``linspace(-1, 1, W)`` across
the columns)::

    df(y, x) = sum_{a + b <= degree} c_ab P_a(y) P_b(x)

with ``P_k`` the Legendre polynomials (``|P_k| <= 1`` on ``[-1, 1]``, better conditioned than
monomials) and the coefficients ``c`` in Hz: ``K = (degree + 1)(degree + 2) / 2`` of them
(degree 2: the constant, two gradients, three second-order shim terms). Degree 0 is a constant
offset (a pure shift along the readout). A second-order polynomial is what second-order shims
can produce and remove; residual in-vivo inhomogeneity over a knee is smooth on the scale of
the field of view, so a low-order map is the physical model of an imperfect shim.

Feasible set: ``max over the grid |df| <= bound`` (Hz), a convex polytope in coefficient space,
symmetric about 0. :func:`project` scales ``c`` by ``bound / max|df|`` when the map exceeds the
bound: a projection onto the feasible set (the result is feasible, and feasible points do not
move) along the ray to 0, not the Euclidean nearest point. Random field maps
(:func:`draw`) are Gaussian coefficients scaled so that ``max|df| = bound`` exactly: a random
direction on the boundary of the same set.
"""

from __future__ import annotations

import torch

__all__ = ["TOLERANCE", "basis", "draw", "field_map", "max_abs", "num_terms", "project", "terms"]

#: Relative float64 rounding allowed on the bound by :func:`project`'s scaling (the feasibility
#: check is ``max|df| <= bound * (1 + TOLERANCE)``).
TOLERANCE = 1e-9


def num_terms(degree: int) -> int:
    """Number ``K`` of coefficients of a polynomial of total degree ``<= degree`` in 2-D."""
    return (degree + 1) * (degree + 2) // 2


def terms(degree: int) -> list[tuple[int, int]]:
    """The ``(a, b)`` degrees of ``P_a(y) P_b(x)``, by total degree, then ``a`` descending."""
    return [(a, s - a) for s in range(degree + 1) for a in range(s, -1, -1)]


def _legendre(u: torch.Tensor, degree: int) -> list[torch.Tensor]:
    """``[P_0(u), ..., P_degree(u)]`` by Bonnet's recurrence."""
    out = [torch.ones_like(u), u.clone()]
    for k in range(1, degree):
        out.append(((2 * k + 1) * u * out[k] - k * out[k - 1]) / (k + 1))
    return out[: degree + 1]


def basis(shape: tuple[int, int], degree: int, device=None) -> torch.Tensor:
    """The ``(K, H, W)`` float64 basis ``P_a(y) P_b(x)`` of :func:`terms` on the grid."""
    H, W = int(shape[0]), int(shape[1])
    y = torch.linspace(-1.0, 1.0, H, dtype=torch.float64, device=device)
    x = torch.linspace(-1.0, 1.0, W, dtype=torch.float64, device=device)
    py, px = _legendre(y, degree), _legendre(x, degree)
    return torch.stack([py[a][:, None] * px[b][None, :] for a, b in terms(degree)])


def field_map(coeffs: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """``(n, H, W)`` field maps (Hz) of coefficients ``(n, K)`` (Hz) on the basis ``(K, H, W)``."""
    return torch.einsum("nk,khw->nhw", coeffs.to(phi.dtype), phi)


def max_abs(coeffs: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """``(n,)`` largest ``|df|`` over the grid (Hz)."""
    return field_map(coeffs, phi).abs().flatten(1).amax(1)


def project(coeffs: torch.Tensor, phi: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """Coefficients ``(n, K)`` scaled into ``max|df| <= bound`` (``(n,)`` Hz; module docstring).

    A feasible point is returned unchanged; an infeasible one is scaled by ``bound / max|df|``
    (onto the boundary). Differentiable almost everywhere, though searches do not need it.
    """
    m = max_abs(coeffs, phi).detach()
    b = bound.to(m)
    scale = torch.where(m > b, b / torch.clamp(m, min=torch.finfo(m.dtype).tiny), 1.0)
    return coeffs * scale[:, None].to(coeffs.dtype)


def draw(generators: list[torch.Generator], phi: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """One random field map per item: Gaussian coefficients scaled to ``max|df| = bound``.

    Args:
        generators: One generator per item (its stream gives the item's ``K`` draws).
        phi: ``(K, H, W)`` basis; bound: ``(n,)`` Hz.

    Returns:
        ``(n, K)`` float64 coefficients on ``phi``'s device (zero where ``bound = 0``).
    """
    K = phi.shape[0]
    c = torch.stack(
        [torch.randn(K, generator=g, dtype=torch.float64, device=g.device) for g in generators]
    ).to(phi.device)
    m = max_abs(c, phi)
    scale = bound.to(m) / torch.clamp(m, min=torch.finfo(m.dtype).tiny)
    return c * scale[:, None]
