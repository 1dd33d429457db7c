"""The local fabric: steps run on this machine."""
