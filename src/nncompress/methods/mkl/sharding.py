"""MRC coding shared by the ranks of a DDP job (trainer=ddp): which rank searches which block, and
what the ranks exchange, so that the file is byte-identical for any number of processes.

Given the posterior, MRC's blocks are independent: block b's candidates come from the shared
generator keyed by (seed, b) (paper 000, Algorithm 1; `core.generator`), and its index depends
only on block b's (mu, sigma, rho). The encoder therefore codes in *rounds* (`rounds`): all blocks
of a round are searched from the state at the round's start, rank r searching the blocks
b ≡ r (mod W) of it; the ranks exchange their (index, log ratio, ...) (`Ranks.exchange`), every
rank fixes every block of the round in block order, then rank 0 fine-tunes the blocks still open
(`coding.finetune_steps` steps, its data and noise keyed by the round's last block) and sends the
new state to the others (`Ranks.broadcast_state`). Only rank 0 fine-tunes and only it writes the
resumable state and the file.

The schedule does not depend on W: a round is `coding.round_blocks` blocks when fine-tuning is on
(1, the default, is the paper's fine-tune-after-every-block schedule, which leaves nothing to share
out: raise it to scale out, and the file then depends on round_blocks but not on W), and any size
when it is off (no state changes between blocks, so the file depends on neither; rounds are then
W x round_blocks blocks, which only sets how often the ranks meet and rank 0 saves). What makes
the bytes equal for any W is that the same searches run on the same inputs and the results are
assembled in block order; the search itself is deterministic given its inputs and device type.

The exchange runs on a gloo group (CPU tensors and pickled lists), created beside NCCL where the
job trains on GPUs. A job whose process group is not up (coding resumed without training, under
torchrun or SLURM) joins from the launcher's environment (Lightning's cluster environments); one
started by `python run.py trainer=ddp` and resumed the same way codes on one process, to the same
bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch


def rounds(start: int, n_blocks: int, size: int) -> list:
    """The rounds [lo, hi) from block `start` on: runs of `size` blocks aligned to multiples of `size`
    (a resumed run keeps the rounds of an uninterrupted one)."""
    if size < 1:
        raise ValueError(f"a round holds at least one block, got {size}")
    out, lo = [], start
    while lo < n_blocks:
        hi = min(n_blocks, (lo // size + 1) * size)
        out.append((lo, hi))
        lo = hi
    return out


def round_size(round_blocks: int, finetune_steps: int, world: int) -> int:
    """Blocks per round: `round_blocks` with fine-tuning (the file depends on it, never on W), else
    W x round_blocks (the file depends on neither)."""
    if round_blocks < 1:
        raise ValueError(f"coding.round_blocks must be >= 1, got {round_blocks}")
    return round_blocks if finetune_steps > 0 else round_blocks * world


def _launched_environment():
    """Lightning's description of an external launcher (torchrun, SLURM) with several processes."""
    from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    for env_cls in (TorchElasticEnvironment, SLURMEnvironment):
        if env_cls.detect():
            env = env_cls()
            if env.world_size() > 1:
                return env
    return None


@dataclass
class Ranks:
    """This process's place among the coding processes; `world == 1`: coding alone."""

    rank: int = 0
    world: int = 1
    group: Optional[Any] = None  # a gloo process group holding every rank

    @classmethod
    def join(cls) -> Ranks:
        """The ranks of the running DDP job (its process group, else the launcher's environment)."""
        import torch.distributed as dist

        if not dist.is_available():
            return cls()
        if not dist.is_initialized():
            env = _launched_environment()
            if env is None:
                return cls()
            dist.init_process_group("gloo", init_method=f"tcp://{env.main_address}:{env.main_port}",
                                    rank=env.global_rank(), world_size=env.world_size())
        world = dist.get_world_size()
        if world == 1:
            return cls()
        group = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        return cls(dist.get_rank(), world, group)

    def owns(self, block: int) -> bool:
        return block % self.world == self.rank

    def exchange(self, mine: dict) -> dict:
        """{block: result} of every rank, merged (each block searched by exactly one rank)."""
        if self.world == 1:
            return dict(mine)
        import torch.distributed as dist

        parts = [None] * self.world
        dist.all_gather_object(parts, mine, group=self.group)
        merged = {}
        for part in parts:
            merged.update(part)
        return merged

    def broadcast_state(self, module: torch.nn.Module, extra: tuple = ()) -> None:
        """Every parameter and buffer of `module`, and the `extra` tensors (the encoder's coded
        blocks, on resume), as rank 0 holds them (after its fine-tuning or its state file)."""
        if self.world == 1:
            return
        import torch.distributed as dist

        with torch.no_grad():
            for tensor in [*module.state_dict(keep_vars=True).values(), *extra]:
                data = tensor.data if isinstance(tensor, torch.nn.Parameter) else tensor
                host = data.detach().cpu().contiguous()
                dist.broadcast(host, src=0, group=self.group)
                if self.rank != 0:
                    data.copy_(host.to(data.device))

    def agree(self, value: int) -> int:
        """Rank 0's `value` on every rank (e.g. where a resumed run starts)."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]
