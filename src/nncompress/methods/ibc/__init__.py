"""Paper 001 (key `ibc`): sparse variational dropout, soft weight-sharing and VD+SWS, written as a
csr_huffman file (model.nnc, Deep Compression's format).

    objectives.py  the loss terms (sparse-VD KL, mixture prior)
    module.py      IbcModule: a plain architecture + terms; the file's quantisation
    export.py      quantised weights -> empty units removed -> CompressedNet
    family.py      build / export for tasks.train
"""
from nncompress.methods.ibc import family  # noqa: F401  (registers the family)
