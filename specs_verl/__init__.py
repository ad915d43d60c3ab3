"""SPECS cold start for veRL."""
__version__ = "0.1.0"
