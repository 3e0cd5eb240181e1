"""The PWFN fixing rounds (paper 002, appendix; REFERENCE.md §3): train -> test -> fix, T times.

    for t, p_t in enumerate(schedule):                      p = 0.2, 0.4, ..., 0.99, 1.0
        train: round 0 one epoch on round0_fraction (5 %) of the batches, later rounds
               epochs_per_round (3) epochs; SGD lr 1e-3, momentum 0.9, weight decay 1e-4 on free
               entries, gradient norm clipped at 1; a fresh optimiser per round
        test:  test error at the means
        fix:   one round of Algorithm 1 (or the public code's round) until ceil(N p_t) are fixed
        test:  test error at the means again, unique values, entropy, fraction fixed, omega, delta
    no training after the last fixing (p = 1: every weight fixed)

Each round trains under its own Lightning Trainer (`trainer.fit` with max_epochs and
limit_train_batches), which gives the fresh optimiser of every round and exact epochs; the data
loader of a round starts at the epoch count reached so far, so every epoch sees a new shuffle (and
new CIFAR crops). The task's single `trainer.fit` cannot interleave fixing and testing with training
this way, so the family's training phase (`PwfnFamily.fit`, family.py) drives the rounds itself; its
export only writes the fixed network.

After every round the state (module, metrics, generator state) is saved to pwfn_rounds.pt in the run
dir; a run stopped there (method.stop_after_round, a crash, a kill) resumes from the next round
when the same command runs again in the same dir.

Under trainer=ddp (W processes) every round's Trainer takes the run's strategy, devices and nodes;
each rank trains on its B/W rows of the global batch (`data.datamodule.RankRows`) and DDP averages
the gradients. The loss needs no rescaling: its data term is a mean over the rows, and the sigma
push has no 1/N (it is per weight, the same on every rank: each rank adds the whole term, and the
mean over ranks keeps it once). Testing and fixing run on every rank, on the full test set and on
replicas that DDP keeps identical (same start, same averaged gradients, the same eps from the same
generator state); the fixing code is deterministic and draws nothing, so every rank reaches the
same decisions. Rank 0's fixed means, sigmas and masks are then broadcast over the others' anyway
(`_agree`): a discrete decision must not depend on every rank's floats agreeing to the last bit (a
non-deterministic GPU kernel could part them), and a rank that differed says so in the log. Only
rank 0 writes pwfn_rounds.pt; every rank resumes from it.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
import torch.distributed as dist

from nncompress.core.errors import Paused
from nncompress.core.evaluation import test_error
from nncompress.data.datamodule import rank_rows
from nncompress.methods.pwfn.export import coded_tensors, compressibility, layer_names_of
from nncompress.methods.pwfn.fixing import fix_layers, gather_posteriors, scatter_posteriors
from nncompress.methods.pwfn.metrics import weight_entropy_bits
from nncompress.methods.pwfn.module import PwfnModule
from nncompress.methods.pwfn.snapshots import snapshot

log = logging.getLogger(__name__)
STATE = "pwfn_rounds.pt"


@dataclass
class TrainerOptions:
    """What a round's Trainer takes from the run's `trainer:` config."""
    accelerator: str = "auto"
    precision: str = "32-true"
    deterministic: object = "warn"
    progress_bar: bool = False
    root_dir: Path = Path(".")
    strategy: object = "auto"  # trainer=ddp: the run's strategy, devices per node and nodes
    devices: object = 1
    num_nodes: int = 1
    callbacks: Callable[[], list] = list  # fresh callbacks for each round's Trainer (tasks.ddp.ShardedBatches)


@dataclass
class RoundsOutcome:
    history: list = field(default_factory=list)    # one dict per round
    snapshots: dict = field(default_factory=dict)  # "init", "trained" (before the last fixing), "final"
    train_steps: int = 0
    epochs: int = 0
    ranks: int = 1  # processes the last round trained on (trainer=ddp)


def batches_per_epoch(n_batches: int, batches) -> int:
    """Lightning's limit_train_batches: a fraction of the loader (at least one batch) or a count."""
    if isinstance(batches, float):
        return max(1, min(n_batches, int(n_batches * batches)))
    return min(n_batches, int(batches))


def round_plan(t: int, n_epoch: int, epochs_per_round: int, round0_fraction: float) -> tuple[int, int]:
    """(epochs, batches per epoch) of round t's training."""
    if t == 0:
        return 1, max(1, math.ceil(round0_fraction * n_epoch))
    return epochs_per_round, n_epoch


def train_round(module: PwfnModule, loader, epochs: int, batches: int, options: TrainerOptions) -> int:
    """One round's training under a fresh Trainer (a fresh optimiser); returns its optimiser steps.
    `loader` yields global batches; under several processes each rank keeps its rows of each."""
    trainer = L.Trainer(
        max_epochs=epochs, limit_train_batches=batches, limit_val_batches=0, num_sanity_val_steps=0,
        logger=False, enable_checkpointing=False, enable_model_summary=False,
        strategy=options.strategy, devices=options.devices, num_nodes=options.num_nodes,
        callbacks=options.callbacks(), accelerator=options.accelerator, precision=options.precision,
        deterministic=options.deterministic, enable_progress_bar=options.progress_bar,
        default_root_dir=str(options.root_dir))
    module.train()  # Lightning keeps the mode it is given; the task hands the module over in eval mode
    trainer.fit(module, train_dataloaders=rank_rows(loader, trainer))
    return int(trainer.global_step)


def _world() -> tuple[int, int]:
    """(rank, world size) of the process group the rounds' Trainers joined; (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _agree(module: PwfnModule) -> int:
    """Rank 0's posterior means, sigmas and fixed masks on every rank (module docstring); returns
    how many entries the other ranks held differently, summed over them (0 on one process, and
    whenever the ranks reached the same state by themselves)."""
    rank, world = _world()
    if world == 1:
        return 0
    layers = module.layers()
    mine = gather_posteriors(layers)
    # gloo sends CPU tensors, NCCL the device's; masks travel as uint8 (not every backend takes bool)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    theirs = [t.to(device=device, dtype=torch.uint8 if t.dtype == torch.bool else t.dtype, copy=True) for t in mine]
    for t in theirs:
        dist.broadcast(t, src=0)
    mu, sigma, fixed = (t.to(device=m.device, dtype=m.dtype) for t, m in zip(theirs, mine))
    differ = int((mu != mine[0]).sum() + (sigma != mine[1]).sum() + (fixed != mine[2]).sum())
    if differ:
        log.warning("rank %d: %d posterior entries differed from rank 0's after fixing; rank 0's are kept",
                    rank, differ)
        scatter_posteriors(layers, mu, sigma, fixed)
    total = torch.tensor([differ], dtype=torch.int64, device=device)
    dist.all_reduce(total)  # rank 0, which records the round, learns what the others held
    return int(total)


def assignment_sha256(module: PwfnModule) -> str:
    """Digest of which weights are fixed and to which value (the masks, and the means where fixed),
    in layer order: equal digests, equal fixing decisions."""
    h = hashlib.sha256()
    for layer in module.layers():
        for name in layer.posterior_names:
            fixed = layer.fixed(name).detach().cpu().flatten()
            h.update(fixed.numpy().tobytes())
            h.update(layer.mean(name).detach().cpu().flatten()[fixed].to(torch.float32).numpy().tobytes())
    return h.hexdigest()


def network_metrics(module: PwfnModule) -> dict:
    """Unique values (network, per layer), entropy of all values and of the fixed ones, fraction fixed."""
    tensors = coded_tensors(module.net)
    stats = compressibility(tensors, layer_names_of(tensors))
    fixed_values = [layer.mean(name)[layer.fixed(name)] for layer in module.layers() for name in layer.posterior_names]
    n_fixed = sum(int(v.numel()) for v in fixed_values)
    stats.update(entropy_bits_fixed=weight_entropy_bits(fixed_values), n_fixed=n_fixed,
                 fraction_fixed=n_fixed / module.n_weights())
    return stats


def _log(loggers, record: dict, step: int) -> None:
    metrics = {f"round/{k}": v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    metrics.update({f"round/unique_values/{layer}": n for layer, n in record["unique_values_per_layer"].items()})
    for logger in loggers:
        logger.log_metrics(metrics, step=step)


def _save(path: Path, module: PwfnModule, outcome: RoundsOutcome, t: int) -> None:
    state = {"round": t, "module": module.state_dict(), "outcome": outcome, "rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _resume(path: Path, module: PwfnModule) -> tuple[int, RoundsOutcome]:
    state = torch.load(path, map_location="cpu", weights_only=False)
    module.load_state_dict(state["module"])
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    outcome = state["outcome"]
    module.steps_done = outcome.train_steps
    log.info("resuming PWFN after round %d from %s", state["round"], path)
    return state["round"] + 1, outcome


def run_rounds(module: PwfnModule, dm, options: TrainerOptions, run_dir: Path, loggers=()) -> RoundsOutcome:
    """All rounds of the schedule on module (in place); resumes from run_dir/pwfn_rounds.pt."""
    s = module.settings
    state_path = Path(run_dir) / STATE
    start, outcome = 0, RoundsOutcome()
    if state_path.exists():
        start, outcome = _resume(state_path, module)
    else:
        outcome.snapshots["init"] = snapshot(module)
    module.metric_loggers = list(loggers)
    n_epoch = batches_per_epoch(len(dm.train_dataloader()), s.batches_per_epoch)
    last = len(s.schedule) - 1
    for t in range(start, last + 1):
        p = s.schedule[t]
        started = time.perf_counter()
        epochs, batches = round_plan(t, n_epoch, s.epochs_per_round, s.round0_fraction)
        loader = dm.train_dataloader()
        loader.set_epoch(outcome.epochs)  # a new shuffle every epoch across rounds
        steps = train_round(module, loader, epochs, batches, options)
        module.steps_done = outcome.train_steps = outcome.train_steps + steps
        outcome.epochs += epochs
        outcome.ranks = _world()[1]
        module.to(dm.device).eval()  # the Trainer hands the module back on the CPU
        trained_seconds = time.perf_counter() - started
        error_before = test_error(module.predict, None, dm.test_dataloader())
        if t == last:
            outcome.snapshots["trained"] = snapshot(module)
        fixing_started = time.perf_counter()
        report = fix_layers(module.layers(), p, **s.fixing_options())
        ranks_differed = _agree(module)
        fixing_seconds = time.perf_counter() - fixing_started
        error_after = test_error(module.predict, None, dm.test_dataloader())
        record = {"round": t, "p": p, "epochs": epochs, "batches_per_epoch": batches, "train_steps": steps,
                  "steps_total": outcome.train_steps, "test_error_before_fixing": error_before,
                  "test_error_after_fixing": error_after, **network_metrics(module),
                  "target": report.target, "omega": report.omega, "delta": report.delta, "picks": report.picks,
                  "centres_picked": len(report.centres), "train_seconds": trained_seconds,
                  "fixing_seconds": fixing_seconds, "seconds": time.perf_counter() - started,
                  "assignment_sha256": assignment_sha256(module), "ranks_differed": ranks_differed}
        outcome.history.append(record)
        _log(loggers, record, step=outcome.train_steps)
        log.info("round %d (p=%g): test error %.2f %% -> %.2f %% after fixing, %d unique values, %.3f bits, "
                 "omega %d, delta %g", t, p, error_before, error_after, record["unique_values"],
                 record["entropy_bits"], report.omega, report.delta)
        if t == last:
            outcome.snapshots["final"] = snapshot(module)
        rank, world = _world()
        if rank == 0:  # one writer of the shared run dir
            _save(state_path, module, outcome, t)
        if world > 1:  # no rank leaves the round (a pause, the end) before its state is on disk
            dist.barrier()
        if s.stop_after_round == t and t < last:
            raise Paused(f"PWFN stopped after round {t} (method.stop_after_round={t})")
    return outcome
