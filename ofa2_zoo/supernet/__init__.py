"""The supernet stage: elastic network, checkpoint import, extraction, BN re-calibration."""
