"""Methods: how to make a model cheap.

The built-in methods, and those installed distributions offer as entry points in the group
`tradeoff_bench.methods` (see `bench.plugins`), are registered lazily: importing this package loads no torch, and
`METHODS.get(name)` imports a method's module on first use. `Candidate`, `Method` and
`RunContext` are loaded from `methods.base` when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeoff_bench.core.registry import Registry, lazy_attributes

if TYPE_CHECKING:
    from tradeoff_bench.methods.base import Candidate, Method, RunContext

METHODS: Registry[type[Method]] = Registry("method")

for _name, _target in {
    "dcl": "tradeoff_bench.methods.dcl.method:DCL",
    "dense": "tradeoff_bench.methods.dense:Dense",
    "magnitude": "tradeoff_bench.methods.magnitude:Magnitude",
    "magnitude-unstructured": "tradeoff_bench.methods.unstructured:MagnitudeUnstructured",
    "network-slimming": "tradeoff_bench.methods.network_slimming:NetworkSlimming",
    "noisy-gates": "tradeoff_bench.methods.noisy_gates:NoisyGatesMethod",
    "quantization": "tradeoff_bench.methods.quantization:Quantization",
    "slimmable": "tradeoff_bench.methods.slimmable:Slimmable",
}.items():
    METHODS.register_lazy(_name, _target)
METHODS.register_entry_points("tradeoff_bench.methods")

__getattr__ = lazy_attributes(__name__, "tradeoff_bench.methods.base", ("Candidate", "Method", "RunContext"))


__all__ = ["METHODS", "Candidate", "Method", "RunContext"]
