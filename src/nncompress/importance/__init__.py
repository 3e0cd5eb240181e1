"""Per-weight importance of paper 003 for pruning and quantisation objectives (see estimators)."""
from .estimators import ESTIMATORS, Importance, check_options, estimate_importance
from .hessian import HESSIAN_ESTIMATORS
from .layers import target_layers

__all__ = ["ESTIMATORS", "HESSIAN_ESTIMATORS", "Importance", "check_options", "estimate_importance",
           "target_layers"]
