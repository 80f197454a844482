"""synthetic's built-in MLP family (its first tiny variant: 16 hidden units) written as a user would,
a plain nn.Sequential: the contract tests run every method on it with its knob found automatically."""

from torch import nn


def build() -> nn.Module:
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
