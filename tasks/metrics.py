"""Metrics with their direction, unit and aggregation, so reports never special-case names.

A task's `evaluate` returns plain `{name: value}`; names of the form `base@detail` (e.g.
`eer@snr<5`) inherit the spec of `base`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    unit: str = ""
    ideal: float = 0.0
    """The metric's perfect value (the hypervolume maps it to 0)."""
    description: str = ""
    aggregate: str = "mean"  # how seeds combine in tables: "mean" (with std) or "median"


METRICS: Registry[Metric] = Registry("metric")


def register_metric(metric: Metric) -> Metric:
    return METRICS.register(metric.name)(metric)


def metric_spec(name: str) -> Metric:
    """The spec of a metric name, following `base@detail` names to their base."""
    return METRICS.get(name.split("@", 1)[0])


register_metric(Metric("mse", higher_is_better=False, description="mean squared error"))
register_metric(Metric("eer", higher_is_better=False, unit="%", description="equal error rate"))
register_metric(Metric("auc", higher_is_better=True, ideal=1.0, description="area under the ROC curve"))
register_metric(Metric("min_tdcf", higher_is_better=False, description="minimum tandem DCF"))
register_metric(Metric("accuracy", higher_is_better=True, unit="%", ideal=100.0, description="accuracy"))
