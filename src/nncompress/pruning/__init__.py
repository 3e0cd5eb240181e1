"""Which weights to zero: pruning orders (strategies), accuracy curves, structured removal of empty
units, pruning by score."""
