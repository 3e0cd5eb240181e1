"""The two Gaussian posteriors over MIRACLE's coded variables: Mean-Var and Mean-KL (paper 000)."""
from __future__ import annotations

import torch
from torch import nn

from nncompress.core.blocks import BlockPartition
from nncompress.methods.mkl.lambertw import lambertw


class MeanVarPosterior(nn.Module):
    """q(w) = N(mu, sigma^2) with free mu and log sigma (Havasi et al. 2019)."""

    def __init__(self, init_mean: torch.Tensor, log_sigma_init: float = -10.0, **_):
        super().__init__()
        self.mu = nn.Parameter(init_mean.clone())
        self.log_sigma = nn.Parameter(torch.full_like(init_mean, float(log_sigma_init)))

    def moments(self, rho: torch.Tensor, partition: BlockPartition, budget_scale: float = 1.0):
        return self.mu, self.log_sigma.exp()

    def block_moments(self, members: torch.Tensor, rho: torch.Tensor, budget_scale: float = 1.0):
        """moments() of one block's members alone (rho: theirs): the encoder's O(block) path."""
        return self.mu[members], self.log_sigma[members].exp()


class MeanKLPosterior(nn.Module):
    """q(w) parameterised by its mean and its KL to the coding distribution (paper 000, eq. 2-6).

    kappa_w = softmax_block(gamma)_w * kappa_block;  mu = rho sqrt(2 kappa_w) tanh(tau);
    sigma^2 = -rho^2 W(-exp(z^2 - 2 kappa_w - 1)),  z = mu / rho.  Each block's KL is
    kappa_block by construction, or budget_scale * kappa_block while a budget warm-up runs
    (`init_budget_scale`: the scale at step 0, where tau inverts eq. 6 for the initial means).
    """

    def __init__(self, init_mean, rho_init, partition: BlockPartition, kappa_block: float,
                 halley_steps: int = 0, init_budget_scale: float = 1.0, **_):
        super().__init__()
        self.kappa_block = float(kappa_block)
        self.halley_steps = int(halley_steps)
        counts = partition.block_counts()[partition.block_of].to(init_mean.dtype)
        bound = rho_init * torch.sqrt(2.0 * init_budget_scale * self.kappa_block / counts)
        # Inverse of eq. 6 at gamma = 0 (equal quotas); clipped into the open interval.
        ratio = torch.clamp(init_mean / bound, -1.0 + 1e-6, 1.0 - 1e-6)
        self.tau = nn.Parameter(torch.atanh(ratio))
        self.gamma = nn.Parameter(torch.zeros_like(init_mean))

    def moments(self, rho: torch.Tensor, partition: BlockPartition, budget_scale: float = 1.0):
        kappa = partition.block_softmax(self.gamma) * (self.kappa_block * budget_scale)
        return self._from_kappa(kappa, self.tau, rho)

    def block_moments(self, members: torch.Tensor, rho: torch.Tensor, budget_scale: float = 1.0):
        """moments() of one block's members alone (rho: theirs): the quotas are a softmax within the
        block, so the block needs nothing else; the encoder's O(block) path on large models."""
        kappa = torch.softmax(self.gamma[members], 0) * (self.kappa_block * budget_scale)
        return self._from_kappa(kappa, self.tau[members], rho)

    def _from_kappa(self, kappa, tau, rho):
        z = torch.sqrt(2.0 * kappa) * torch.tanh(tau)
        # z^2 - 2 kappa - 1 = -2 kappa sech^2(tau) - 1, computed without cancellation.
        log_arg = -2.0 * kappa / torch.cosh(tau) ** 2 - 1.0
        ratio = -lambertw(-torch.exp(log_arg), self.halley_steps)
        sigma = rho * torch.sqrt(torch.clamp(ratio, min=1e-30))
        return rho * z, sigma


POSTERIORS = {"meanvar": MeanVarPosterior, "meankl": MeanKLPosterior}
