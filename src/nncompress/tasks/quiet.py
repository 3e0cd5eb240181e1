"""Third-party chatter that says nothing about a run, dropped by message, one filter each.

Each entry names why it is noise here; everything else from these libraries still shows.
`quiet()` is idempotent and runs at the start of every task (run.py, the Python API).
"""
from __future__ import annotations

import logging
import warnings

# Lightning's start-up notes, logged at INFO through its rank-zero logger: the device summary (the
# run's device is in its config and results.json) and an advertisement for a hosted logger.
_LIGHTNING_NOTES = ("GPU available:", "TPU available:", "HPU available:", "💡 Tip:")

# (message regex, category, module regex) for warnings.filterwarnings.
_WARNINGS = (
    # Our run dir holds .hydra/ when the CSV logger starts; a resumed run's earlier metrics.csv
    # rows are kept by tasks.builders.keep_csv_rows, so nothing is lost that the warning is about.
    (r"Experiment logs directory .* exists and is not empty", UserWarning, r"lightning\."),
    # Lightning's own pytree helper uses a torch API that torch 2.14 deprecates; nothing to do here.
    (r".*isinstance\(treespec, LeafSpec\)", Warning, r"lightning\."),
    # Lightning loads its own checkpoints with weights_only=False (they hold our hyper-parameters);
    # the files are the ones this run wrote.
    (r".*weights_only", Warning, r"lightning\."),
    # trained_from: the checkpoint was saved in the run dir that trained it; its best-k bookkeeping
    # (we keep none, save_top_k=0) is what Lightning says it will not reload.
    (r"The dirpath has changed from", UserWarning, r"lightning\."),
)


class _DropNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_LIGHTNING_NOTES)


_FILTER = _DropNotes()


# torch's C++ build for the fused search kernel, on a machine without CUDA, notes that it found none.
_TORCH_NOTES = ("No CUDA runtime is found",)


class _DropTorchNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_TORCH_NOTES)


_TORCH_FILTER = _DropTorchNotes()


def quiet() -> None:
    cpp = logging.getLogger("torch.utils.cpp_extension")
    if _TORCH_FILTER not in cpp.filters:
        cpp.addFilter(_TORCH_FILTER)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for message, category, module in _WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
