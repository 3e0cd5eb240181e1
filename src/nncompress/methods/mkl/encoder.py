"""Block-by-block MRC encoding with fine-tuning in between, resumable from a state file.

Blocks are coded in rounds of `round_blocks` (1: the paper's schedule): every block of a round is
searched from the state at the round's start and fixed, then the remaining blocks are fine-tuned
for `finetune_steps`. Every source of randomness (candidates and selection of block b, the batches
and posterior noise of the fine-tuning after the round ending at block b) is seeded by (seed, b),
so a run resumed from the state saved after a round continues exactly as an uninterrupted run
would, and writes the identical file. Under trainer=ddp the searches of a round are shared out
across the ranks (`methods.mkl.sharding`), and the file is byte-identical for any number of them.

The encoder drives any `Codable` model (below), not a particular LightningModule, and owns the
coded state (`coded.CodedBlocks`: decoded values, done blocks, the moments each block was coded
from); the model keeps its distributions and is fine-tuned through `objective(..., coded=)`. Its settings
are `MRCSettings`, which is also the schema of `coding=mrc|orc|pfr` (conf/coding/*.yaml). The
coders share the candidates and differ in how a block's index is chosen and written: `mrc`
(`coding.search`), `orc` (`coding.orc`) and `pfr` (`coding.pfr`).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple, Optional, Protocol

import lightning as L
import torch
from tqdm.auto import tqdm

from nncompress.coding import orc, pfr
from nncompress.coding.mrc import MAX_BITS, MAX_BLOCK, MRCPayload, materialise, search_block
from nncompress.coding.pfr import PFRPayload
from nncompress.coding.search import prepare_fused, prewarm_fused
from nncompress.core import checks
from nncompress.core import generator as G
from nncompress.core.blocks import BlockPartition
from nncompress.core.errors import Paused
from nncompress.core.units import LN2
from nncompress.methods.mkl.coded import CodedBlocks
from nncompress.methods.mkl.sharding import Ranks, round_size, rounds
from nncompress.priors.gaussian import gaussian_kl

FUSED_FROM = 1 << 26  # candidates in a whole run from which fused="auto" compiles the search
CODERS = ("mrc", "orc", "pfr")


@dataclass
class MRCSettings:
    """coding=mrc: block-wise minimal random coding into model.mrc (Havasi et al. 2019, paper 000);
    coding=orc: ordered random coding into model.orc (same layout); coding=pfr: the Poisson
    functional representation with variable-length indices into model.pfr."""

    name: str = "mrc"  # the coder: mrc, orc or pfr
    bits_per_block: int = 20  # C_block, the block's KL budget; mrc/orc: K = 2^bits candidates, each index this long
    block_size: int = 30  # variables per block (conf: ${block})
    # None: = bits_per_block (papers); mrc/orc: fewer is a truncated search, same format;
    # pfr: the bound 2^C on the index, 1..32 (more than bits_per_block: a longer search, closer to exact PFR)
    candidates_log2: Optional[int] = None
    chunk_log2: int = 16  # candidates evaluated per vectorised chunk (memory, not results)
    selection: str = "sample"  # sample: index ~ q/p (MRC); argmax: the best candidate
    fused: str = "auto"  # pass 1 of the search as one compiled kernel: on, off, auto (on from 2^26 candidates)
    finetune_steps: int = 100  # between blocks (paper 000; the MIRACLE paper used 50)
    # blocks searched from one state, then fine-tuned once (1: the paper); > 1 lets trainer=ddp ranks
    # search in parallel; with finetune_steps > 0 the file depends on it (never on the rank count)
    round_blocks: int = 1
    checkpoint_seconds: float = 30.0  # save the resumable state at most this often; 0: every block
    stop_after: Optional[int] = None  # code at most this many blocks in this process, then pause
    progress: bool = True

    def __post_init__(self) -> None:
        """Ranges at start-up (tasks.config.check_config); candidates_log2's, which depends on the
        coder, is checked with the search (`n_candidates`, run by MklFamily.check)."""
        checks.choice("coding.name", self.name, CODERS)
        checks.integer("coding.bits_per_block", self.bits_per_block, 1, MAX_BITS)
        checks.integer("coding.block_size", self.block_size, 1, MAX_BLOCK)
        checks.integer("coding.chunk_log2", self.chunk_log2, 0, 40)
        checks.choice("coding.selection", self.selection, ("sample", "argmax"))
        checks.choice("coding.fused", self.fused, ("auto", "on", "off"))
        checks.integer("coding.finetune_steps", self.finetune_steps, 0)
        checks.integer("coding.round_blocks", self.round_blocks, 1)
        checks.number("coding.checkpoint_seconds", self.checkpoint_seconds, 0)
        if self.stop_after is not None:
            checks.integer("coding.stop_after", self.stop_after, 0)

    @property
    def n_candidates(self) -> int:
        if self.name not in CODERS:
            raise ValueError(f"coding.name must be one of {CODERS}, got '{self.name}'")
        log2 = self.bits_per_block if self.candidates_log2 is None else self.candidates_log2
        top = 32 if self.name == "pfr" else self.bits_per_block
        if not 0 < log2 <= top:
            raise ValueError(f"candidates_log2 must be in 1..{top} for coding={self.name}, got {log2}")
        if self.name != "mrc" and self.selection != "sample":
            raise ValueError(f"coding={self.name} samples by its own law; selection must be 'sample'")
        return 1 << log2

    def search(self, seed: int, block: int, mu, sigma, rho, **kw):
        """The index of one block by this coder (an object with .index and .log_ratio)."""
        if self.name == "mrc":
            return search_block(seed, block, mu, sigma, rho, self.n_candidates, selection=self.selection, **kw)
        return (orc if self.name == "orc" else pfr).search_block(seed, block, mu, sigma, rho, self.n_candidates, **kw)

    def payload(self, spec, seed: int, block_size: int, rho, indices: list, buffers=None):
        """What the coder's codec writes (`coding.codec`): MRCPayload (mrc, orc) or PFRPayload.
        buffers: a `_target_` architecture's state entries that are not parameters (MRC and ORC
        files hold them; the PFR format does not yet)."""
        if self.name == "pfr":
            if spec.target is not None and buffers:
                raise ValueError(f"coding=pfr cannot yet store this model's buffers ({', '.join(list(buffers)[:3])}"
                                 f", ...); use coding=mrc or coding=orc")
            return PFRPayload(spec, seed, block_size, int(self.n_candidates).bit_length() - 1, rho, indices)
        return MRCPayload(spec, seed, block_size, self.bits_per_block, rho, indices, buffers)

    @property
    def kernel_selection(self) -> str:
        """The fused kernel's variant: MRC's sampling adds its Gumbel noise inside the kernel, ORC
        and PFR add theirs outside it (argmax)."""
        return "sample" if self.name == "mrc" and self.selection == "sample" else "argmax"

    def use_fused(self, n_blocks: int) -> bool:
        """Whether to compile the search kernel (`coding.scoring`): a one-off cost of seconds to a
        minute per process (inductor caches it on disk), repaid by searches of 2^26 candidates or more."""
        if self.fused not in ("auto", "on", "off"):
            raise ValueError(f"coding.fused must be auto, on or off, got '{self.fused}'")
        return self.fused == "on" or (self.fused == "auto" and n_blocks * self.n_candidates >= FUSED_FROM)


class Found(NamedTuple):
    """What a rank's search of one block sends to the others (a picklable record)."""

    index: int
    log_ratio: float
    rescored: object
    searched: Optional[int] = None  # ORC, PFR: candidates scored before the search could stop


class Codable(Protocol):
    """What the encoder needs of a model (methods.mkl.module.MiracleModule is one)."""

    kind: str
    partition: BlockPartition
    prior: torch.nn.Module  # per-layer coding scales: .rho(), .freeze()
    network: torch.nn.Module  # .n_coded, .spec
    device: torch.device

    def block_moments(self, members, budget_scale=None) -> tuple: ...  # (mu, sigma, rho) of one block, O(block)
    # (loss, ...) of a batch, coded variables at their decoded values and done blocks out of the loss
    def objective(self, x, y, generator=None, coded: CodedBlocks = None) -> tuple: ...
    def after_step(self, coded: CodedBlocks = None) -> None: ...  # after each optimiser step
    def trainable_parameters(self) -> list: ...


class MRCEncoder:
    def __init__(self, module: Codable, train_x: torch.Tensor, train_y: torch.Tensor, cfg: MRCSettings,
                 seed: int, batch_size: int, lr: float, state_path=None, on_block=None, ranks: Ranks = None):
        # train_x: the training inputs in memory, or (train_y None) a loader of (x, y) batches
        # ranks: the DDP ranks sharing the searches (sharding.Ranks.join()); None: this process alone
        self.m, self.x, self.y, self.cfg, self.seed = module, train_x, train_y, cfg, seed
        self.ranks = ranks if ranks is not None else Ranks()
        self._batches = None
        self.batch_size, self.lr = batch_size, lr
        self.state_path = Path(state_path) if state_path else None
        self.on_block = on_block
        self.optimizer = None
        self.coded = CodedBlocks(module.network.n_coded, module.partition.n_blocks, module.device)
        self.indices: list = []
        self.stats = {"search_seconds": 0.0, "finetune_seconds": 0.0, "block_seconds": 0.0, "kl_bits": [],
                      "log_ratio": [], "rescored": []}
        self.fused = cfg.use_fused(module.partition.n_blocks)

    # -- state --------------------------------------------------------------------------
    def fingerprint(self) -> str:
        rho = self.m.prior.rho().detach().cpu().numpy().tobytes()
        # Only what changes the result: when to save or pause, or whether to show progress, does not.
        cfg = {k: v for k, v in asdict(self.cfg).items()
               if k not in ("name", "block_size", "checkpoint_seconds", "stop_after", "progress", "fused",
                            "round_blocks")}
        if self.cfg.round_blocks != 1 and self.cfg.finetune_steps > 0:  # (else it changes nothing)
            cfg["round_blocks"] = self.cfg.round_blocks
        cfg.update(batch_size=self.batch_size, lr=self.lr)
        if self.cfg.name != "mrc":  # (MRC states written before the other coders keep their fingerprint)
            cfg["coder"] = self.cfg.name
        desc = json.dumps({"cfg": cfg, "seed": self.seed, "kind": self.m.kind,
                           "n": self.m.network.n_coded, "bs": self.m.partition.block_size})
        return hashlib.sha256(desc.encode() + rho).hexdigest()

    def _save(self, next_block: int):
        if self.state_path is None or self.ranks.rank != 0:
            return
        state = {"fingerprint": self.fingerprint(), "next_block": next_block, "indices": self.indices,
                 "module": self.m.state_dict(), "coded": self.coded.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "stats": self.stats}
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.state_path)

    def _resume(self) -> int:
        if self.state_path is None or not self.state_path.exists():
            return 0
        state = torch.load(self.state_path, map_location=self.m.device, weights_only=False)
        module_state, legacy = CodedBlocks.split_legacy(state["module"])
        self.m.load_state_dict(module_state)
        self.coded.load_state_dict(state.get("coded", legacy))
        if state["fingerprint"] != self.fingerprint():
            raise RuntimeError(f"{self.state_path} was written by a different configuration; "
                               "delete it or use another run dir")
        self.optimizer.load_state_dict(state["optimizer"])
        self.indices, self.stats = state["indices"], state["stats"]
        return state["next_block"]

    # -- steps --------------------------------------------------------------------------
    def _generator(self, block: int, stream: int) -> torch.Generator:
        g = torch.Generator(device=self.m.device)
        g.manual_seed(G.derive_key(self.seed, stream, block))
        return g

    def _batch(self, g: torch.Generator) -> tuple:
        """A training batch: drawn by `g` from tensors in memory, else the next of a loader (a
        streamed data set: resuming then continues the loader, not the same batches)."""
        if isinstance(self.x, torch.Tensor):
            idx = torch.randint(len(self.x), (self.batch_size,), generator=g, device=self.x.device)
            return self.x[idx], self.y[idx]
        if self._batches is None:
            self._batches = iter(self.x)
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(self.x)
            return next(self._batches)

    def finetune(self, block: int):
        steps = self.cfg.finetune_steps
        if steps <= 0 or self.coded.all_done():
            return
        g = self._generator(block, 100)
        self.m.train()
        for _ in range(steps):
            x, y = self._batch(g)
            loss, _, _ = self.m.objective(x, y, generator=g, coded=self.coded)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.m.after_step(self.coded)

    def _moments(self, b: int) -> tuple:
        members = self.m.partition.members(b)
        with torch.no_grad():
            mu, sigma, rho = self.m.block_moments(members, budget_scale=1.0)  # coding sees C_block
        return members, mu, sigma, rho

    def _search(self, b: int, mu, sigma, rho) -> Found:
        t0 = time.perf_counter()
        found = self.cfg.search(self.seed, b, mu, sigma, rho, chunk=1 << self.cfg.chunk_log2, fused=self.fused,
                                pad_to=self.m.partition.block_size)
        self.stats["search_seconds"] += time.perf_counter() - t0
        return Found(int(found.index), float(found.log_ratio), found.rescored, getattr(found, "searched", None))

    def _fix(self, b: int, members, mu, sigma, rho, found: Found) -> float:
        kl_bits = float(gaussian_kl(mu, sigma, rho).sum()) / LN2
        values = materialise(self.seed, b, found.index, rho)
        self.coded.fix(b, members, values.to(self.m.device), mu, sigma)
        self.indices.append(found.index)
        self.stats["kl_bits"].append(kl_bits)
        self.stats["log_ratio"].append(found.log_ratio)
        self.stats.setdefault("rescored", []).append(found.rescored)
        if found.searched is not None:  # ORC, PFR: candidates scored before the search could stop
            self.stats.setdefault("searched", []).append(found.searched)
        return kl_bits

    def code_round(self, lo: int, hi: int) -> list:
        """Blocks lo..hi-1 searched from the current state (this rank's share of them), exchanged,
        and fixed in block order on every rank; [(kl_bits, Found)] per block."""
        moments = {b: self._moments(b) for b in range(lo, hi)}
        mine = {b: self._search(b, *moments[b][1:]) for b in range(lo, hi) if self.ranks.owns(b)}
        found = self.ranks.exchange(mine)
        return [(self._fix(b, *moments[b], found[b]), found[b]) for b in range(lo, hi)]

    def _compile_ahead(self):
        """Build the fused search kernel before the block loop, saying so: on a cold inductor cache
        it takes minutes on a 2-core CPU, and charged to the first block it would skew the ETA."""
        say = (lambda msg: tqdm.write(msg)) if self.cfg.progress else (lambda msg: None)
        say("MRC coding: compiling the fused search kernel (once per machine: inductor caches it) ...")
        t0 = time.perf_counter()
        self.fused = prepare_fused(self.m.device, self.m.partition.block_size, self.cfg.n_candidates,
                                   chunk=1 << self.cfg.chunk_log2, selection=self.cfg.kernel_selection)
        seconds = time.perf_counter() - t0
        self.stats["compile_seconds"] = self.stats.get("compile_seconds", 0.0) + seconds
        say(f"MRC coding: search kernel {'ready' if self.fused else 'unavailable, using the eager pass'} "
            f"after {seconds:.0f} s")

    def run(self):
        """The payload (rank 0; None on the other ranks). Raises Paused after `stop_after` blocks."""
        m, ranks = self.m, self.ranks
        m.prior.freeze()
        self.optimizer = torch.optim.Adam(m.trainable_parameters(), lr=self.lr)
        start = ranks.agree(self._resume())  # rank 0's state file wins (no shared file system needed)
        ranks.broadcast_state(m, self.coded.tensors())
        nb = m.partition.n_blocks
        if self.fused and start < nb:
            self._compile_ahead()
        last_save = time.monotonic()
        lead = ranks.rank == 0
        bar = tqdm(range(start, nb), total=nb, initial=start, desc=f"{self.cfg.name.upper()} coding", unit="block",
                   disable=not (self.cfg.progress and lead), dynamic_ncols=True)
        size = round_size(self.cfg.round_blocks, self.cfg.finetune_steps, ranks.world)
        self.stats["coding_ranks"] = ranks.world
        for lo, hi in rounds(start, nb, size):
            t_block = time.perf_counter()
            coded = self.code_round(lo, hi)
            t0 = time.perf_counter()
            if self.cfg.finetune_steps > 0 and not self.coded.all_done():
                if lead:
                    self.finetune(hi - 1)
                ranks.broadcast_state(m)  # the other ranks search the next round from rank 0's state
            self.stats["finetune_seconds"] += time.perf_counter() - t0
            paused = self.cfg.stop_after is not None and hi - start >= self.cfg.stop_after and hi < nb
            if time.monotonic() - last_save >= self.cfg.checkpoint_seconds or hi == nb or paused:
                self._save(hi)
                last_save = time.monotonic()
            bar.update(hi - lo)
            kl_bits, found = coded[-1]
            bar.set_postfix(kl_bits=f"{kl_bits:.1f}", log_ratio=f"{found.log_ratio:.1f}")
            for b, (kl_bits, found) in zip(range(lo, hi), coded):
                if self.on_block is not None and lead:
                    self.on_block(b, {"coding/block": b, "coding/kl_bits": kl_bits,
                                      "coding/log_ratio_bits": found.log_ratio / LN2})
            # All of a round: search, fine-tuning and the overhead around them (moments, exchange, checkpoints, logs).
            self.stats["block_seconds"] = self.stats.get("block_seconds", 0.0) + time.perf_counter() - t_block
            if paused:
                bar.close()
                raise Paused(f"coding paused after block {hi} of {nb}")
        bar.close()
        m.eval()
        if not lead:
            return None
        return self.cfg.payload(m.network.spec, self.seed, m.partition.block_size,
                                m.prior.rho().detach().cpu().float(), list(self.indices),
                                buffers={k: v.detach().cpu() for k, v in m.network.buffer_state().items()})


class PrewarmSearchKernel(L.Callback):
    """Starts building the fused search kernel in the background when training on an accelerator
    starts (`coding.search.prewarm_fused`, low priority), so that a cold build (minutes of CPU)
    overlaps the training steps instead of following them; the encoder's `_compile_ahead` then
    waits for it. Not when training runs on the CPU: the build would take the cores the training
    steps use (measured on 2 cores: no gain), so the encoder builds it, saying so."""

    def __init__(self, settings: MRCSettings):
        self.settings = settings

    def on_fit_start(self, trainer, module):
        s = self.settings
        if trainer.global_rank == 0 and module.device.type != "cpu" and s.use_fused(module.partition.n_blocks):
            prewarm_fused(module.device, module.partition.block_size, s.n_candidates, 1 << s.chunk_log2,
                          s.kernel_selection)
