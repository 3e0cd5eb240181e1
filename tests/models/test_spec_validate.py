"""ArchSpec.validate runs each architecture's forward on the meta device once per shape key: a
success is remembered, a refusal is derived again every time, and the bounds are always checked."""
import pytest

from nncompress.models import spec as spec_module
from nncompress.models.spec import ArchSpec


def test_a_shape_that_ran_is_not_run_again_but_every_bound_still_is(monkeypatch):
    good = ArchSpec("lenet300_100", in_channels=1, num_classes=10, image_size=28)
    monkeypatch.setattr(spec_module, "_RUNS", set())
    calls = []
    real = ArchSpec._check_forward
    monkeypatch.setattr(ArchSpec, "_check_forward", lambda self, net: (calls.append(self.name), real(self, net)))
    good.validate()
    ArchSpec("lenet300_100", hashing={"fc1": 2}).validate()  # hashing changes no shape: same key
    assert calls == ["lenet300_100"]
    with pytest.raises(ValueError, match="hashing factor 0 of fc1"):
        ArchSpec("lenet300_100", hashing={"fc1": 0}).validate()
    with pytest.raises(ValueError, match="num_classes 0 is outside"):
        ArchSpec("lenet300_100", num_classes=0).validate()
    ArchSpec("lenet300_100", num_classes=7).validate()  # another key: runs
    assert calls == ["lenet300_100", "lenet300_100"]


def test_a_refusal_is_not_remembered(monkeypatch):
    monkeypatch.setattr(spec_module, "_RUNS", set())
    bad = ArchSpec("lenet5", image_size=4)  # two 5x5 convolutions and pools cannot run on 4 x 4
    for _ in range(2):
        with pytest.raises(ValueError, match="cannot run on its own input"):
            bad.validate()
    assert spec_module._RUNS == set()
