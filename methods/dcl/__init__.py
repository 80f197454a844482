"""Dynamic Complexity Layers (Gómez & Bäckström 2026): width learning as a method of the suite."""

from tradeoff_bench.methods.dcl.complexity import ComplexityModel, ComplexityModelError, fit_complexity
from tradeoff_bench.methods.dcl.layer import DCLGates, DynamicComplexityLayer
from tradeoff_bench.methods.dcl.method import DCL, DCLObjective

__all__ = [
    "DCL",
    "ComplexityModel",
    "ComplexityModelError",
    "DCLGates",
    "DCLObjective",
    "DynamicComplexityLayer",
    "fit_complexity",
]
