"""logger=wandb runs offline by default and leaves a run that `wandb sync` can upload."""
import pytest

from helpers import compose_cfg
from nncompress.tasks.builders import build_loggers


@pytest.mark.slow  # starting a W&B run takes tens of seconds
def test_wandb_offline_run_is_left_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = compose_cfg(["logger=wandb", "method=meankl", "scale=quick"], hydra=False)
    assert cfg.logger.wandb.offline is True
    csv, wandb_logger = build_loggers(cfg, tmp_path)
    wandb_logger.log_metrics({"train/ce": 1.5}, step=1)
    csv.log_metrics({"train/ce": 1.5}, step=1)
    wandb_logger.finalize("success")
    wandb_logger.experiment.finish()
    csv.finalize("success")
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb")), "no syncable offline run"
    assert "train/ce" in (tmp_path / "metrics.csv").read_text()
