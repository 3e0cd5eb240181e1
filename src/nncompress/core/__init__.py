"""The bottom layer: what every other package may use and that uses nothing of ours.

errors (the user-fixable error), generator (portable counter-based randomness), blocks (the
block partition of coded variables), units (ln 2), evaluation (test error), results
(results.json).
"""
