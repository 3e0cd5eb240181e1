"""Weights to a small codebook: 1-D k-means and nearest-entry assignment."""
