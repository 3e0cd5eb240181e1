"""SLURM recipes (issue 22): every recipe has a plan, and its composed launcher asks SLURM for
one task per GPU, the plan's nodes and hours (composed only, nothing submitted)."""
import pytest

from helpers import compose_cfg
from nncompress.tasks.slurm import PLAN, Job, recipes


def test_every_recipe_is_planned():
    assert set(recipes()) == set(PLAN)


@pytest.mark.parametrize("recipe", ["mkl_vgg16_cifar10", "mkl_table1", "rd_figure6"])
def test_the_launcher_asks_for_the_plan(recipe):
    job = PLAN[recipe]
    cfg = compose_cfg(job.overrides(recipe)[1:])  # without -m
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.tasks_per_node == launcher.gpus_per_node == job.gpus == cfg.trainer.devices
    assert launcher.nodes == job.nodes == cfg.trainer.num_nodes
    assert launcher.timeout_min == job.hours * 60
    assert cfg.trainer.strategy.startswith("ddp") == (job.gpus * job.nodes > 1)


def test_two_nodes_of_four():
    job = Job(4, 12.0, nodes=2)
    cfg = compose_cfg(job.overrides("mkl_table1")[1:])
    assert (cfg.hydra.launcher.nodes, cfg.hydra.launcher.tasks_per_node, cfg.hydra.launcher.timeout_min) == (2, 4, 720)
    assert cfg.trainer.devices * cfg.trainer.num_nodes == 8
