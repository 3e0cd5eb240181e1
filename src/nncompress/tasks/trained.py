"""trained_from: code a trained state that another run left, so that several coders (or coder
settings) code the very same posterior (issue 23: `experiments/mkl_coders.yaml`).

    trained_from=RUN_DIR    that run's checkpoints/last.ckpt (a finished training of the same
                            settings) is this run's start; fit() resumes at its last step, so
                            nothing is trained again, and the run goes on to code it
    trained_from=auto       the training this run would do, done once into
                            paths.pretrained_dir/trained_<method>_<model>_<dataset>_b<block>_<scale>
                            _s<seed>_<fingerprint> (without coding) and reused by every later job

"The same settings" is `fingerprint(cfg)`: the sha256 of the resolved config less what cannot
change the trained state (the task, file and run paths, loggers, pruning curves, progress bars,
and the coding node except the keys the family names in `Family.trains_with`: mkl's
bits_per_block is the block KL budget the posterior is trained to). A run dir of other settings
is refused. Sweeps that share one trained state run their jobs one at a time (the first trains).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from nncompress.core.errors import UserError
from nncompress.methods.base import get_family

TOP_IGNORED = ("task", "trained_from", "point", "file", "export_to", "trust", "run", "paths", "logger", "pruning",
               "hydra")
FINGERPRINT_FILE = "trained.json"


def fingerprint(cfg: DictConfig) -> str:
    """sha256 (hex) of what shapes the trained state (module docstring); cfg as `_resolvable`."""
    keep = get_family(cfg.method.family).trains_with
    node = OmegaConf.to_container(_resolvable(cfg), resolve=True)
    coding = node.get("coding") or {}
    desc = {k: v for k, v in node.items() if k not in TOP_IGNORED and k != "coding"}
    desc["coding"] = {k: coding.get(k) for k in keep}
    desc.get("trainer", {}).pop("progress_bar", None)
    return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()


def _resolvable(cfg: DictConfig) -> DictConfig:
    """cfg without its hydra node and with empty paths (they read ${hydra:...}, which resolves only
    inside a Hydra run; a data folder does not shape the trained state), so that a run's saved
    .hydra/config.yaml resolves in any process."""
    node = OmegaConf.to_container(cfg, resolve=False)
    node.pop("hydra", None)
    node["paths"] = {k: "" for k in node.get("paths") or {}}
    return OmegaConf.create(node)


def auto_dir(cfg: DictConfig, fp: str) -> Path:
    m = cfg.method.name
    return Path(cfg.paths.pretrained_dir) / (f"trained_{m}_{cfg.model.name}_{cfg.dataset.name}_b{cfg.block}_"
                                             f"{cfg.scale.name}_s{cfg.seed}_{fp[:12]}")


def _recorded(run_dir: Path) -> str | None:
    """The fingerprint a run dir was trained under: its trained.json, else its .hydra/config.yaml."""
    path = run_dir / FINGERPRINT_FILE
    if path.exists():
        return json.loads(path.read_text())["fingerprint"]
    saved = run_dir / ".hydra" / "config.yaml"
    return fingerprint(OmegaConf.load(saved)) if saved.exists() else None


def write_fingerprint(run_dir: Path, fp: str) -> None:
    (Path(run_dir) / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": fp}))


def resolve_trained_from(cfg: DictConfig, run_dir: Path, train) -> DictConfig:
    """Put the trained state `cfg.trained_from` names at run_dir/checkpoints/last.ckpt (training it
    first for `auto`, with `train(cfg, dir, code=False)`); cfg.trained_from becomes that run dir."""
    source = cfg.get("trained_from")
    if not source:
        return cfg
    if not get_family(cfg.method.family).trains:
        raise UserError(f"trained_from: method={cfg.method.name} does not train; it has no trained state to reuse")
    fp = fingerprint(cfg)
    if source == "auto":
        src = auto_dir(cfg, fp)
        if not (src / "results.json").exists():
            src.mkdir(parents=True, exist_ok=True)
            inner = cfg.copy()
            with open_dict(inner):
                inner.trained_from = None
            train(inner, src, code=False)
            write_fingerprint(src, fp)
    else:
        src = Path(str(source)).expanduser()
        if not (src / "checkpoints" / "last.ckpt").exists() or not (src / "results.json").exists():
            raise UserError(f"trained_from={src}: not a finished run dir (no results.json and checkpoints/last.ckpt)")
        theirs = _recorded(src)
        if theirs != fp:
            raise UserError(f"trained_from={src} was trained with other settings (method, model, data, block, "
                            f"scale, seed, trainer or the coding keys that shape training); code it with those")
    own = Path(run_dir) / "checkpoints" / "last.ckpt"
    if not own.exists():  # a rerun of this job resumes from its own checkpoint or coding state instead
        own.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / "checkpoints" / "last.ckpt", own)
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.trained_from = str(src)
    return cfg
