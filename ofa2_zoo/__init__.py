"""ofa2-zoo: Pareto fronts of ready-trained Once-for-All sub-networks as timm models."""
__version__ = "0.1.0"
