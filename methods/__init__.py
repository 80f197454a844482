"""Methods: how to make a model cheap.

The built-in methods, and those installed distributions offer as entry points in the group
`tradeoff_bench.methods` (see `bench.plugins`), are registered lazily: importing this package loads no torch, and
`METHODS.get(name)` imports a method's module on first use. `Candidate`, `Method` and
`RunContext` are loaded from `methods.base` when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.registry import Registry, lazy_attributes

if TYPE_CHECKING:
    from methods.base import Candidate, Method, RunContext

METHODS: Registry[type[Method]] = Registry("method")

for _name, _target in {
    "dcl": "methods.dcl.method:DCL",
    "dense": "methods.dense:Dense",
    "magnitude": "methods.magnitude:Magnitude",
    "magnitude-unstructured": "methods.unstructured:MagnitudeUnstructured",
    "network-slimming": "methods.network_slimming:NetworkSlimming",
    "noisy-gates": "methods.noisy_gates:NoisyGatesMethod",
    "quantization": "methods.quantization:Quantization",
    "slimmable": "methods.slimmable:Slimmable",
}.items():
    METHODS.register_lazy(_name, _target)
METHODS.register_entry_points("tradeoff_bench.methods")

__getattr__ = lazy_attributes(__name__, "methods.base", ("Candidate", "Method", "RunContext"))


__all__ = ["METHODS", "Candidate", "Method", "RunContext"]
