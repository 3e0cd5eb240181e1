"""The MRC encoding loop of paper 000: encode -> file -> decode, identical bytes, resume."""
import pytest
import torch

from nncompress.coding.codec import get_codec, read_file, write_file
from nncompress.core.evaluation import weights_sha256
from nncompress.methods.mkl.encoder import MRCEncoder, MRCSettings
from nncompress.methods.mkl.module import MiracleModule
from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

# A heavily hashed LeNet-5: 1,380 coded variables, 46 blocks of 30 — seconds to code.
TINY = ArchSpec("lenet5", {"conv1": 10, "conv2": 100, "fc1": 1000, "fc2": 50})


def _encode(tmp_path, name, state=None, stop_after=None, bits=8, seed=0):
    torch.manual_seed(0)
    module = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30, bits_per_block=bits, partition_seed=seed)
    data = torch.Generator().manual_seed(1)
    x, y = torch.randn(400, 1, 28, 28, generator=data), torch.randint(0, 10, (400,), generator=data)

    def on_block(b, _):
        if stop_after is not None and b == stop_after:
            raise KeyboardInterrupt

    cfg = MRCSettings(bits_per_block=bits, finetune_steps=2, chunk_log2=6, checkpoint_seconds=0, progress=False)
    enc = MRCEncoder(module, x, y, cfg, seed=seed, batch_size=50, lr=1e-3, state_path=state, on_block=on_block)
    payload = enc.run()
    path = tmp_path / name
    write_file(path, get_codec("mrc"), payload, module.network.n_params)
    return module, path, enc


def test_encode_decode_round_trip(tmp_path):
    module, path, enc = _encode(tmp_path, "a.mrc")
    codec, decoded = read_file(path)
    assert codec.name == "mrc" and decoded.network.spec == TINY and decoded.n_params == 431080
    assert enc.coded.all_done() and bool(enc.coded.fixed.all())
    assert decoded.weights_sha256 == weights_sha256(enc.coded.values)
    x = torch.randn(8, 1, 28, 28)
    assert torch.equal(decoded(x), module.network(x, enc.coded.values))
    # the coding state is the encoder's: the module holds its distributions only
    assert not {"fixed", "fixed_values", "block_done", "coded_mu", "coded_sigma"} & set(module.state_dict())
    assert torch.equal(module.eval_weights(), module.moments()[0])
    # 46 indices of 8 bits = 46 bytes; the rest (spec, seed, sizes, 4 scales, framing) stays small.
    assert path.stat().st_size - 10 - 46 <= 48


def test_same_seed_same_bytes_and_resume_is_identical(tmp_path):
    _, ref, _ = _encode(tmp_path, "ref.mrc")
    _, again, _ = _encode(tmp_path, "again.mrc")
    assert ref.read_bytes() == again.read_bytes()
    state = tmp_path / "coding_state.pt"
    with pytest.raises(KeyboardInterrupt):
        _encode(tmp_path, "cut.mrc", state=state, stop_after=20)
    assert torch.load(state, weights_only=False)["next_block"] == 21
    _, resumed, _ = _encode(tmp_path, "resumed.mrc", state=state)
    assert resumed.read_bytes() == ref.read_bytes()


def test_a_coding_state_written_with_the_coded_buffers_on_the_module_still_resumes(tmp_path):
    """coding_state.pt files from before the coded state moved to the encoder keep resuming."""
    _, ref, _ = _encode(tmp_path, "ref.mrc")
    state = tmp_path / "coding_state.pt"
    with pytest.raises(KeyboardInterrupt):
        _encode(tmp_path, "cut.mrc", state=state, stop_after=10)
    old = torch.load(state, weights_only=False)
    coded = old.pop("coded")
    old["module"].update(fixed=coded["fixed"], fixed_values=coded["values"], block_done=coded["done"],
                         coded_mu=coded["mu"], coded_sigma=coded["sigma"])
    torch.save(old, state)
    _, resumed, _ = _encode(tmp_path, "resumed.mrc", state=state)
    assert resumed.read_bytes() == ref.read_bytes()


def test_resume_refuses_a_foreign_state(tmp_path):
    state = tmp_path / "coding_state.pt"
    with pytest.raises(KeyboardInterrupt):
        _encode(tmp_path, "cut.mrc", state=state, stop_after=3)
    with pytest.raises(RuntimeError, match="different configuration"):
        _encode(tmp_path, "other.mrc", state=state, bits=7)


def test_candidates_cannot_exceed_the_index_space():
    with pytest.raises(ValueError, match="candidates_log2"):
        _ = MRCSettings(bits_per_block=8, candidates_log2=9).n_candidates
