"""Gaussian coding distribution P = N(0, rho_l^2), one learned scale per layer."""
from __future__ import annotations

import torch
from torch import nn


class CodingPrior(nn.Module):
    """Per-layer log rho, learned during variational training and frozen before coding.

    Freezing stores the exact float32 scales that the file carries, so encoder and decoder
    draw candidates with identical numbers.
    """

    def __init__(self, n_layers: int, log_rho_init: float = -2.0):
        super().__init__()
        self.log_rho = nn.Parameter(torch.full((n_layers,), float(log_rho_init)))
        self.register_buffer("frozen_rho", torch.zeros(n_layers))
        self.register_buffer("is_frozen", torch.tensor(False))

    def rho(self) -> torch.Tensor:
        return self.frozen_rho if bool(self.is_frozen) else self.log_rho.exp()

    def freeze(self) -> None:
        self.frozen_rho.copy_(self.log_rho.detach().exp().float())
        self.is_frozen.fill_(True)
        self.log_rho.requires_grad_(False)


def gaussian_kl(mu, sigma, rho):
    """KL(N(mu, sigma^2) || N(0, rho^2)) per element, in nats."""
    return torch.log(rho / sigma) + (sigma**2 + mu**2) / (2.0 * rho**2) - 0.5
