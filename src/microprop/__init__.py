"""microprop: surrogate models for the structure-property relation of microstructures."""

__version__ = "0.1.0"
