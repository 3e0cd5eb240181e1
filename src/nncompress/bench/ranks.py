"""MRC coding on W processes (gloo, CPU), as trainer=ddp shares it out (`methods.mkl.sharding`):
the file's bytes and the coding throughput for W = 1 and 2, side by side (`make bench`, section
`ddp`), and the same runner for the tests of byte-identity and of resuming after a rank dies.

`code_on_ranks(world, out_dir, ...)` starts `world` fresh processes (torch.multiprocessing,
spawn), each building the same MiracleModule from fixed seeds, joins them in a gloo group and runs
the encoder; rank 0 writes `out_dir/model.mrc` and `out_dir/timing.json` (seconds of the encoder
run alone, after start-up and imports). `die=(rank, block)` makes that rank exit hard when it
reaches that block's search, as a lost node would.
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch

from nncompress.models.spec import ArchSpec

# A hashed LeNet-5: 1,380 coded variables, 46 blocks of 30.
TINY = ArchSpec("lenet5", {"conv1": 10, "conv2": 100, "fc1": 1000, "fc2": 50})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _encode(out_dir: Path, settings: dict, ranks=None, die: Optional[tuple] = None, spec: ArchSpec = TINY) -> float:
    """Build the module from fixed seeds, code it (this process's share), write the file on rank 0;
    returns the encoder's seconds."""
    from nncompress.coding.codec import get_codec, write_file
    from nncompress.methods.mkl.encoder import MRCEncoder, MRCSettings
    from nncompress.methods.mkl.module import MiracleModule
    from nncompress.methods.mkl.sharding import Ranks
    from nncompress.models.coded import CodedNetwork

    ranks = ranks or Ranks()
    torch.manual_seed(0)
    module = MiracleModule(CodedNetwork(spec), "meankl", block_size=30, bits_per_block=settings["bits_per_block"])
    module.setup()
    data = torch.Generator().manual_seed(1)
    x, y = torch.randn(400, 1, 28, 28, generator=data), torch.randint(0, 10, (400,), generator=data)
    settings = dict(settings)
    lr = settings.pop("lr", 1e-3)  # the fine-tuning's
    cfg = MRCSettings(**{"checkpoint_seconds": 0, "progress": False, "fused": "off", **settings})
    enc = MRCEncoder(module, x, y, cfg, seed=0, batch_size=50, lr=lr, state_path=out_dir / "coding_state.pt",
                     ranks=ranks)
    if die is not None and die[0] == ranks.rank:
        search = enc._search

        def dying(b, *args):
            if b == die[1]:
                os._exit(3)  # no clean-up, as a killed process
            return search(b, *args)

        enc._search = dying
    t0 = time.perf_counter()
    payload = enc.run()
    seconds = time.perf_counter() - t0
    if payload is not None:
        write_file(out_dir / "model.mrc", get_codec("mrc"), payload, module.network.n_params)
        (out_dir / "timing.json").write_text(json.dumps({"seconds": seconds, "blocks": module.partition.n_blocks,
                                                         "world": ranks.world, "settings": asdict(cfg)}))
    return seconds


def _worker(rank: int, world: int, port: int, out_dir: str, settings: dict, die, threads: int):
    import torch.distributed as dist

    from nncompress.methods.mkl.sharding import Ranks

    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        _encode(Path(out_dir), settings, Ranks.join(), die)
    finally:
        dist.destroy_process_group()


def code_on_ranks(world: int, out_dir, settings: dict, die: Optional[tuple] = None, threads: int = 1) -> dict:
    """Code TINY on `world` processes into out_dir (model.mrc, timing.json); returns timing.json.
    world 1 runs in this process (no group). A rank dying makes this raise (ProcessExitedException)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if world == 1:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            _encode(out_dir, settings, die=die)
        finally:
            torch.set_num_threads(before)
    else:
        import torch.multiprocessing as mp

        mp.spawn(_worker, args=(world, free_port(), str(out_dir), settings, die, threads), nprocs=world,
                 join=True, start_method="spawn")
    return json.loads((out_dir / "timing.json").read_text())


def bench_ranks(tmp_dir, bits: int = 14, worlds=(1, 2)) -> dict:
    """Coding throughput (blocks per second of the encoder run) on 1 and 2 processes, one thread
    each, side by side, and their ratio; the files must be identical. Two schedules: fine-tuning
    off (`search_only`: rounds of W x 8 blocks, the searches share out) and fine-tuning on
    (`finetune_rounds`: 3 steps after every round of 4 blocks, which rank 0 runs alone)."""
    schedules = {"search_only": {"finetune_steps": 0, "round_blocks": 8},
                 "finetune_rounds": {"finetune_steps": 3, "round_blocks": 4}}
    out = {}
    for name, schedule in schedules.items():
        settings = {"bits_per_block": bits, "chunk_log2": 12, "checkpoint_seconds": 30.0, **schedule}
        row, files = dict(schedule), {}
        for world in worlds:
            t = code_on_ranks(world, Path(tmp_dir) / f"{name}_w{world}", settings)
            row[f"w{world}_blocks_per_second"] = t["blocks"] / t["seconds"]
            row[f"w{world}_seconds"] = t["seconds"]
            files[world] = (Path(tmp_dir) / f"{name}_w{world}" / "model.mrc").read_bytes()
        base = worlds[0]
        for world in worlds[1:]:
            ratio = row[f"w{world}_blocks_per_second"] / row[f"w{base}_blocks_per_second"]
            row[f"w{world}_over_w{base}_throughput"] = ratio
            row[f"w{world}_file_identical"] = files[world] == files[base]
        out[name] = row
    out.update(n_blocks=t["blocks"], candidates_log2=bits, cpu_count=os.cpu_count(), load_average=os.getloadavg()[0],
               note="CPU, gloo, one thread per process; the encoder's run alone (no start-up); a ratio below 1 "
                    "on a machine with fewer free cores than processes says the machine was busy, not the code")
    return out
