"""The MRC search (coding.search, coding.scoring): the exact selection law, the bound of pass 1,
independence of chunking and kernel, the int32 hashing of the fused kernel, the fallback."""
import math

import pytest
import torch

from nncompress.coding import scoring
from nncompress.coding import search as S
from nncompress.core import generator as G


def _block(dim, seed, kind="normal"):
    g = torch.Generator().manual_seed(seed)
    rho = torch.full((dim,), 0.1)
    mu = torch.randn(dim, generator=g) * 0.05
    sigma = torch.rand(dim, generator=g) * 0.05 + 0.02
    if kind == "sharp":  # a posterior far narrower than the coding distribution: huge coefficients
        sigma = sigma * 1e-4
    if kind == "prior":  # q = p: a = b = c = 0, every candidate scores its Gumbel noise alone
        mu, sigma = torch.zeros(dim), rho.clone()
    return mu, sigma, rho


def _exact_all(seed, block, mu, sigma, rho, k, sample):
    coef = S.Coefficients.of(mu, sigma, rho)
    return S.exact_scores(S.candidate_key(seed, block), S.selection_key(seed, block), torch.arange(k), coef, sample)


@pytest.mark.parametrize("dim,kind", [(30, "normal"), (31, "sharp"), (7, "prior"), (1, "normal"), (2, "sharp")])
@pytest.mark.parametrize("selection", ["sample", "argmax"])
def test_index_is_the_exact_maximiser(dim, kind, selection, one_thread):
    mu, sigma, rho = _block(dim, dim, kind)
    score, lr = _exact_all(0, 3, mu, sigma, rho, 2048, selection == "sample")
    found = S.search_block(0, 3, mu, sigma, rho, 2048, chunk=700, selection=selection)
    assert found.index == int(torch.nonzero(score == score.max()).flatten()[0])
    assert found.log_ratio == float(lr[found.index])
    assert 1 <= found.rescored <= 2048


@pytest.mark.parametrize("dim,kind", [(30, "normal"), (5, "sharp"), (1, "normal")])
def test_same_index_for_every_chunking(dim, kind, one_thread):
    mu, sigma, rho = _block(dim, 11, kind)
    ref = S.search_block(0, 1, mu, sigma, rho, 3000, chunk=3000)
    for chunk in (1, 17, 256, 1000, 2999, 1 << 16):
        assert S.search_block(0, 1, mu, sigma, rho, 3000, chunk=chunk if chunk > 1 else 3) == ref


@pytest.mark.parametrize("dim,kind", [(30, "normal"), (31, "sharp"), (7, "prior"), (1, "sharp")])
@pytest.mark.parametrize("sample", [True, False])
def test_pass1_within_its_bound(dim, kind, sample, one_thread):
    """|S~ - S| <= E for every candidate (the measured error is ~1 % of E: the bound has margin)."""
    mu, sigma, rho = _block(dim, 5, kind)
    coef = S.Coefficients.of(mu, sigma, rho)
    packed = scoring.pack(coef.a, coef.b, "cpu")
    s, e, hi, lo = scoring.eager_pass1(S.candidate_key(0, 2), S.selection_key(0, 2), 0, 4096, packed, coef.c,
                                       S.eps(dim), sample)
    assert torch.equal(hi, s + e) and float(lo) == float((s - e).max())
    exact, _ = _exact_all(0, 2, mu, sigma, rho, 4096, sample)
    assert bool(torch.all((s.double() - exact).abs() <= e.double()))


def test_log_uniform_exact_at_the_ends():
    """u = (j + 1/2) 2^-24 takes 25 bits; log u stays accurate where float32 would round u to 1."""
    js = [0, 1, 2**23 - 1, 2**23, 2**23 + 1, 2**24 - 2, 2**24 - 1]
    got = scoring._log_uniform(torch.tensor(js, dtype=torch.int64) << 8).double()
    want = torch.tensor([math.log((j + 0.5) / 2**24) for j in js], dtype=torch.float64)
    assert bool(torch.all((got - want).abs() <= 4 * 2.0**-24 * want.abs()))


def test_int32_hashing_is_the_generators():
    """The fused kernel's int32 two's-complement hashing, run eagerly, gives the eager pass's
    scores bit for bit: the same words, counters past 2^31 included."""
    mu, sigma, rho = _block(9, 2)
    coef = S.Coefficients.of(mu, sigma, rho)
    packed = scoring.pack(coef.a, coef.b, "cpu")
    for k0 in (0, 2**31 - 100, 2**32 - 300):  # counters stay below 2^32, as in a search
        ref = scoring.eager_pass1(123456789, 987654321, k0, 300, packed, coef.c, S.eps(9), True)
        words = scoring._words(torch.tensor(scoring._s32(k0), dtype=torch.int32),
                               torch.tensor([scoring._s32(123456789), scoring._s32(987654321)], dtype=torch.int32),
                               300, True)
        i32 = scoring._fused(*words, packed, torch.tensor(coef.c), torch.tensor(S.eps(9)), True)
        assert all(torch.equal(r, i) for r, i in zip(ref, i32))
    words = torch.arange(2**32 - 1000, 2**32, dtype=torch.int64)
    assert torch.equal(scoring._mix_i32(words.to(torch.int32)).to(torch.int64) & G.MASK32, G.mix32(words))


def test_padding_adds_nothing():
    """A short block padded to a longer kernel (zero coefficients) scores the same, up to the
    order in which a reduction adds the same terms."""
    mu, sigma, rho = _block(7, 3)
    coef = S.Coefficients.of(mu, sigma, rho)
    args = (S.candidate_key(0, 1), S.selection_key(0, 1), 0, 500)
    own = scoring.eager_pass1(*args, scoring.pack(coef.a, coef.b, "cpu"), coef.c, S.eps(7), True)
    padded = scoring.eager_pass1(*args, scoring.pack(coef.a, coef.b, "cpu", pad_to=30), coef.c, S.eps(7), True)
    assert torch.allclose(own[0], padded[0], rtol=1e-6, atol=1e-6) and torch.allclose(own[1], padded[1], rtol=1e-6)


def test_fused_failure_falls_back_to_the_eager_pass(monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(torch, "compile", lambda fn, **_: broken)
    monkeypatch.setattr(scoring, "_KERNELS", {})
    mu, sigma, rho = _block(12, 4)
    with pytest.warns(UserWarning, match="fused MRC search unavailable"):
        found = S.search_block(0, 0, mu, sigma, rho, 1000, chunk=256, fused=True)
    assert found == S.search_block(0, 0, mu, sigma, rho, 1000, chunk=256)


def test_fused_disagreeing_kernel_is_refused(monkeypatch):
    def off_by_one(fn, **_):  # the scores' kernel is off (its words' kernel is exact)
        return fn if fn is scoring._words else lambda *args: (fn(*args)[0] + 1.0, *fn(*args)[1:])

    monkeypatch.setattr(torch, "compile", off_by_one)
    monkeypatch.setattr(scoring, "_KERNELS", {})
    mu, sigma, rho = _block(12, 4)
    with pytest.warns(UserWarning, match="disagree"):
        found = S.search_block(0, 0, mu, sigma, rho, 1000, chunk=256, fused=True)
    assert found == S.search_block(0, 0, mu, sigma, rho, 1000, chunk=256)


@pytest.mark.slow
def test_compiled_kernel_selects_the_eager_index():
    """torch.compile's kernel (C++ here; inductor caches it, the first build takes a minute or more)."""
    mu, sigma, rho = _block(30, 8)
    coef = S.Coefficients.of(mu, sigma, rho)
    packed = scoring.pack(coef.a, coef.b, "cpu")
    kernel = scoring.fused_pass1("cpu", packed.shape[1], 1 << 12, True)
    s, e, _, _ = kernel(S.candidate_key(0, 6), S.selection_key(0, 6), 0, 1 << 12, packed, coef.c, S.eps(30), True)
    exact, _ = _exact_all(0, 6, mu, sigma, rho, 1 << 12, True)
    assert bool(torch.all((s.double() - exact).abs() <= e.double()))
    for block in range(3):
        fused = S.search_block(0, block, mu, sigma, rho, 1 << 14, chunk=1 << 12, fused=True)
        assert kernel.ok and kernel.checked
        assert fused == S.search_block(0, block, mu, sigma, rho, 1 << 14, chunk=1 << 12)


@pytest.mark.gpu
def test_same_index_on_gpu():
    mu, sigma, rho = _block(30, 9)
    cpu = S.search_block(0, 4, mu, sigma, rho, 1 << 14, chunk=1 << 12)
    cuda = [t.cuda() for t in (mu, sigma, rho)]
    assert S.search_block(0, 4, *cuda, 1 << 14, chunk=1 << 12) == cpu
    assert S.search_block(0, 4, *cuda, 1 << 14, chunk=1 << 12, fused=True) == cpu


class _FakeBuild:
    """Stands in for the background build's process: records its command line and its wait()."""

    made: list = []

    def __init__(self, cmd, **kwargs):
        self.cmd, self.kwargs, self.waited = cmd, kwargs, False
        _FakeBuild.made.append(self)

    def wait(self):
        self.waited = True
        return 0


def test_prewarm_builds_in_the_background_and_prepare_waits_for_it(monkeypatch):
    import ast

    monkeypatch.setattr(S.subprocess, "Popen", _FakeBuild)
    monkeypatch.setattr(S, "_WARMING", {})
    _FakeBuild.made = []
    S.prewarm_fused("cpu", 7, 1 << 9, 1 << 8, "argmax")
    S.prewarm_fused("cpu", 7, 1 << 9, 1 << 8, "argmax")  # one build per shape
    (build,) = _FakeBuild.made
    assert build.cmd[0] == S.sys.executable and build.kwargs["preexec_fn"] is not None  # niced
    # the child runs prepare_fused with exactly these arguments
    call = ast.parse(build.cmd[2].split("; ")[1]).body[0].value
    assert [ast.literal_eval(a) for a in call.args] == ["cpu", 7, 1 << 9, 1 << 8, "argmax"]
    monkeypatch.setattr(S.scoring, "fused_pass1", lambda *a: type("K", (), {"ok": False, "checked": False})())
    assert S.prepare_fused("cpu", 7, 1 << 9, 1 << 8, "sample") is False and not build.waited  # another shape
    assert S.prepare_fused("cpu", 7, 1 << 9, 1 << 8, "argmax") is False and build.waited
    assert S._WARMING == {}


def test_training_starts_the_build_only_where_coding_will_compile(monkeypatch):
    from types import SimpleNamespace

    from nncompress.methods.mkl.encoder import MRCSettings, PrewarmSearchKernel

    monkeypatch.setattr(S.subprocess, "Popen", _FakeBuild)
    monkeypatch.setattr(S, "_WARMING", {})
    _FakeBuild.made = []
    module = SimpleNamespace(device=torch.device("cuda", 0), partition=SimpleNamespace(n_blocks=828, block_size=521))
    trainer = SimpleNamespace(global_rank=0)
    PrewarmSearchKernel(MRCSettings(bits_per_block=16, fused="auto")).on_fit_start(trainer, module)
    assert _FakeBuild.made == []  # 828 x 2^16 < 2^26 candidates: the eager pass, nothing to build
    on_cpu = SimpleNamespace(device=torch.device("cpu"), partition=module.partition)
    PrewarmSearchKernel(MRCSettings(name="orc", bits_per_block=20, fused="auto")).on_fit_start(trainer, on_cpu)
    assert _FakeBuild.made == []  # training on the CPU: the build would take its cores
    PrewarmSearchKernel(MRCSettings(name="orc", bits_per_block=20, fused="auto")).on_fit_start(trainer, module)
    assert list(S._WARMING) == [("cuda:0", 521, 1 << 20, 1 << 16, "argmax")]  # ORC adds its noise outside
