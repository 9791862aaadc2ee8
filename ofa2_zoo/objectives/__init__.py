"""The objectives stage: accuracy (predicted or measured), efficiency counts, latency."""
