"""Supernet training (progressive shrinking) and the datasets it uses."""
