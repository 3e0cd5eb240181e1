"""Fixtures shared by the suite: the real data folder, a quick in-process config, the GPU marker;
the order of the test files (longest first, from tests/durations.json)."""
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from helpers import CONF, SYNTHETIC, compose_cfg, file_of, longest_first, run_in_process

# Under pytest-xdist (`make test` runs `-n WORKERS`) each worker gets its share of the cores, so
# that workers do not oversubscribe them; cli_command hands the same count to the processes a
# test starts (a run and its re-run in a fresh process must use the same threads: same bytes).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


# Seconds per test file, all phases, as measured by `make test-durations` on a 2-core machine.
DURATIONS = Path(__file__).with_name("durations.json")


def pytest_addoption(parser):
    parser.addoption("--write-durations", metavar="PATH", default=None,
                     help="write each test file's total seconds (setup, call, teardown) to PATH as JSON")


def pytest_collection_modifyitems(config, items):
    """Longest files first (see longest_first); `@pytest.mark.gpu` tests skip, with the reason,
    where no CUDA device is present."""
    if DURATIONS.exists():  # every xdist worker sorts alike: the same collection, as xdist requires
        items[:] = longest_first(items, json.loads(DURATIONS.read_text()))
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


_SECONDS = defaultdict(float)


def pytest_runtest_logreport(report):
    _SECONDS[file_of(report.nodeid)] += report.duration


def pytest_sessionfinish(session):
    """--write-durations PATH: the files' seconds, from the controller (it sees every worker's reports)."""
    path = session.config.getoption("--write-durations")
    if path and not hasattr(session.config, "workerinput"):
        Path(path).write_text(json.dumps({f: round(s, 1) for f, s in sorted(_SECONDS.items())}, indent=1) + "\n")


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is faster, and immune to OpenMP stalls on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """NNCOMPRESS_DATA if set, else the shared folder next to the repo (/work/shared/data)."""
    env = os.environ.get("NNCOMPRESS_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip(reason=f"real data folder absent: {root / 'MNIST' / 'raw'}")
    return root


@pytest.fixture(scope="session")
def mnist_baseline(real_data_dir, tmp_path_factory):
    """mnist_baseline(model) -> the run dir of `model`'s quick MNIST baseline, what init_from=auto
    trains (method=baseline, scale=quick, seed 0), trained at most once per session, on first use,
    into one shared paths.pretrained_dir (`mnist_baseline.pretrained_dir`): the tests that start
    from a trained network share it instead of training their own."""
    from filelock import FileLock

    # One folder for all xdist workers of this session (their base temps share a parent): the
    # first worker that needs a baseline trains it under the lock, the others wait and reuse it.
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    pre = shared / "mnist_pretrained"
    pre.mkdir(exist_ok=True)

    def baseline(model: str, steps: int = None) -> Path:
        """steps: fewer than quick's training steps. The baseline is trained once, in the folder
        init_from=auto reads (its name has no step count), so every caller must ask for the same
        steps: a second caller asking for others fails here rather than get the first's."""
        run_dir = pre / f"mnist_{model}_quick_s0"
        asked = pre / f"{model}.steps"
        with FileLock(str(pre / f"{model}.lock")):
            if not (run_dir / "results.json").exists():
                run_in_process(["task=pretrain", f"model={model}", "scale=quick", "trainer.progress_bar=false",
                                f"paths.pretrained_dir={pre}", *([f"model.train.steps={steps}"] if steps else [])],
                               tmp_path_factory.mktemp(f"pretrain_{model}"), real_data_dir)
                asked.write_text(str(steps))
        if asked.read_text() != str(steps):
            raise AssertionError(f"mnist_baseline({model!r}, steps={steps}): this session trained it with "
                                 f"steps={asked.read_text()}; give every caller of one model the same steps")
        return run_dir

    baseline.pretrained_dir = pre
    return baseline


@pytest.fixture
def quick_cfg():
    """quick_cfg(*overrides): the config of a tiny synthetic-data run, composed in-process, with
    Hydra's runtime set so that tasks can recompose it (init_from=auto, coding=auto)."""
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    def make(*overrides):
        cfg = compose_cfg([*SYNTHETIC, *overrides])
        HydraConfig.instance().set_config(cfg)
        return cfg

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):  # tasks recompose inside it
        yield make
    HydraConfig.instance().cfg = None
