"""The Python API: compress any model on any data, decode a file, export the network.

    import nncompress
    result = nncompress.compress(model, (train_set, test_set), method="vd_sws", scale="quick")
    result["test_error"], result.path                     # results.json keys, the compressed file
    net = nncompress.decode(result.path, model=skeleton)  # a plain torch module with the decoded weights
    nncompress.export(net, "net.onnx", example=x)         # or .safetensors; checked against `net`

`compress` runs the same family code as `python run.py` (tasks.train.train), with the config
that `run.py method=... <overrides>` composes; the model and the data are the caller's objects.
`model` is an `nn.Module` (its weights are the trained start of every family that starts from one,
as `init_from` would give them), a `_target_` node, or a registered architecture's name.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn

from nncompress.core.errors import UserError

CONF = Path(__file__).resolve().parents[2] / "conf"  # the repo's configs (an editable install)


# What the trained start of a method shares with the method's own run (as init_from=auto's baseline).
BASELINE_KEYS = ("model", "scale", "seed", "trainer", "paths")


@dataclass
class Result:
    """What a compression run produced: its results.json keys, the file and the run dir."""

    record: dict
    run_dir: Path
    path: Optional[Path] = None  # the compressed file (None with coding=none)

    def __getitem__(self, key):
        return self.record[key]

    def get(self, key, default=None):
        return self.record.get(key, default)

    def keys(self):
        return self.record.keys()


def _overrides(method: str, settings: dict, overrides) -> list:
    out = [f"method={method}"]
    for key, value in settings.items():
        out.append(f"{key}={json.dumps(value) if isinstance(value, (list, dict)) else value}")
    return out + list(overrides)


def _datamodule(data, batch_size: Optional[int]):
    if isinstance(data, (tuple, list)):
        from nncompress.data import DatasetDataModule

        if len(data) not in (2, 3):
            raise UserError("data: give (train, test) or (train, test, val) datasets, or a LightningDataModule")
        kwargs = {} if batch_size is None else {"batch_size": batch_size}
        return DatasetDataModule(*data, **kwargs)
    for attr in ("input_shape", "num_classes", "train_dataloader", "test_dataloader"):
        if not hasattr(data, attr):
            raise UserError(f"data: a datamodule needs `{attr}` (nncompress.data's protocol); or give (train, test) "
                            f"datasets")
    return data


def _spec(model, dm):
    from nncompress.models.spec import ArchSpec
    from nncompress.models.targets import target_of

    c, h, _ = dm.input_shape
    if isinstance(model, nn.Module):
        return ArchSpec.of_target(target_of(model), int(c), int(dm.num_classes), int(h)), model
    if isinstance(model, dict):
        return ArchSpec.of_target(model, int(c), int(dm.num_classes), int(h)), None
    if isinstance(model, str):
        return ArchSpec(model, {}, int(c), int(dm.num_classes), int(h)), None
    raise UserError(f"model: give an nn.Module, a _target_ dict or an architecture name, not {type(model).__name__}")


def compress(model, data, method: str = "meankl", *, out_dir=None, overrides=(), pretrained: bool = True,
             batch_size: Optional[int] = None, **settings) -> Result:
    """Compress `model` on `data` with `method` (a conf/method name: meankl, meanvar, vd, sws,
    vd_sws, pwfn, rd, baseline, l2).

    data: a LightningDataModule following nncompress.data's protocol, or (train, test[, val])
    torch Datasets of (input, label). settings: top-level config keys (scale="quick", block=30,
    seed=1, coding="none"); overrides: any further `key=value` strings as on the command line
    (["method.train_steps=200", "coding.finetune_steps=1"]). pretrained: the module's weights are
    trained (families that start from a trained network use them); False: they train one first.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict, read_write

    from nncompress.methods.base import get_family
    from nncompress.models.coded import CodedNetwork
    from nncompress.models.targets import skeleton
    from nncompress.tasks.config import check_config, register_schemas
    from nncompress.tasks.quiet import quiet
    from nncompress.tasks.train import save_start, train

    quiet()
    register_schemas()
    dm = _datamodule(data, batch_size)
    dm.setup()
    spec, module = _spec(model, dm)
    run_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"nncompress-{method}-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    name = spec.describe().split(" ")[0].rsplit(".", 1)[-1]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=_overrides(method, settings, overrides),
                      return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        try:
            with read_write(cfg.hydra), open_dict(cfg):
                cfg.hydra.runtime.output_dir = str(run_dir)
                cfg.model.name = name
                cfg.dataset = {"name": getattr(dm, "name", "data"), "batch_size": int(getattr(dm, "batch_size", 200))}
            check_config(cfg)  # the schemas' range checks, as run.py's
            family = get_family(cfg.method.family)
            started = time.perf_counter()
            with skeleton(module) if module is not None else contextlib.nullcontext():
                if pretrained and module is not None:
                    start = save_start(CodedNetwork(spec), run_dir / "start", name)
                elif cfg.get("init_from") == "auto":  # the method starts from a trained network: train it here
                    keep = [o for o in overrides if o.split("=")[0].split(".")[0].lstrip("+") in BASELINE_KEYS]
                    base = compose(config_name="config", overrides=_overrides(
                        "baseline", {k: v for k, v in settings.items() if k in BASELINE_KEYS},
                        [*keep, "coding=none", "logger=csv"]), return_hydra_config=True)
                    with open_dict(base):
                        base.model.name = name
                        base.dataset = dict(cfg.dataset)
                    start = run_dir / "start"
                    train(base, start, dm=dm, spec=spec)
                else:
                    start = cfg.get("init_from")
                with open_dict(cfg):
                    cfg.init_from = None if start is None else str(start)
                family.check(cfg)
                record = train(cfg, run_dir, dm=dm, spec=spec)
        finally:
            HydraConfig.instance().cfg = None
    record.setdefault("wall_seconds", time.perf_counter() - started)
    from nncompress.coding.codec import CODECS  # (importing nncompress.coding registers every codec)

    files = [run_dir / c.filename for c in CODECS.values() if (run_dir / c.filename).exists()]
    return Result(record, run_dir, files[0] if files else None)


def decode(path, model: Optional[nn.Module] = None, trust: bool = False) -> nn.Module:
    """The network a compressed file holds, as a plain module in eval mode.

    model: the skeleton to load into (its class builds nothing from the file); needed for a file of
    a model given as an object, or whose target is not allow-listed (torchvision, timm, transformers,
    nncompress) unless `trust=True` lets the file import it. A file that cannot be read raises
    coding.container.ContainerError with one line."""
    from nncompress.coding.codec import read_file
    from nncompress.models.targets import skeleton, trusted
    from nncompress.tasks.export import decoded_module

    scope = skeleton(model) if model is not None else trusted(trust)
    with scope:
        _, decoded = read_file(path)
    return decoded_module(decoded)


def export(source: Union[str, Path, nn.Module], out, example: Optional[torch.Tensor] = None,
           model: Optional[nn.Module] = None, trust: bool = False, atol: float = 1e-4) -> dict:
    """Write the decoded network to `out` (.safetensors or .onnx) and check that the exported
    network gives the decoded one's outputs on `example` (required for ONNX; a zero batch of the
    file's input shape by default). Returns {"path", "format", "max_abs_diff"}."""
    from nncompress.tasks.export import export_module

    net = source if isinstance(source, nn.Module) else decode(source, model=model, trust=trust)
    return export_module(net, Path(out), example=example, atol=atol)
