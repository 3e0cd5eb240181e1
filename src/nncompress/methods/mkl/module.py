"""MIRACLE variational training (Havasi et al. 2019) with Mean-Var or Mean-KL posteriors.

Mean-Var anneals one KL weight beta_b per block toward the block budget (paper 000, sec. 4);
Mean-KL holds every block's KL at the budget by construction, so its loss is cross-entropy
alone. The module holds the distributions only: what the coder has fixed (decoded values, done
blocks) is the encoder's `coded.CodedBlocks`, which the objective takes while fine-tuning between
blocks (coded blocks use their decoded values and drop out of the objective).

Budget warm-up (Mean-KL, an option beyond the paper, on at scale=quick): the block budget starts
at `budget_warmup_factor` times C_block and falls geometrically to C_block by step
`budget_warmup_steps`, then stays there; coding always sees C_block. With the paper's budget
from step 0, 20 bits spread over 30 weights leave every weight so noisy that the network first
collapses to uniform outputs (cross-entropy ln 10) and needs ~1,500 steps to leave that plateau.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from nncompress.core.blocks import BlockPartition
from nncompress.core.units import LN2
from nncompress.methods.base import ClassifierModule, linear_decay
from nncompress.methods.mkl.posteriors import POSTERIORS
from nncompress.models.coded import CodedNetwork
from nncompress.priors.gaussian import CodingPrior, gaussian_kl


def check_schedule(posterior: str, budget_warmup_factor: float = 1.0, budget_warmup_steps: int = 0,
                   lr_gamma_factor: float = 1.0, lr_decay_start: int = 0, lr_decay_steps: int = 0,
                   lr_final_factor: float = 1.0) -> None:
    """ValueError, saying what to change, for warm-up and rate settings MiracleModule cannot use."""
    if budget_warmup_factor < 1.0 or budget_warmup_steps < 0:
        raise ValueError(f"budget warm-up needs factor >= 1 and steps >= 0, got {budget_warmup_factor}, "
                         f"{budget_warmup_steps}")
    if posterior != "meankl" and (budget_warmup_factor != 1.0 and budget_warmup_steps > 0):
        raise ValueError("the budget warm-up is a Mean-KL option (Mean-Var anneals beta instead)")
    if lr_gamma_factor <= 0 or not 0 <= lr_decay_start <= lr_decay_steps or lr_final_factor < 0:
        raise ValueError(f"need lr_gamma_factor > 0, 0 <= lr_decay_start <= lr_decay_steps and "
                         f"lr_final_factor >= 0, got {lr_gamma_factor}, {lr_decay_start}, {lr_decay_steps}, "
                         f"{lr_final_factor}")
    if posterior != "meankl" and lr_gamma_factor != 1.0:
        raise ValueError("lr_gamma_factor is a Mean-KL option (Mean-Var has no quotas)")


class MiracleModule(ClassifierModule):
    def __init__(self, network: CodedNetwork, posterior: str = "meankl", block_size: int = 30,
                 bits_per_block: int = 20, partition_seed: int = 0, lr: float = 1e-3,
                 log_rho_init: float = -2.0, log_sigma_init: float = -10.0,
                 beta_init: float = 1e-8, beta_eps: float = 5e-5, beta_eps_coding: float | None = None,
                 halley_steps: int = 0, budget_warmup_factor: float = 1.0, budget_warmup_steps: int = 0,
                 lr_gamma_factor: float = 1.0, lr_decay_start: int = 0, lr_decay_steps: int = 0,
                 lr_final_factor: float = 1.0):
        """lr_gamma_factor: Mean-KL's quota logits gamma train at lr x this (1: one rate, the paper).
        lr_decay_steps > 0: every rate is constant until lr_decay_start, then falls linearly to
        lr_final_factor x itself at lr_decay_steps (0: constant, the paper). Coding fine-tunes at lr."""
        super().__init__()
        check_schedule(posterior, budget_warmup_factor, budget_warmup_steps, lr_gamma_factor, lr_decay_start,
                       lr_decay_steps, lr_final_factor)
        self.lr_gamma_factor, self.lr_final_factor = float(lr_gamma_factor), float(lr_final_factor)
        self.lr_decay_start, self.lr_decay_steps = int(lr_decay_start), int(lr_decay_steps)
        if posterior not in POSTERIORS:
            raise ValueError(f"unknown posterior '{posterior}'; choose one of {sorted(POSTERIORS)}")
        self.network = network
        self.kind = posterior
        self.lr = lr
        self.bits_per_block = bits_per_block
        self.budget_nats = bits_per_block * LN2
        self.beta_eps = beta_eps
        self.beta_eps_coding = beta_eps if beta_eps_coding is None else beta_eps_coding
        self.budget_warmup_factor = float(budget_warmup_factor)
        self.budget_warmup_steps = int(budget_warmup_steps)
        self.partition = BlockPartition(network.n_coded, block_size, partition_seed)
        self.prior = CodingPrior(network.n_layers, log_rho_init)
        rho0 = self.prior.rho().detach()[network.layer_of]
        self.posterior = POSTERIORS[posterior](
            network.init_vector(), log_sigma_init=log_sigma_init, rho_init=rho0,
            partition=self.partition, kappa_block=self.budget_nats, halley_steps=halley_steps,
            init_budget_scale=self.budget_scale_at(0))
        self.register_buffer("beta", torch.full((self.partition.n_blocks,), float(beta_init)))
        self._last_block_kl = None

    # -- distributions ------------------------------------------------------------------
    def setup(self, stage=None):
        self.partition.to(self.device)

    @property
    def budget_scale(self) -> float:
        """The block budget over C_block that moments() uses by default: the warm-up's at this
        optimiser step while the module trains (the trainer's global step, restored on resume), C_block
        (1) in evaluation and coding, also where no step ran in this process (trained_from, a resumed
        export): derived, never stored, so no hook can leave it stale."""
        return self.budget_scale_at(self.global_step) if self.training else 1.0

    def budget_scale_at(self, step: int) -> float:
        """The block budget at optimiser step `step` over C_block: factor^(1 - step/steps), 1 from `steps` on."""
        if self.budget_warmup_steps <= 0 or step >= self.budget_warmup_steps:
            return 1.0
        return self.budget_warmup_factor ** (1.0 - step / self.budget_warmup_steps)

    def rho_per_var(self) -> torch.Tensor:
        return self.prior.rho()[self.network.layer_of]

    def moments(self, budget_scale: float | None = None):
        """(mu, sigma, rho) per coded variable; budget_scale None: the training schedule's
        (`budget_scale`), 1 for coding (the coder always sees C_block)."""
        rho = self.rho_per_var()
        scale = self.budget_scale if budget_scale is None else budget_scale
        mu, sigma = self.posterior.moments(rho, self.partition, budget_scale=scale)
        return mu, sigma, rho

    def block_moments(self, members: torch.Tensor, budget_scale: float | None = None):
        """(mu, sigma, rho) of one block's members, as moments(budget_scale)[members], in O(block)."""
        rho = self.prior.rho()[self.network.layer_of[members]]
        scale = self.budget_scale if budget_scale is None else budget_scale
        mu, sigma = self.posterior.block_moments(members, rho, budget_scale=scale)
        return mu, sigma, rho

    def block_kl(self, mu, sigma, rho) -> torch.Tensor:
        return self.partition.block_sum(gaussian_kl(mu, sigma, rho))

    def sample_weights(self, mu, sigma, generator=None, coded=None) -> torch.Tensor:
        """w = mu + sigma * eps (the reparameterisation), the decoded values where `coded` fixed them."""
        eps = torch.randn(mu.shape, device=mu.device, generator=generator)
        w = mu + sigma * eps
        return w if coded is None else coded.weights(w)

    def eval_weights(self) -> torch.Tensor:
        """The posterior means (what a coded run decodes to is the encoder's, `CodedBlocks.values`)."""
        mu, _, _ = self.moments()
        return mu

    # -- objective ----------------------------------------------------------------------
    def objective(self, x, y, generator=None, coded=None):
        """Cross-entropy of a sample, plus for Mean-Var sum_b beta_b KL_b over the open blocks
        (paper 000, sec. 4). `coded` (the encoder's `CodedBlocks`, while fine-tuning between
        blocks): coded variables take their decoded values, done blocks leave the sum, and the
        budget is C_block (no warm-up)."""
        mu, sigma, rho = self.moments(None if coded is None else 1.0)
        logits = self.network(x, self.sample_weights(mu, sigma, generator, coded))
        ce = F.cross_entropy(logits, y)
        kl_b = self.block_kl(mu, sigma, rho)
        loss = ce
        if self.kind == "meanvar":
            terms = self.beta * kl_b
            loss = ce + (terms if coded is None else terms[~coded.done]).sum()
        self._last_block_kl = kl_b.detach()
        return loss, ce, kl_b

    @torch.no_grad()
    def anneal_beta(self, coded=None):
        """Paper 000 / Havasi et al.: beta_b grows by (1 + eps) while KL_b exceeds the budget, else
        shrinks by it; eps is beta_eps_coding while coding (`coded` given), and coded blocks keep theirs."""
        if self.kind != "meanvar" or self._last_block_kl is None:
            return
        eps = self.beta_eps_coding if coded is not None else self.beta_eps
        over = self._last_block_kl > self.budget_nats
        factor = torch.where(over, torch.tensor(1.0 + eps, device=self.beta.device),
                             torch.tensor(1.0 / (1.0 + eps), device=self.beta.device))
        new = self.beta * factor
        self.beta.copy_(new if coded is None else torch.where(coded.done, self.beta, new))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss, ce, kl_b = self.objective(x, y)
        open_kl = kl_b
        self.log("train/ce", ce, prog_bar=True)
        self.log("train/loss", loss)
        self.log("train/kl_bits", open_kl.sum() / LN2, prog_bar=True)
        self.log("train/kl_bits_per_block_mean", open_kl.mean() / LN2)
        self.log("train/kl_bits_per_block_max", open_kl.max() / LN2)
        if self.budget_warmup_steps > 0:
            self.log("train/budget_bits", self.budget_scale * self.bits_per_block)
        if self.kind == "meanvar":
            self.log("train/beta_mean", self.beta.mean())
            self.log("train/beta_max", self.beta.max())
            self.log("train/beta_min", self.beta.min())
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.anneal_beta()

    def after_step(self, coded=None):
        """The encoder's fine-tuning steps anneal as training does (at the coding rate)."""
        self.anneal_beta(coded)

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def configure_optimizers(self):
        gamma = getattr(self.posterior, "gamma", None)
        rest = [p for p in self.trainable_parameters() if p is not gamma]
        groups = [{"params": rest, "lr": self.lr}]
        if gamma is not None:
            groups.append({"params": [gamma], "lr": self.lr * self.lr_gamma_factor})
        opt = torch.optim.Adam(groups)
        if self.lr_decay_steps <= 0:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, linear_decay(self.lr_decay_start, self.lr_decay_steps, self.lr_final_factor))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
