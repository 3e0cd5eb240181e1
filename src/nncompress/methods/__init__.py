"""Method families, one package per paper (`mkl`, `ibc`, …), plus the baseline; `base.py` holds
the `Family` interface and the registry that `tasks/` reads."""
