"""logger=wandb runs offline by default and leaves a run that `wandb sync` can upload."""
import pytest
from pathlib import Path

from hydra import compose, initialize_config_dir

from nncompress.schemas import register
from nncompress.tasks.builders import build_loggers

CONF = Path(__file__).resolve().parents[1] / "conf"
register()


@pytest.mark.slow  # starting a W&B run takes tens of seconds
def test_wandb_offline_run_is_left_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["logger=wandb", "method=meankl", "scale=quick"])
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
