"""Fuzzing the decoders (issue 12): for ANY file, `read_file` returns a network that runs on a
batch of its declared input shape, or raises ContainerError with a one-line message naming the
file. Nothing else: no ValueError, OverflowError, TypeError, RuntimeError, MemoryError, ...

Mutants come from tests/mutants.py (the fuzz benchmark, tests/fuzz_bench.py, uses the same engine): small
real files of every container kind, split into their fields, with field values set to edge
values and re-encoded, varints made over-long, blobs grown / shrunk / flipped, truncation,
trailing bytes, byte-level flips / inserts / deletes / splices, another codec's kind byte.
Every file is read with its CRC-32 recomputed (the payload reaches the decoder); a quarter are
read again with the seed's CRC kept (the container must refuse them). Hypothesis draws every
choice (derandomized: CI sees the same mutants every run) and shrinks a failure towards the
first entries of each list of choices.

The address space is capped at 2 GiB above the process's size while a file is read: a decoder
that believes a header asking for terabytes gets the allocator's error instead of taking the
machine down, and that is a failure whether it escapes raw or wrapped in a ContainerError (no
legitimate seed needs a tenth of it; `mutants.Outcome`). Time and memory are otherwise measured
by the benchmark (`python tests/fuzz_bench.py`), never asserted here.

Counts: FAST examples per kind in the default run (about 45 s on one core), SLOW more under
`-m slow` (about 2 minutes), and the BatchNorm codebook seed (cifar_cnn, ~0.2 s a decode) apart.
fuzz_cases.py holds minimal reproducers of the failure classes found on the decoders before they
were hardened (commit f704578).
"""
import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from mutants import (
    KINDS,
    MAX_INPUT_VALUES,
    Chooser,
    Mutant,
    address_space_limit,
    check,
    mutate,
    parse,
    seeds,
)
from nncompress.coding.codec import get_codec

FAST, SLOW = 1000, 4000  # examples per kind
BN_FAST, BN_SLOW = 30, 300  # cifar_cnn: a full decode takes ~0.2 s
MEMORY_CAP = 2 << 30


def _load_cases():
    """tests/coding is no package (pytest's importlib mode): load fuzz_cases.py beside this file."""
    spec = importlib.util.spec_from_file_location("fuzz_cases", Path(__file__).with_name("fuzz_cases.py"))
    module = sys.modules["fuzz_cases"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


CASES = _load_cases()


class DrawChooser(Chooser):
    """Choices drawn by Hypothesis (so it can replay and shrink them)."""

    def __init__(self, data):
        self.data = data

    def integer(self, lo, hi):
        return self.data.draw(st.integers(lo, hi))


def _settings(n):
    return settings(max_examples=n, derandomize=True, deadline=None, database=None, print_blob=False,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def assert_property(path, data: bytes, what: str):
    with address_space_limit(MEMORY_CAP):
        out = check(path, data)
    shown = data.hex() if len(data) <= 2048 else f"{len(data)} bytes"
    assert out.ok, f"{what}\n  -> {out.error}: {out.message}\n{out.traceback}\n  file: {shown}"
    return out


def _fuzz_one(kind: str, data, workdir, bn: bool = False):
    c = DrawChooser(data)
    m = mutate(c, c.pick(seeds(kind, bn)))
    note(m.describe())
    path = workdir / get_codec(kind).filename
    assert_property(path, m.file(fix_crc=True), f"{m.describe()} (CRC-32 recomputed)")
    if c.integer(0, 3) == 0:
        assert_property(path, m.file(fix_crc=False), f"{m.describe()} (the seed's CRC-32 kept)")


# -- the engine ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", seeds(bn=False), ids=lambda s: s.name)
def test_seeds_decode_and_parse_into_fields_that_tile_the_payload(seed, workdir, one_thread):
    assert assert_property(workdir / "seed.bin", seed.file, seed.name).status == "decoded"
    ends = [0] + [f.end for f in seed.fields]
    assert [f.start for f in seed.fields] == ends[:-1] and ends[-1] == len(seed.payload)
    assert {"arch.name", "arch.image_size"} <= set(seed.groups())


def test_mutants_change_the_payload_and_both_files_are_made():
    from mutants import RandomChooser

    for kind in KINDS:
        for i in range(50):
            m = mutate(RandomChooser(i), seeds(kind)[i % 2])
            assert m.body != m.seed.body, m.describe()
            fixed, kept = m.file(fix_crc=True), m.file(fix_crc=False)
            assert fixed[:-4] == kept[:-4] and kept[-4:] == m.seed.file[-4:]


def test_a_field_value_is_re_encoded_in_place():
    from nncompress.coding.arch import read_arch

    seed = seeds("mrc")[0]
    f = next(f for f in seed.fields if f.name == "arch.image_size")
    payload = seed.payload[: f.start] + bytes([0x40]) + seed.payload[f.end :]  # 64 as a varint
    assert read_arch(payload, 0, "hashing")[0].image_size == 64
    assert len(parse("mrc", seed.payload)) == len(seed.fields)
    assert Mutant(seed, [], KINDS["mrc"]).payload == seed.payload
    assert MAX_INPUT_VALUES >= 3 * 32 * 32


# -- the property --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
@_settings(FAST)
@given(data=st.data())
def test_any_mutant_decodes_or_is_refused_in_one_line(kind, data, workdir, one_thread):
    _fuzz_one(kind, data, workdir)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
@_settings(SLOW)
@given(data=st.data())
def test_many_more_mutants(kind, data, workdir, one_thread):
    _fuzz_one(kind, data, workdir)


@_settings(BN_FAST)
@given(data=st.data())
def test_batchnorm_codebook_mutants(data, workdir, one_thread):
    _fuzz_one("codebook", data, workdir, bn=True)


@pytest.mark.slow
@_settings(BN_SLOW)
@given(data=st.data())
def test_many_more_batchnorm_codebook_mutants(data, workdir, one_thread):
    _fuzz_one("codebook", data, workdir, bn=True)


# -- regression cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reproducer(case, workdir, one_thread):
    """Minimal mutants that broke the property on the decoders this suite was written against."""
    path = workdir / f"case.{case.id}.bin"
    assert_property(path, case.data(), f"{case.id}: {case.recipe} (was {case.error})")
