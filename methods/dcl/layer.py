"""The Dynamic Complexity Layer: a gate whose effective width K = κ·width is learned.

Training: channels [0, ⌊K⌋) pass, channel ⌊K⌋ is the blend η = √λ·ξ + √(1−λ)·σ_ξ·ν with
λ = K − ⌊K⌋ and ν ~ N(0, 1), channels above are zero (arXiv 2601.13704, its definition of the DCL).
Evaluation: channels [0, ⌈K⌉) pass unchanged and no noise is drawn, so the layer is exactly the
model that extraction keeps.

σ_ξ is a per-channel running standard deviation, detached like BatchNorm's running stats. Only the
blended channel's statistic is needed, so only it is updated (the naive version that measured every
channel and drew noise for all of them cost 1.14× a dense step): an exponential moving average of
the batch variance with momentum max(momentum, 1/n) at a channel's n-th update (BatchNorm's
cumulative average until n = 1/momentum), so a channel that K reaches late starts from its own
statistics rather than a placeholder.

Inside a GRU or LSTM (`tasks.rnn.gated_rnn`) the layer blends the hidden state at every step with
fresh noise; it hands the RNN the blend (`recurrent_blend`) so that the fused kernel runs it
exactly. There the statistic is updated once per forward, over the blended channel's values at
all steps and in the whole batch, after the run: the run uses the statistic of earlier batches
(a channel's first run uses the variance of its first step's states, measured before the run).

κ is a raw parameter; a clamp inside forward would kill its gradient once an optimiser step crossed
a bound, so `project_` clamps it to [κ_min, 1] after every optimiser step instead. (A sigmoid
mapped onto [κ_min, 1], measured on the synthetic task at α = 1, descended slower, to widths 24–31
instead of 16–18, and can never reach κ_min itself.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import torch
from torch import nn

from tradeoff_bench.tasks.rnn import RecurrentBlend

SQRT_GUARD = 1e-4
"""λ and 1−λ are kept above this inside √, so the blend's gradient stays finite at integer K."""


def check_kappa_min(kappa_min: float) -> None:
    if not 0 < kappa_min <= 1:
        raise ValueError(f"kappa_min must be in (0, 1], got {kappa_min}")


def kept_width(kappa: float | torch.Tensor, width: int) -> int:
    """⌈K⌉ for K = κ·width in κ's float32 arithmetic: the channels evaluation and extraction keep."""
    return math.ceil((torch.as_tensor(kappa, dtype=torch.float32).detach().cpu() * width).item())


def start_kappa(width: int) -> float:
    """κ of K = width − ½: the top channel half blended, so the task loss has a gradient in K from the
    first step (at K = width the layer is the identity and that gradient is 0)."""
    return 1 - 0.5 / width


def _root(u: torch.Tensor) -> torch.Tensor:
    return u.clamp_min(SQRT_GUARD).sqrt()


class DynamicComplexityLayer(nn.Module):
    """Gate of one knob site; sites of the same knob share one κ (pass it as `kappa`)."""

    running_var: torch.Tensor

    def __init__(
        self, width: int, dim: int, kappa_min: float, kappa: nn.Parameter | None = None, momentum: float = 0.1
    ) -> None:
        super().__init__()
        check_kappa_min(kappa_min)
        self.width, self.dim, self.kappa_min, self.momentum = width, dim, kappa_min, momentum
        self.kappa = kappa if kappa is not None else nn.Parameter(torch.ones(()))
        self.register_buffer("running_var", torch.ones(width))
        self.updates = [0] * width
        """Statistics updates per channel (host-side, so the momentum costs no tensor op)."""
        self.fixed: int | None = None
        """Channels kept at evaluation once extraction has chosen them (`DCLGates.fix_widths_`); None: ⌈K⌉."""
        self._mask: tuple[tuple[object, ...], torch.Tensor] | None = None

    def effective_width(self) -> torch.Tensor:
        """K = κ·width, differentiable in κ."""
        return self.kappa * self.width

    def kept_width(self) -> int:
        """Channels passed at evaluation: ⌈K⌉, or the width extraction fixed."""
        return self.fixed if self.fixed is not None else kept_width(self.kappa, self.width)

    @torch.no_grad()
    def project_(self) -> None:
        """Clamp κ to [κ_min, 1]; run after each optimiser step."""
        self.kappa.clamp_(self.kappa_min, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.dim()
        if not self.training:
            return x * self._leading_mask(self.kept_width(), x, dim)
        k = self.effective_width()
        full = int(k.detach())  # ⌊K⌋, K > 0
        if full >= self.width:
            return x
        out = x * self._leading_mask(full, x, dim)
        signal = x.select(dim, full)
        sigma = self._update_std(signal.detach(), full)
        signal_weight, noise_weight = self._blend_weights(k, full)
        blend = torch.addcmul(signal_weight * signal, torch.randn_like(signal), noise_weight * sigma)
        out.select(dim, full).add_(blend)
        return out

    def recurrent_blend(self, first_state: Callable[[], torch.Tensor]) -> RecurrentBlend | None:
        """In training while a channel is blended, what this gate does to an RNN's state at every step,
        for `tasks.rnn.gated_rnn`'s fused kernel: scale 1 below ⌊K⌋, √λ at it, 0 above, plus
        √(1−λ)·σ·ν on channel ⌊K⌋. σ is the statistic before this run (`first_state()`, the RNN's
        first-step states, gives a channel's first one); the run's values update it afterwards."""
        if not self.training:
            return None
        k = self.effective_width()
        full = int(k.detach())
        if full >= self.width:
            return None
        if self.updates[full] == 0:
            self._update_std(first_state().select(self.dim, full), full)
        signal_weight, noise_weight = self._blend_weights(k, full)
        channels = torch.arange(self.width, device=k.device)
        scale = torch.where(channels == full, signal_weight, (channels < full).to(k.dtype))
        sigma = self.running_var[full].sqrt()
        return RecurrentBlend(
            scale, full, noise_weight * sigma, torch.randn_like, lambda values: self._observe(values, full)
        )

    def _observe(self, values: torch.Tensor, index: int) -> None:
        self._update_std(values, index)

    @staticmethod
    def _blend_weights(k: torch.Tensor, full: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(√λ, √(1−λ)) of λ = K − ⌊K⌋, guarded."""
        lam = k - full
        return _root(lam), _root(1 - lam)

    def channel_scale(self) -> torch.Tensor | None:
        """The per-channel factor this gate multiplies by (for `tasks.rnn.gated_rnn`): the evaluation
        mask, or ones while K covers every channel; None while a channel is blended with noise
        (`recurrent_blend` then says how)."""
        if self.training and int(self.effective_width().detach()) < self.width:
            return None
        keep = self.kept_width() if not self.training else self.width
        return (torch.arange(self.width, device=self.kappa.device) < keep).to(self.kappa.dtype)

    def _leading_mask(self, keep: int, x: torch.Tensor, dim: int) -> torch.Tensor:
        """1 on channels [0, keep), 0 above, shaped to broadcast along `dim`; cached, as keep rarely moves."""
        key = (keep, x.dim(), dim, x.dtype, x.device)
        if self._mask is None or self._mask[0] != key:
            shape = [1] * x.dim()
            shape[dim] = self.width
            mask = (torch.arange(self.width, device=x.device) < keep).to(x.dtype).view(shape)
            self._mask = (key, mask)
        return self._mask[1]

    @torch.no_grad()
    def _update_std(self, channel: torch.Tensor, index: int) -> torch.Tensor:
        self.updates[index] += 1
        momentum = max(self.momentum, 1 / self.updates[index])
        running = self.running_var[index]
        running.lerp_(channel.var(unbiased=False).to(running.dtype), momentum)
        return running.sqrt()

    def extra_repr(self) -> str:
        return f"width={self.width}, dim={self.dim}, kappa_min={self.kappa_min}"


class DCLGates:
    """Gate factory for `Task.build_model(gate=...)` that keeps the layers it made, per knob.

    With `knobs`, only those knobs get a DCL; the others' sites get no gate (full width)."""

    def __init__(self, kappa_min: float, knobs: Collection[str] | None = None) -> None:
        check_kappa_min(kappa_min)
        self.kappa_min = kappa_min
        self.only = None if knobs is None else frozenset(knobs)
        self.layers: dict[str, list[DynamicComplexityLayer]] = {}
        """Knob -> its gates, the first of which owns the knob's κ."""

    def __call__(self, knob: str, width: int, dim: int) -> nn.Module:
        if self.only is not None and knob not in self.only:
            return nn.Identity()
        sites = self.layers.setdefault(knob, [])
        if sites and sites[0].width != width:
            raise ValueError(f"knob {knob!r} is gated at widths {sites[0].width} and {width}")
        kappa = sites[0].kappa if sites else nn.Parameter(torch.tensor(start_kappa(width)))
        layer = DynamicComplexityLayer(width, dim, self.kappa_min, kappa=kappa)
        sites.append(layer)
        return layer

    def kappas(self) -> dict[str, nn.Parameter]:
        return {knob: sites[0].kappa for knob, sites in self.layers.items()}

    def effective_widths(self) -> dict[str, torch.Tensor]:
        return {knob: sites[0].effective_width() for knob, sites in self.layers.items()}

    def kept_widths(self) -> dict[str, int]:
        return {knob: sites[0].kept_width() for knob, sites in self.layers.items()}

    def project_(self) -> None:
        """Clamp every κ to [κ_min, 1]; run after each optimiser step."""
        for sites in self.layers.values():
            sites[0].project_()

    def fix_widths_(self, widths: dict[str, int]) -> None:
        """Keep exactly `widths[knob]` channels of each gated knob at evaluation (the extracted widths,
        which may be ⌊K⌋ where a MAC budget asks for it), so the gated model computes the extracted one."""
        for knob, sites in self.layers.items():
            if not 1 <= widths[knob] <= sites[0].width:
                raise ValueError(f"width {widths[knob]} of knob {knob!r} is outside [1, {sites[0].width}]")
            for site in sites:
                site.fixed = widths[knob]
