"""The baseline family: the architecture's recipe (SGD with step decays) and init_from carrying
BatchNorm statistics as well as the weights."""
import pytest
import torch
import torch.nn.functional as F

from nncompress.core.errors import UserError
from nncompress.methods.baseline import BaselineModule, load_baseline_into
from nncompress.models.coded import CodedNetwork
from nncompress.models.spec import ArchSpec

CNN = ArchSpec("cifar_cnn", {}, 3, 10, 32)


def test_init_from_loads_weights_and_batchnorm_statistics(tmp_path):
    torch.manual_seed(0)
    module = BaselineModule(CodedNetwork(CNN), lr=0.1, optimizer="sgd", momentum=0.9)
    opt = module.configure_optimizers()
    module.train()
    for _ in range(2):  # moves the weights and the running statistics
        x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
        loss = F.cross_entropy(module.network(x, module.weights), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.save({"state_dict": module.state_dict()}, tmp_path / "last.ckpt")
    net = CNN.build()
    load_baseline_into(net, tmp_path / "last.ckpt", CNN)
    module.eval()
    x = torch.randn(4, 3, 32, 32)
    assert torch.equal(net.eval()(x), module.predict(x))
    assert not torch.equal(net.features[1].running_mean, torch.zeros(128))


def test_step_decay_and_a_bad_optimiser():
    module = BaselineModule(CodedNetwork(ArchSpec("lenet300_100")), lr=0.01, optimizer="sgd", momentum=0.9,
                            milestones=[2, 4])
    cfg = module.configure_optimizers()
    opt, sched = cfg["optimizer"], cfg["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.01, 0.01, 0.001, 0.001, 0.0001])
    with pytest.raises(UserError, match="unknown optimiser 'rmsprop'"):
        BaselineModule(CodedNetwork(ArchSpec("lenet300_100")), optimizer="rmsprop")
