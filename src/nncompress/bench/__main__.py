"""python -m nncompress.bench: see the package docstring."""
from nncompress.bench import main

main()
