"""Fabrics: where steps run. Each implements the protocol in ``base.py``."""
