"""Methods: how to make a model cheap. Importing this package registers every built-in method."""

from methods import (  # noqa: F401  (registers)
    dcl,
    dense,
    magnitude,
    network_slimming,
    noisy_gates,
    quantization,
    slimmable,
    unstructured,
)
from methods.base import METHODS, Candidate, Method, RunContext

__all__ = ["METHODS", "Candidate", "Method", "RunContext"]
