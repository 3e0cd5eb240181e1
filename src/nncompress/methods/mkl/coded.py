"""What the block coder has fixed so far: the encoder's state, not the module's.

Paper 000 (sec. 3.3, after Havasi et al. 2019): block b is coded, its variables are fixed to the
decoded sample w_b = materialise(seed, b, index_b) and drop out of the objective, and the blocks
not yet coded are fine-tuned. The Lightning module keeps the distributions (mu, sigma, rho); this
object keeps, per coded variable, the decoded value and the (mu, sigma) it was coded from (for
Figure 1 and the KL pruning curves), and which blocks are done. The encoder owns one and passes it
to the module's objective while fine-tuning (`MiracleModule.objective(..., coded=...)`).
"""
from __future__ import annotations

import torch

KEYS = ("fixed", "values", "done", "mu", "sigma")
# The module buffers that held this state before it moved here (coding states written then).
LEGACY = {"fixed": "fixed", "fixed_values": "values", "block_done": "done", "coded_mu": "mu", "coded_sigma": "sigma"}


class CodedBlocks:
    def __init__(self, n_coded: int, n_blocks: int, device=None):
        self.fixed = torch.zeros(n_coded, dtype=torch.bool, device=device)
        self.values = torch.zeros(n_coded, device=device)
        self.done = torch.zeros(n_blocks, dtype=torch.bool, device=device)
        self.mu = torch.zeros(n_coded, device=device)
        self.sigma = torch.zeros(n_coded, device=device)

    @torch.no_grad()
    def fix(self, b: int, members, values, mu, sigma) -> None:
        """Block b is coded: its members take `values` (the decoded sample) from now on."""
        self.mu[members] = mu.to(self.mu)
        self.sigma[members] = sigma.to(self.sigma)
        self.fixed[members] = True
        self.values[members] = values.to(self.values)
        self.done[b] = True

    def weights(self, free: torch.Tensor) -> torch.Tensor:
        """The decoded values where coded, `free` (a sample or the means) elsewhere."""
        return torch.where(self.fixed, self.values, free)

    def all_done(self) -> bool:
        return bool(self.done.all())

    def tensors(self) -> list:
        """The live tensors (to broadcast across ranks in place)."""
        return [getattr(self, k) for k in KEYS]

    def state_dict(self) -> dict:
        return {k: getattr(self, k).detach().clone() for k in KEYS}

    def load_state_dict(self, state: dict) -> None:
        for k in KEYS:
            getattr(self, k).copy_(state[k])

    @staticmethod
    def split_legacy(module_state: dict) -> tuple[dict, dict | None]:
        """(the module's state, the coded state) from a module state that still holds the coded
        buffers (a coding_state.pt written before they moved here); (state, None) otherwise."""
        if "fixed_values" not in module_state:
            return module_state, None
        rest = {k: v for k, v in module_state.items() if k not in LEGACY}
        return rest, {new: module_state[old] for old, new in LEGACY.items()}
