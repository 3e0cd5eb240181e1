"""Shared test helpers: run the CLI in a fresh process, compose a config in-process."""
from __future__ import annotations

import contextlib
import copy
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# Tiny runs on the synthetic data set: seconds per job on a CPU.
SYNTHETIC = ["dataset=synthetic", "dataset.device=cpu", "scale=quick", "trainer.progress_bar=false"]
# The same at scale=smoke (conf/scale/smoke.yaml: 4 training steps, 16 MRC candidates): for runs
# whose checks do not depend on what quick's settings reach.
SMOKE = [*SYNTHETIC[:2], "scale=smoke", *SYNTHETIC[3:]]


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def longest_first(items, seconds: dict) -> list:
    """The items, whole files together, the longest file first; a file not in `seconds` (new since
    they were measured) counts as longest; ties keep collection order. `make test` runs files on
    xdist workers in this order (--no-loadscope-reorder), so that the file a worker starts last is
    a short one and no worker waits alone on a long one at the end."""
    first = {}
    for i, item in enumerate(items):
        first.setdefault(file_of(item.nodeid), i)
    return sorted(items, key=lambda it: (-seconds.get(file_of(it.nodeid), float("inf")), first[file_of(it.nodeid)]))


def cli_command(args, data_dir=None, module=None) -> tuple:
    """(argv, env) of `python run.py ARGS` (or `python -m MODULE ARGS`), to run from the repo root
    with a clean environment: HOME outside the repo, W&B offline and silent, NNCOMPRESS_DATA as given."""
    import torch

    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path(tempfile.gettempdir()) / "nncompress-test-home"),
           "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "OMP_NUM_THREADS": str(torch.get_num_threads())}  # this process's threads: the same floats
    data = data_dir or os.environ.get("NNCOMPRESS_DATA")
    if data:
        env["NNCOMPRESS_DATA"] = str(data)
    return [sys.executable, *(["-m", module] if module else ["run.py"]), *map(str, args)], env


def run_cli(args, data_dir=None, timeout=900, module=None) -> subprocess.CompletedProcess:
    """`python run.py ARGS` (or `python -m MODULE ARGS`) in a fresh process (see cli_command)."""
    cmd, env = cli_command(args, data_dir, module)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def compose_cfg(overrides=(), hydra=True):
    """The composed config of `python run.py OVERRIDES` (with the hydra node when `hydra`)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from nncompress.tasks.config import register_schemas

    register_schemas()
    if GlobalHydra.instance().is_initialized():  # inside quick_cfg's context
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


def py2_pickle(obj) -> bytes:
    """``obj`` pickled as the 2009 CIFAR files were, by Python 2 (protocol 2): every str and bytes as
    a Python 2 str (BINSTRING, so ``encoding="latin1"`` reads str keys, as torchvision does, and
    ``encoding="bytes"`` bytes keys), numpy arrays under the ``numpy.core.multiarray`` path."""
    import io
    import pickle
    import struct

    class Py2Pickler(pickle._Pickler):
        dispatch = pickle._Pickler.dispatch.copy()

        def save_py2_str(self, value):
            data = value.encode("latin-1") if isinstance(value, str) else bytes(value)
            if len(data) < 256:
                self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
            else:
                self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
            self.memoize(value)

        dispatch[str] = save_py2_str
        dispatch[bytes] = save_py2_str

    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def write_cifar(root, classes: int = 10, per_batch: int = 40, n_test: int = 40, seed: int = 0):
    """A small, format-true CIFAR-10 / CIFAR-100 under `root`, extracted, in torchvision's layout
    (`cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}` or
    `cifar-100-python/{train, test, meta}`): Python-2 pickled dicts of uint8 [n, 3072] images and
    labels. Their md5s are not the official ones: read them with `dataset.check_md5=false`
    (CIFAR_FILES below). Returns root."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def pickled(n, label_key):
        labels = rng.integers(0, classes, n)
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        # the red channel encodes the class, so a network can learn it
        data[:, :1024] = (labels[:, None] * 255 // max(classes - 1, 1)).astype(np.uint8)
        d = {"data": data, label_key: labels.tolist()}
        if classes == 100:
            d["coarse_labels"] = (labels // 5).tolist()
        return py2_pickle(d)

    if classes == 10:
        folder = Path(root) / "cifar-10-batches-py"
        members = {f"data_batch_{i}": pickled(per_batch, "labels") for i in range(1, 6)}
        members["test_batch"] = pickled(n_test, "labels")
        members["batches.meta"] = py2_pickle({"label_names": [f"class{k}" for k in range(10)]})
    else:
        folder = Path(root) / "cifar-100-python"
        members = {"train": pickled(5 * per_batch, "fine_labels"), "test": pickled(n_test, "fine_labels"),
                   "meta": py2_pickle({"fine_label_names": [f"f{k}" for k in range(100)],
                                       "coarse_label_names": [f"c{k}" for k in range(20)]})}
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in members.items():
        (folder / name).write_bytes(payload)
    return Path(root)


# The override that lets the CLI read write_cifar's files (their md5s are not the official ones).
CIFAR_FILES = "dataset.check_md5=false"


@contextlib.contextmanager
def _isolated(data_dir=None):
    """This process as cli_command's fresh one would see it (the repo root as working directory,
    W&B offline and silent, HOME outside the repo, NNCOMPRESS_DATA as given); afterwards, what a
    run changes in the process is put back: the environment (Lightning's seed included), the
    working directory, torch's threads, RNG and deterministic-algorithms flag, Hydra's singletons."""
    import torch
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    environ, cwd = dict(os.environ), os.getcwd()
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    rng = torch.random.get_rng_state()
    outer = GlobalHydra.instance().is_initialized()
    _, env = cli_command([], data_dir)
    os.environ.update({k: v for k, v in env.items() if k != "PATH"})
    os.chdir(ROOT)
    try:
        yield
    finally:
        HydraConfig.instance().cfg = None
        if not outer:
            GlobalHydra.instance().clear()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.random.set_rng_state(rng)


def run_in_process(args, run_dir, data_dir=None) -> dict:
    """What `python run.py ARGS hydra.run.dir=RUN_DIR` does, in this process, without the seconds of
    imports a fresh one pays: the config composed as Hydra composes a run's (its overrides and group
    choices visible to tasks that recompose it: init_from=auto, coding=auto), then the task.
    Returns the task's record; a user error raises (core.errors.UserError) instead of printing one
    line and exiting 1 (keep a CLI test for that). Single runs only: sweeps go through run_main."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    from nncompress.tasks import run_task
    from nncompress.tasks.config import model_overrides

    args = model_overrides([str(a) for a in args])  # what run.py does to model._target_= overrides
    if any(a in ("-m", "--multirun") for a in args):
        raise ValueError("run_in_process runs single jobs; use run_main for sweeps")
    run_dir = Path(run_dir)
    with _isolated(data_dir):
        if not GlobalHydra.instance().is_initialized():
            initialize_config_dir(config_dir=str(CONF), version_base="1.3").__enter__()
        cfg = compose_cfg([*args, f"hydra.run.dir={run_dir}"])
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
            cfg.hydra.runtime.cwd = str(ROOT)
        HydraConfig.instance().set_config(cfg)
        # As Hydra's run_job: the task gets the config without its hydra node, and the run dir
        # keeps .hydra/ (config, hydra, overrides), which later tasks read (prune_curve, reports).
        task_cfg = copy.deepcopy(cfg)
        with open_dict(task_cfg):
            del task_cfg["hydra"]
        (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        OmegaConf.save(task_cfg, run_dir / ".hydra" / "config.yaml")
        OmegaConf.save(OmegaConf.create({"hydra": cfg.hydra}), run_dir / ".hydra" / "hydra.yaml")
        OmegaConf.save(cfg.hydra.overrides.task, run_dir / ".hydra" / "overrides.yaml")
        return run_task(task_cfg, run_dir)


def run_main(args, data_dir=None) -> subprocess.CompletedProcess:
    """`python run.py ARGS` through run.py's own Hydra entry point, in this process: sweeps (-m, the
    basic launcher running jobs one after another, as in a fresh process), multirun.yaml and each
    job's .hydra/ written as the CLI writes them, run.py's error handling. stdout and stderr are
    captured and the exit status is returned as run_cli returns them. Not for the joblib launcher,
    whose workers are fresh processes anyway, nor for what only a fresh process shows."""
    import importlib.util

    from hydra.core.global_hydra import GlobalHydra

    spec = importlib.util.spec_from_file_location("nncompress_run_py", ROOT / "run.py")
    run_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_py)
    # Hydra finds conf/ beside the file of a task function defined in __main__ (else it looks for a
    # Python package named by the module): the function run.py's decorator wraps, as in `python run.py`.
    run_py.main.__wrapped__.__module__ = "__main__"
    from nncompress.tasks.config import model_overrides

    argv = ["run.py", *model_overrides(run_py.quote_paths([str(a) for a in args]))]  # as run.py's __main__
    out, err = io.StringIO(), io.StringIO()
    code = 0
    saved_argv = sys.argv
    with _isolated(data_dir):
        GlobalHydra.instance().clear()
        sys.argv = argv
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                run_py.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved_argv
            _reset_logging()
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _reset_logging():
    """Hydra configures logging for each run (handlers on the root logger writing to the captured
    streams and the job's log file): remove them again."""
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler).__module__.startswith("_pytest"):
            continue
        root.removeHandler(handler)
        handler.close()
