"""Methods: how to make a model cheap. Importing this package registers every built-in method."""

from methods import dcl, dense, magnitude, quantization, slimmable, unstructured  # noqa: F401  (registers)
from methods.base import METHODS, Candidate, Method, RunContext

__all__ = ["METHODS", "Candidate", "Method", "RunContext"]
