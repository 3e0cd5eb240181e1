"""`task=decode` on files it must refuse: exit 1 and exactly one `error:` line naming the file, no
traceback (Hydra's included), whatever the file or its path."""
import pytest
import torch

from helpers import SYNTHETIC, run_cli, run_main
from nncompress.coding.codebook import CodebookNet
from nncompress.coding.codebook import encode as codebook_encode
from nncompress.coding.container import write_container
from nncompress.models.spec import ArchSpec


def one_error_line(proc, path) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert str(path) in lines[0]
    return lines[0]


def cifar_shaped_file(path):
    """A valid codebook file of LeNet-5 for 3 x 32 x 32 images in 10 classes."""
    spec = ArchSpec("lenet5", {}, 3, 10, 32)
    torch.manual_seed(0)
    net = spec.build()
    codes = {n: (torch.tensor([0.0, 0.1]), (torch.rand(p.shape) < 0.2).long())
             for n, p in net.named_parameters() if n.endswith("weight")}
    write_container(path, "codebook", codebook_encode(CodebookNet.from_network(spec, net, codes))[0])


def test_a_network_that_does_not_fit_the_data_names_the_data_set_to_use(tmp_path):
    path = tmp_path / "cifar shaped, (really).cbk"  # Hydra syntax in the path: quoted by run.py
    cifar_shaped_file(path)
    proc = run_cli(["task=decode", f"file={path}", *SYNTHETIC, f"hydra.run.dir={tmp_path / 'out'}"])
    line = one_error_line(proc, path)
    assert "does not fit dataset=synthetic" in line
    assert "channels 3 (data: 1)" in line and "image size 32 (data: 28)" in line
    assert "decode it with dataset=cifar10" in line


@pytest.mark.parametrize("content", [
    b"\xff" * (1 << 20),                                             # not even the magic
    b"NNCZ\x01\x01" + b"\xff" * 64 + b"\x00\x00\x00\x00",             # CRC wrong
])
def test_hostile_bytes_give_one_line(tmp_path, content):
    path = tmp_path / "model.mrc"
    path.write_bytes(content)
    one_error_line(run_main(["task=decode", f"file={path}", *SYNTHETIC, f"hydra.run.dir={tmp_path / 'out'}"]), path)


def test_a_crafted_file_with_a_valid_crc_gives_one_line(tmp_path):
    path = tmp_path / "model.mrc"
    write_container(path, "mrc", b"\x07lenet5" + b"\xff" * (1 << 20))  # the quadratic varint of issue 12
    line = one_error_line(run_cli(["task=decode", f"file={path}", *SYNTHETIC,
                                   f"hydra.run.dir={tmp_path / 'out'}"]), path)
    assert "passed its checksum but its payload is malformed" in line


def test_not_a_regular_file(tmp_path):
    one_error_line(run_main(["task=decode", "file=/dev/zero", *SYNTHETIC, f"hydra.run.dir={tmp_path}"]), "/dev/zero")
