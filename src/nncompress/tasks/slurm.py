"""The paper-scale sweeps on SLURM: what each job of each recipe needs (GPUs, nodes, hours), and the
command that submits it with `hydra/launcher=slurm_ddp` (conf/hydra/launcher/slurm_ddp.yaml: one
SLURM job per Hydra run, one task per GPU, DDP inside the job).

    python -m nncompress.tasks.slurm            the plan as a table, then one command per recipe
    make slurm-plan                             the same

Hours are per job on one A100/H100-class GPU per listed device, planned from the step counts (paper
000: 100,000 training steps + 100 fine-tuning steps per block; 001: 200 epochs; 002: the rounds;
003: importance + pruning, no training), not measured here (no GPU on the machine that wrote
this): check them on the first jobs and edit. The post-training families (rd, pwfn) get one GPU:
rd does not train, and pwfn's rounds train under their own single-device Trainer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Job:
    gpus: int      # per node: trainer.devices = tasks per node
    hours: float   # wall-clock limit of one job
    nodes: int = 1
    note: str = ""

    def overrides(self, recipe: str) -> list:
        """The command line of the recipe's sweep, one SLURM job per run."""
        ddp = ["trainer=ddp", f"trainer.devices={self.gpus}", f"trainer.num_nodes={self.nodes}"] if self.gpus * \
            self.nodes > 1 else []
        return ["-m", f"experiment={recipe}", "hydra/launcher=slurm_ddp", *ddp,
                f"hydra.launcher.timeout_min={int(round(self.hours * 60))}"]


ONE = Job(1, 2.0)
PLAN = {
    "mkl_table1": Job(1, 3.0, note="LeNet-5: 100k steps + 828 blocks x 100 fine-tuning steps; too small to share"),
    "mkl_figure1": Job(1, 3.0), "mkl_figure2": Job(1, 3.0), "mkl_figure3": Job(1, 3.0),
    "mkl_coders": Job(1, 4.0, note="the first job of a budget trains (100k steps); 2^30 candidates a block at C=30"),
    "mkl_vgg16_cifar10": Job(4, 24.0, note="15 M variables; coding shares out with coding.round_blocks>1"),
    "ibc_table2": Job(1, 4.0, note="200 epochs of LeNet-300-100 / LeNet-5"),
    "pwfn_figure1": ONE, "pwfn_figure2": ONE, "pwfn_figure3": ONE, "pwfn_figure4": ONE, "pwfn_variants": ONE,
    "pwfn_imagenet": Job(1, 48.0, note="ResNet on ImageNet; the rounds do not use DDP yet"),
    "rd_figure2_mnist": Job(1, 1.0), "rd_figure3_mnist": Job(1, 1.0), "rd_figure4_mnist": Job(1, 1.0),
    "rd_figure5_mnist": Job(1, 1.0), "rd_figure2_cifar10": ONE, "rd_figure3_cifar10": ONE,
    "rd_figure4_cifar10": ONE, "rd_figure5_cifar10": ONE, "rd_figure6": ONE, "rd_figure7": ONE,
    "rd_figure8": ONE, "rd_figure9": ONE, "rd_figure10": ONE, "rd_figure11": ONE, "rd_figure12": ONE,
    "frontier_lenet300_100": Job(1, 4.0), "frontier_lenet5": Job(1, 4.0),
}


def recipes() -> list:
    return sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml"))


def table() -> str:
    rows = ["| recipe | GPUs per job | nodes | hours per job | note |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| {r} | {j.gpus} | {j.nodes} | {j.hours:g} | {j.note} |" for r, j in sorted(PLAN.items())]
    return "\n".join(rows)


def main() -> None:
    print(table())
    print()
    for recipe, job in sorted(PLAN.items()):
        print("python run.py " + " ".join(job.overrides(recipe)))


if __name__ == "__main__":
    main()
