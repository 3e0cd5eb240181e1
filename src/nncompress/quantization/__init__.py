"""Weights to a small codebook: 1-D k-means and nearest-entry assignment, importance-weighted and quartic k-means."""
