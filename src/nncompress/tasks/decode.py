"""task=decode: rebuild networks from their compressed files alone and evaluate them.

    file=PATH   one model.mrc / model.nnc -> decode.json in this run's dir
    run=DIR     every model.mrc / model.nnc under a run or sweep dir, each checked against the
                test error (and weights digest) its encoder wrote beside it in results.json;
                exits non-zero when any differs
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from nncompress.coding.codec import CODECS, read_file
from nncompress.core.errors import UserError
from nncompress.core.evaluation import test_error
from nncompress.core.results import write_results
from nncompress.tasks.builders import build_datamodule

log = logging.getLogger(__name__)
ARTIFACTS = tuple(sorted({c.filename for c in CODECS.values()}))


def fit_problem(decoded, dm) -> str:
    """Why the network a file declares cannot run on dm's data ("" when it fits), naming each
    difference and the data sets it would fit."""
    spec = decoded.spec
    if spec is None:
        return ""
    want = (spec.in_channels, spec.image_size, spec.num_classes)
    c, h, w = dm.input_shape
    have = (c, h, dm.num_classes)
    if want == have and h == w:
        return ""
    names = ("channels", "image size", "classes")
    diffs = ", ".join(f"{n} {a} (data: {b})" for n, a, b in zip(names, want, have) if a != b) or "non-square images"
    fits = _datasets_with(want)
    hint = f"; decode it with dataset={' or dataset='.join(fits)}" if fits else "; no configured data set fits it"
    return f"it holds {spec.describe()}, which does not fit dataset={dm.name}: {diffs}{hint}"


def _datasets_with(want: tuple) -> list:
    """The configured data sets (conf/dataset) whose images and classes match `want`."""
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import get_class

    hydra = GlobalHydra.instance()
    if not hydra.is_initialized():
        return []
    found = []
    for name in hydra.config_loader().get_group_options("dataset"):
        target = compose(config_name="config", overrides=[f"dataset={name}"]).dataset.get("_target_")
        cls = get_class(target) if target else None
        shape, classes = getattr(cls, "input_shape", ()), getattr(cls, "num_classes", 0)
        if len(shape) == 3 and (shape[0], shape[1], classes) == want:
            found.append(name)
    return found


def evaluate_decoded(path: Path, codec, decoded, dm) -> dict:
    """Evaluate a network rebuilt from `path` (`coding.codec.read_file`) on dm's test set; a network
    that does not fit the data is refused first, in one line (UserError)."""
    problem = fit_problem(decoded, dm)
    if problem:
        raise UserError(f"{path}: {problem}")
    digest, n_params = decoded.weights_sha256, decoded.n_params
    err = test_error(decoded.to(dm.device), None, dm.test_dataloader())
    return {"task": "decode", "kind": codec.name, "file": str(path.resolve()), "test_error": err,
            "weights_sha256": digest, "n_params_decoded": n_params, "compressed_bytes": path.stat().st_size}


def _artifacts(root: Path) -> list:
    if not root.is_dir():
        raise UserError(f"run={root}: not a directory (give a run dir or a sweep dir)")
    found = sorted(p for name in ARTIFACTS for p in root.rglob(name))
    if not found:
        raise UserError(f"run={root}: no {' or '.join(ARTIFACTS)} below it")
    return found


def _check(record: dict, encoder: dict) -> list:
    """What differs between a decode and the encoder's results.json (empty: it reproduces)."""
    diffs = []
    if encoder.get("test_error_compressed") != record["test_error"]:
        diffs.append(f"test error {record['test_error']} % != encoder's {encoder.get('test_error_compressed')} %")
    if encoder.get("weights_sha256") not in (None, record["weights_sha256"]):
        diffs.append("weights sha256 differs from the encoder's")
    if encoder.get("compressed_bytes") not in (None, record["compressed_bytes"]):
        diffs.append("file size differs from the encoder's")
    return diffs


def decode_run(root: Path, paths: list, dm, dataset: str) -> dict:
    """Decode each of `paths` (found below `root`) and check it against its encoder's record; an
    unreadable file is reported as a difference and the others are still checked."""
    rows, bad = [], 0
    for path in paths:
        results = path.parent / "results.json"
        encoder = json.loads(results.read_text()) if results.exists() else {}
        if encoder.get("dataset") not in (None, dataset):
            raise UserError(f"{path} was trained on {encoder['dataset']}; decode it with dataset={encoder['dataset']}")
        try:
            record = evaluate_decoded(path, *read_file(path), dm)
        except UserError as exc:  # unreadable, or not a network for this data set
            record = {"file": str(path.resolve()), "test_error": float("nan"), "differences": [str(exc)]}
        else:
            record["differences"] = _check(record, encoder) if encoder else ["no results.json beside it"]
        record["encoder_test_error"] = encoder.get("test_error_compressed")
        bad += bool(record["differences"])
        rows.append(record)
        status = "ok" if not record["differences"] else "DIFFERS: " + "; ".join(record["differences"])
        print(f"{path.relative_to(root)}: test error {record['test_error']:.2f} % "
              f"(encoder {record['encoder_test_error']}) {status}")
    return {"task": "decode", "run": str(root.resolve()), "dataset": dataset, "n_files": len(rows),
            "n_differ": bad, "files": rows}


def decode(cfg: DictConfig, run_dir: Path) -> dict:
    if not cfg.get("file") and not cfg.get("run"):
        raise UserError("task=decode needs file=PATH to a compressed model (e.g. outputs/.../model.mrc) "
                        "or run=DIR to check every model file of a run or sweep")
    if cfg.get("file"):
        path = Path(str(cfg.file)).expanduser()
        codec, decoded = read_file(path)  # a missing or corrupt file fails before the data set is loaded
        dm = build_datamodule(cfg)
        record = {**evaluate_decoded(path, codec, decoded, dm), "dataset": cfg.dataset.name}
        write_results(run_dir, record, name="decode.json")
        print(f"decoded {path}: test error {record['test_error']:.2f} % on {cfg.dataset.name}; "
              f"weights sha256 {record['weights_sha256'][:16]}…")
        return record
    root = Path(str(cfg.run)).expanduser()
    paths = _artifacts(root)
    dm = build_datamodule(cfg)
    record = decode_run(root, paths, dm, cfg.dataset.name)
    write_results(run_dir, record, name="decode.json")
    print(f"{record['n_files']} files decoded, {record['n_differ']} differ from their encoder's results")
    if record["n_differ"]:
        raise UserError(f"{record['n_differ']} of {record['n_files']} decoded files do not reproduce their "
                        f"encoder's results (details in {run_dir / 'decode.json'})")
    return record
