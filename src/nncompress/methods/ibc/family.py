"""Paper 001's methods as a family: sparse VD, soft weight-sharing and VD+SWS from a trained
baseline, written as a csr_huffman file (model.nnc, Deep Compression's format)."""
from __future__ import annotations

from omegaconf import OmegaConf

from nncompress.core.errors import UserError
from nncompress.methods.base import BuildContext, Family, check_kwargs, register
from nncompress.methods.baseline import load_baseline_into
from nncompress.methods.frontier_rows import FrontierRows, Knob
from nncompress.methods.ibc.export import build_compressed
from nncompress.methods.ibc.module import IbcModule
from nncompress.methods.ibc.objectives import SparseVDKL
from nncompress.methods.ibc.settings import MIXTURE_KEYS, MODULE_EXCLUDE, SCHEMAS, TERMS, VD_KEYS
from nncompress.methods.ibc.trajectory import LogAlphaTrajectory


def build_module(net, n_train: int, terms, module_cfg: dict) -> IbcModule:
    """IbcModule with the objective terms named in `terms` and the method's `module:` settings."""
    unknown = sorted(set(terms) - set(TERMS))
    if unknown:
        raise UserError(f"method.terms: unknown term(s) {unknown}; choose from {list(TERMS)}")
    kwargs = dict(module_cfg)
    check_kwargs(kwargs, IbcModule, "method.module", exclude=MODULE_EXCLUDE, extra=(*VD_KEYS, *MIXTURE_KEYS))
    kl = SparseVDKL(kwargs.pop("tau1", 1.0)) if "vd" in terms else None
    mixture = {MIXTURE_KEYS[k]: kwargs.pop(k) for k in list(kwargs) if k in MIXTURE_KEYS}
    for k in VD_KEYS:
        kwargs.pop(k, None)
    return IbcModule(net, n_train=n_train, kl=kl, mixture=mixture if "mixture" in terms else None, **kwargs)


TAU1, TAU2 = Knob("tau1", path="method.module.tau1"), Knob("tau2", path="method.module.tau2")


@register
class IbcFamily(Family):
    key, codec = "ibc", "csr_huffman"
    schemas = SCHEMAS
    # ratio_paper: Deep Compression's counted bits (coding/deep_compression.py)
    frontier = (FrontierRows("vd", "sparse VD", "^", "tab:orange", "τ₁ {tau1}", (TAU1,)),
                FrontierRows("sws", "SWS", "v", "tab:red", "τ₂ {tau2}", (TAU2,)),
                FrontierRows("vd_sws", "VD+SWS", "D", "tab:brown", "τ₁ {tau1}, τ₂ {tau2}", (TAU1, TAU2)))

    def build(self, cfg, ctx: BuildContext) -> IbcModule:
        net = ctx.network.spec.build()
        if ctx.init_from is not None:
            load_baseline_into(net, ctx.init_from, ctx.network.spec)
        module_cfg = OmegaConf.to_container(cfg.method.module, resolve=True)
        return build_module(net, ctx.dm.n_train, list(cfg.method.terms), module_cfg)

    def describe(self, module: IbcModule, ctx: BuildContext) -> dict:
        return {"nonzero_fraction": module.nonzero_fraction()}

    def export(self, module: IbcModule, cfg, ctx: BuildContext):
        c = cfg.coding
        indices, biases, codebook = module.quantised(vd_clusters=int(c.vd_clusters), drop_rate=float(c.drop_rate))
        comp = build_compressed(ctx.network.spec, indices, biases, codebook, int(c.index_bits),
                                state=module.net.state_dict())
        nonzero = sum(int((i != 0).sum()) for i in comp.indices)
        return comp, {"nonzero_fraction": nonzero / sum(i.numel() for i in indices)}

    def callbacks(self, cfg, ctx: BuildContext) -> list:
        # With a VD term: the log sigma^2 / log alpha record of a sample of weights (trajectory.py).
        traj = cfg.method.get("trajectory")
        if "vd" not in cfg.method.terms or not traj or not int(traj.get("every", 0)):
            return []
        return [LogAlphaTrajectory(ctx.run_dir, every=int(traj.every), n_weights=int(traj.get("weights", 300)),
                                   seed=int(cfg.seed))]
