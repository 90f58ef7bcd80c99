"""ReLU and the "manifold of interest": the experiment behind Figure 1 of the MobileNet V2 paper.

A 2-D spiral (the manifold of interest) is embedded in ``n`` dimensions by a random matrix
``T`` (``n x 2``, standard normal entries), passed through an activation, and projected back to
the plane with the pseudo-inverse of ``T``::

    x  ->  h = act(T x)  ->  x_hat = pinv(T) h

With the identity as activation ``x_hat == x`` exactly. With ReLU every hidden coordinate that is
negative is set to zero; in a narrow space (n = 2, 3) that folds whole arcs of the spiral onto
lines and points, while in a wide space (n = 15, 30) the spiral comes back almost intact.

Three measurements describe one run (all defined over the sampled spiral points):

``relative_error``
    The figure of merit. Relative squared error of the reconstruction *after the best single
    rescaling*: ``min_s ||s * x_hat - x||^2 / ||x||^2``, in [0, 1]. The rescaling matters because
    ReLU zeroes about half of the coordinates, so ``pinv(T) ReLU(T x)`` is on average about
    ``x / 2``: a uniformly shrunk spiral has lost no information and should not count as error.
    0 means a perfect copy up to scale; 1 means nothing of ``x`` is linearly left in ``x_hat``.
``zeroed_fraction``
    The fraction of the ``N * n`` hidden coordinates that the activation sets exactly to zero
    (about one half for ReLU whatever ``n`` is; 0 for the identity).
``recoverable_fraction``
    The fraction of spiral points at which the map ``x -> act(T x)`` is locally invertible, i.e.
    its Jacobian ``diag(act'(T x)) T`` has rank 2. For ReLU this means that the rows of ``T``
    that are active at the point span the plane: a decoder that knows which coordinates are
    non-zero (it can see that in ``h``) recovers the point exactly. This is the paper's point made
    measurable: information survives where enough coordinates survive.

Everything is seeded: ``T`` is the first ``n`` rows of a 256 x 2 matrix drawn from
``torch.Generator().manual_seed(seed)``, so for one seed a larger ``n`` only adds rows. The
computation is vectorised, in float64, and one run with the default 400 points takes about a
millisecond.

Example::

    result = manifold_collapse(2, seed=0)          # narrow: the spiral collapses
    result.relative_error, result.recoverable_fraction
    curve = collapse_curve(range(2, 51), seeds=range(20))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mobilenet_lib.validation import integer, one_of, positive_float

__all__ = [
    "ACTIVATIONS",
    "CollapseCurve",
    "CollapseResult",
    "collapse_curve",
    "manifold_collapse",
    "spiral",
]

#: The activations the experiment accepts, by name. ``"hswish"`` is MobileNet V3's h-swish,
#: ``x * ReLU6(x + 3) / 6``.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "relu6": F.relu6,
    "linear": lambda z: z,
    "hswish": F.hardswish,
}

#: Default spiral radius: with ``r`` (about) uniform on [0, R] and ``T`` standard normal, each hidden
#: pre-activation ``t . x`` has mean square ``E[r^2] = R^2 / 3``; R = sqrt(3) makes that 1, the
#: scale a batch-normalised layer feeds its activation.
DEFAULT_RADIUS = math.sqrt(3.0)

#: The range of dimensions the experiment accepts.
MIN_DIM, MAX_DIM = 2, 256


@dataclass(frozen=True)
class CollapseResult:
    """One run of the experiment; arrays are float64 numpy arrays.

    ``points`` (N, 2) is the input spiral, ``embedding`` (n, 2) the random matrix ``T``,
    ``hidden`` (N, n) the activations ``act(T x)``, ``reconstruction`` (N, 2) the raw
    ``pinv(T) h`` and ``gain`` the best rescaling ``s`` of it; ``aligned`` is ``gain *
    reconstruction``. See the module docstring for the three measurements.
    """

    n: int
    seed: int
    activation: str
    points: np.ndarray
    embedding: np.ndarray
    hidden: np.ndarray
    reconstruction: np.ndarray
    gain: float
    relative_error: float
    zeroed_fraction: float
    recoverable_fraction: float

    @property
    def aligned(self) -> np.ndarray:
        """The reconstruction rescaled by ``gain``: what ``relative_error`` compares to ``points``."""
        return self.gain * self.reconstruction


@dataclass(frozen=True)
class CollapseCurve:
    """Measurements over a grid of dimensions, averaged over seeds.

    ``dims`` has one entry per dimension; ``relative_error`` etc. have shape (len(dims),) and are
    means over the seeds, ``*_std`` the standard deviations over seeds (ddof=0); ``per_seed``
    holds the raw relative errors, shape (len(dims), len(seeds)).
    """

    activation: str
    dims: np.ndarray
    seeds: tuple[int, ...]
    relative_error: np.ndarray
    relative_error_std: np.ndarray
    zeroed_fraction: np.ndarray
    recoverable_fraction: np.ndarray
    recoverable_fraction_std: np.ndarray
    per_seed: np.ndarray


def spiral(num_points: int = 400, *, turns: float = 2.0, radius: float = DEFAULT_RADIUS) -> np.ndarray:
    """An Archimedean spiral centred on the origin, shape (num_points, 2), float64.

    The angle runs uniformly over ``turns`` full turns and the radius grows linearly from
    ``radius / num_points`` to ``radius``, so the origin (where ReLU's half-spaces meet) lies
    inside the manifold but is not itself a sample (every activation maps it to zero).
    """
    return _spiral(num_points, turns, radius).numpy()


def _spiral(num_points: int, turns: float, radius: float) -> torch.Tensor:
    num_points = integer("num_points", num_points, low=3, high=1_000_000)
    turns, radius = positive_float("turns", turns), positive_float("radius", radius)
    angle = torch.linspace(0.0, 2.0 * math.pi * float(turns), num_points, dtype=torch.float64)
    r = torch.linspace(float(radius) / num_points, float(radius), num_points, dtype=torch.float64)
    return torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)


def _embedding(n: int, seed: int) -> torch.Tensor:
    # Always draw MAX_DIM rows and keep the first n: the embeddings of one seed are nested, so
    # moving n by one adds or removes one hidden coordinate instead of redrawing all of them.
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(MAX_DIM, 2, generator=generator, dtype=torch.float64)[:n]


def _measure(
    x: torch.Tensor, T: torch.Tensor, activation: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched core. x: (N, 2); T: (B, n, 2). Returns hidden (B, N, n), raw reconstruction
    (B, N, 2), gain (B,), relative error (B,), zeroed fraction (B,), recoverable fraction (B,)."""
    act = ACTIVATIONS[activation]
    # The pre-activations need a gradient only to read off act'(z) for the Jacobian test.
    z = torch.einsum("pk,bik->bpi", x, T).requires_grad_(True)
    with torch.enable_grad():
        h = act(z)
        (slope,) = torch.autograd.grad(h.sum(), z)
    h = h.detach()
    recon = torch.einsum("bki,bpi->bpk", torch.linalg.pinv(T), h)

    # Best single rescaling s = <x_hat, x> / <x_hat, x_hat>; an all-zero x_hat gets s = 0.
    inner = torch.einsum("bpk,pk->b", recon, x)
    energy = recon.pow(2).sum(dim=(1, 2))
    gain = torch.where(energy > 0, inner / energy.clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(inner))
    residual = (gain[:, None, None] * recon - x).pow(2).sum(dim=(1, 2))
    rel_error = residual / x.pow(2).sum()

    zeroed = (h == 0).double().mean(dim=(1, 2))

    # Local invertibility: J = diag(act'(z)) T has rank 2 iff the 2x2 Gram matrix J^T J is
    # non-singular; judged relative to T^T T so the test does not depend on the scale of T.
    # Entries (00, 01, 11) of J^T J for every point at once: slope^2 @ [t0*t0, t0*t1, t1*t1].
    products = torch.stack([T[..., 0] * T[..., 0], T[..., 0] * T[..., 1], T[..., 1] * T[..., 1]], dim=-1)
    a, b, d = (slope.pow(2) @ products).unbind(dim=-1)
    smallest = _smallest_eigenvalue_2x2(a, b, d)
    reference = torch.linalg.eigvalsh(T.transpose(1, 2) @ T)[:, -1]
    recoverable = (smallest > 1e-9 * reference[:, None]).double().mean(dim=1)
    return h, recon, gain, rel_error, zeroed, recoverable


def _smallest_eigenvalue_2x2(a: torch.Tensor, b: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Smallest eigenvalue of the symmetric 2x2 matrices [[a, b], [b, d]], in closed form."""
    half_trace = (a + d) / 2
    spread = torch.sqrt(((a - d) / 2).pow(2) + b.pow(2))
    return half_trace - spread


def manifold_collapse(
    n: int,
    *,
    seed: int = 0,
    activation: str = "relu",
    num_points: int = 400,
    turns: float = 2.0,
    radius: float = DEFAULT_RADIUS,
) -> CollapseResult:
    """Embed a spiral in ``n`` dimensions, apply ``activation``, project back with ``pinv(T)``.

    Args:
        n: dimension of the embedding space (2 to 256).
        seed: seeds the random embedding ``T`` (a non-negative integer).
        activation: one of :data:`ACTIVATIONS` (``"relu"``, ``"relu6"``, ``"linear"``, ``"hswish"``).
        num_points, turns, radius: the spiral, see :func:`spiral`. ReLU is positively homogeneous,
            so its results do not depend on ``radius``; ReLU6 and h-swish do.

    Raises:
        ValueError: on an unknown activation or an out-of-range argument.
    """
    n = integer("n", n, low=MIN_DIM, high=MAX_DIM)
    seed = integer("seed", seed, low=0)
    activation = one_of("activation", activation, ACTIVATIONS)
    x = _spiral(num_points, turns, radius)
    T = _embedding(n, seed)
    h, recon, gain, err, zeroed, recoverable = _measure(x, T[None], activation)
    return CollapseResult(
        n=n,
        seed=seed,
        activation=activation,
        points=x.numpy(),
        embedding=T.numpy(),
        hidden=h[0].numpy(),
        reconstruction=recon[0].numpy(),
        gain=float(gain[0]),
        relative_error=float(err[0]),
        zeroed_fraction=float(zeroed[0]),
        recoverable_fraction=float(recoverable[0]),
    )


def collapse_curve(
    dims: Iterable[int],
    *,
    seeds: Iterable[int] = range(20),
    activation: str = "relu",
    num_points: int = 400,
    turns: float = 2.0,
    radius: float = DEFAULT_RADIUS,
) -> CollapseCurve:
    """Run :func:`manifold_collapse` for every dimension in ``dims`` and seed in ``seeds``.

    Seed ``s`` at dimension ``n`` uses the same ``T`` as ``manifold_collapse(n, seed=s)``, so a
    point on the curve is exactly the mean of those single runs. Vectorised over seeds.

    Raises:
        ValueError: if ``dims`` or ``seeds`` is empty or holds an invalid value, or on an
            unknown activation.
    """
    dims_list = [integer("dims[i]", d, low=MIN_DIM, high=MAX_DIM) for d in dims]
    seeds_tuple = tuple(integer("seeds[i]", s, low=0) for s in seeds)
    if not dims_list:
        raise ValueError("dims must hold at least one dimension, e.g. range(2, 51)")
    if not seeds_tuple:
        raise ValueError("seeds must hold at least one seed, e.g. range(20)")
    activation = one_of("activation", activation, ACTIVATIONS)
    x = _spiral(num_points, turns, radius)

    errors, zeroed, recoverable = [], [], []
    for n in dims_list:
        T = torch.stack([_embedding(n, s) for s in seeds_tuple])
        _, _, _, err, zero, rec = _measure(x, T, activation)
        errors.append(err)
        zeroed.append(zero)
        recoverable.append(rec)
    err_all = torch.stack(errors).numpy()
    rec_all = torch.stack(recoverable).numpy()
    return CollapseCurve(
        activation=activation,
        dims=np.asarray(dims_list),
        seeds=seeds_tuple,
        relative_error=err_all.mean(axis=1),
        relative_error_std=err_all.std(axis=1),
        zeroed_fraction=torch.stack(zeroed).numpy().mean(axis=1),
        recoverable_fraction=rec_all.mean(axis=1),
        recoverable_fraction_std=rec_all.std(axis=1),
        per_seed=err_all,
    )
