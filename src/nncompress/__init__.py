"""nncompress: compress neural networks with variational and importance-based methods.

    import nncompress
    result = nncompress.compress(model, (train_set, test_set), method="vd_sws", scale="quick")
    net = nncompress.decode(result.path, model=skeleton)
    nncompress.export(net, "net.onnx", example=batch)

(nncompress.api; imported on first use, so `import nncompress` stays light.)
"""

__version__ = "0.1.0"
__all__ = ["compress", "decode", "export"]


def __getattr__(name):
    if name in __all__:
        from nncompress import api

        return getattr(api, name)
    raise AttributeError(f"module 'nncompress' has no attribute '{name}'")
