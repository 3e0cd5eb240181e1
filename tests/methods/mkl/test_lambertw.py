"""Lambert W over the domain the Mean-KL parameterisation reaches, against scipy."""
import math

import numpy as np
import pytest
import torch
from scipy.special import lambertw as scipy_w

from nncompress.methods.mkl.lambertw import SWITCH, lambertw

# x = -exp(-1 - 2 kappa sech^2 tau): from the branch point -1/e down to ~0 (huge kappa).
GRID = -np.exp(-1.0 - np.logspace(-10, 2.5, 400))


def _rel_err(w, ref):
    return np.abs(w - ref) / np.maximum(np.abs(ref), 1e-300)


def test_pade_hybrid_accuracy():
    x = torch.tensor(GRID, dtype=torch.float64)
    ref = scipy_w(GRID).real
    assert _rel_err(lambertw(x).numpy(), ref).max() < 7e-4


def test_halley_refines_to_machine_precision():
    x = torch.tensor(GRID, dtype=torch.float64)
    ref = scipy_w(GRID).real
    assert _rel_err(lambertw(x, halley_steps=2).numpy(), ref).max() < 1e-9


def test_branch_point_and_padé_formula_of_the_paper():
    assert lambertw(torch.tensor(-1 / math.e, dtype=torch.float64)).item() == pytest.approx(-1.0, abs=1e-12)
    # Appendix B's [3/2] approximant (denominator constant 1) is what is used below the switch.
    x = np.linspace(-1 / math.e, SWITCH - 1e-6, 50)
    t = np.sqrt(2 * math.e * x + 2)
    pade = (13 / 720 * t**3 + 257 / 720 * t**2 + t / 6 - 1) / (103 / 720 * t**2 + 5 / 6 * t + 1)
    assert np.allclose(lambertw(torch.tensor(x)).numpy(), pade, rtol=1e-12, atol=1e-12)


def test_never_positive_so_variance_stays_positive():
    x = -torch.exp(-1 - torch.logspace(-8, 2, 1000, dtype=torch.float64))
    assert (lambertw(x) < 0).all()


def test_gradient_matches_closed_form():
    x = torch.tensor([-0.3, -0.2, -0.05, -1e-4], dtype=torch.float64, requires_grad=True)
    w = lambertw(x, halley_steps=3)
    (grad,) = torch.autograd.grad(w.sum(), x)
    expected = w / (x * (1 + w))  # W'(x) = W / (x (1 + W))
    assert torch.allclose(grad, expected.detach(), rtol=1e-6)
