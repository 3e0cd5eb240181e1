"""nncompress entry point: `python run.py [task=train] method=meankl block=30 ...` (Hydra)."""
from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from nncompress.tasks.config import config_error_line, model_overrides, register_schemas

register_schemas()
# Hydra reports a composition error (a misspelt key, a wrong type, an unknown option) over several
# lines without the valid keys. While it composes, HYDRA_FULL_ERROR makes it raise instead, and
# __main__ prints one line (tasks.config.config_error_line); the task puts the user's setting back,
# so an error inside a task keeps Hydra's own report.
USER_FULL_ERROR = os.environ.get("HYDRA_FULL_ERROR")


def restore_full_error() -> None:
    if USER_FULL_ERROR is None:
        os.environ.pop("HYDRA_FULL_ERROR", None)
    else:
        os.environ["HYDRA_FULL_ERROR"] = USER_FULL_ERROR


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    restore_full_error()
    from nncompress.core.errors import UserError
    from nncompress.core.results import write_results
    from nncompress.data import DataNotFoundError
    from nncompress.tasks import run_task
    from nncompress.tasks.dashboard import close_open_run

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    try:
        record = run_task(cfg, run_dir)
    except (UserError, DataNotFoundError) as exc:  # user-fixable: one line, no traceback
        close_open_run()  # its W&B run (logger=wandb) ends marked failed, not finished
        print(f"error: {exc}", file=sys.stderr)
        if hc.mode != RunMode.MULTIRUN:
            sys.exit(1)
        write_results(run_dir, {"status": "failed", "error": str(exc)}, name="failed.json")
        return None
    except Exception as exc:  # a sweep goes on past one broken job; the report lists it
        close_open_run()
        if hc.mode != RunMode.MULTIRUN:
            raise
        (run_dir / "error.txt").write_text(traceback.format_exc())
        write_results(run_dir, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}, name="failed.json")
        print(f"job failed ({type(exc).__name__}: {exc}); see {run_dir / 'error.txt'}", file=sys.stderr)
        return None
    return record.get("test_error")


PATH_KEYS = ("file=", "run=")


def quote_paths(argv: list) -> list:
    """`file=PATH` / `run=DIR` as Hydra string literals: a path may hold characters that Hydra's
    override grammar reads as syntax (a comma makes a list, `=`, brackets, spaces, quotes)."""
    out = []
    for arg in argv:
        key = next((k for k in PATH_KEYS if arg.startswith(k)), None)
        value = arg[len(key):] if key else ""
        if key and value and value[0] not in "'\"":
            arg = key + "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        out.append(arg)
    return out


if __name__ == "__main__":
    sys.argv = [sys.argv[0], *model_overrides(quote_paths(sys.argv[1:]))]
    if USER_FULL_ERROR is None:
        os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except (HydraException, OmegaConfBaseException) as exc:  # composing: no task has started
        if USER_FULL_ERROR is not None or os.environ.get("HYDRA_FULL_ERROR") is None:
            raise  # the user asked for the full report, or the error came from a task
        print(f"error: {config_error_line(exc)}", file=sys.stderr)
        sys.exit(1)
