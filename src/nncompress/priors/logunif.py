"""KL from a Gaussian posterior to the log-uniform prior p(w) ∝ 1/|w| (sparse VD).

Molchanov et al. 2017 fit  -KL ≈ k1·sigmoid(k2 + k3·log α) − 0.5·log1p(exp(−log α)) − k1,
with α = σ²/θ², accurate up to an additive constant (the prior is improper).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

K1, K2, K3 = 0.63576, 1.87320, 1.48695
LOG_ALPHA_CLIP = 8.0  # log α is clipped to [-8, 8]


def log_alpha(theta: torch.Tensor, log_sigma2: torch.Tensor) -> torch.Tensor:
    return torch.clamp(log_sigma2 - torch.log(theta**2 + 1e-16), -LOG_ALPHA_CLIP, LOG_ALPHA_CLIP)


def kl_log_uniform(log_alpha_: torch.Tensor) -> torch.Tensor:
    """Approximate KL(N(θ, σ²) || LogUniform) per weight, in nats (≥ 0, → 0 as α → ∞)."""
    neg_kl = K1 * torch.sigmoid(K2 + K3 * log_alpha_) - 0.5 * F.softplus(-log_alpha_) - K1
    return -neg_kl
