"""`quantization`: int8 models of a float-trained task model (dynamic, static, quantisation-aware).

- "dynamic": `torch.ao.quantization.quantize_dynamic` on every Linear, GRU and LSTM: int8 weights,
  activations quantised on the fly per batch (8 bit); convolutions stay float.
- "static": FX graph mode (`prepare_fx` with the backend's default qconfig mapping, calibration on
  `calibration_batches` training batches, `convert_fx`): int8 weights (per channel) and activations,
  Conv+BN(+ReLU) fused. RNNs, which have no static kernel, are then quantised dynamically. A model
  FX cannot trace (data-dependent control flow) falls back to "dynamic"; `facts["fallback"]` says why.
- "qat": FX quantisation-aware training (`prepare_qat_fx`, `qat_epochs` of fine-tuning with fake
  quantisation, `convert_fx`), falling back to float fine-tuning + dynamic like "static".

Library choice, measured here (torch 2.11 CPU, torchao 0.18, one thread, median ms of one forward,
on a shared CPU): an MLP 512-1024-1024-256 at batch 16: fp32 0.92, torch.ao dynamic 0.13, torch.ao
static FX 0.12, torchao `Int8DynamicActivationInt8WeightConfig` 0.71, torchao `Int8WeightOnlyConfig`
1.09; at batch 1: fp32 0.13, torch.ao dynamic 0.074, static 0.072, torchao 0.44 / 0.25. A Conv1d
stack 64-128-128-64 (k 5/3/1, 200 steps): fp32 0.41, torch.ao static 0.14, torchao 0.41 (its
configs leave convolutions float). torchao's int8 runs as eager dequantise-and-matmul on CPU and is
slower than fp32 without `torch.compile`; torch.ao's fbgemm/x86 kernels give real speed-ups, so
this method uses torch.ao.quantization (deprecated in 2.11 but working).

Candidates: the quantised model (it runs on CPU; the bench measures its latency, bytes and metrics)
with `cost_model` = the float model it was converted from (fvcore cannot trace quantised ops). Facts
count the weights as stored: `weight_bytes` sums tensor sizes (int8 weights 1 byte per element plus
a float32 scale and an int32 zero point per tensor or per output channel, float tensors at their own
size), not a file size; `bops` = quantised MACs x 8 x 8 + float MACs x 32 x 32, with quantised MACs
counted on the float modules that were quantised, so a fully quantised model has bops = MACs x 64.

Fairness: every candidate totals the recipe's epochs. The post-training modes quantise a float
model trained `epochs` (default: the recipe's), the very model `dense` x1 trains at the same seed,
so the training cache trains it once for both. QAT fine-tunes `qat_epochs` a float model of its own
trained `epochs − qat_epochs` (default: the recipe's less `qat_epochs`): not the first `epochs −
qat_epochs` of the other (the cosine schedule and the dev-epoch selection depend on the length),
so it shares its training only with an identical one (another quantisation cell with other
calibration or backend settings). With `epochs` set, every mode starts from one float model of
that many epochs, and QAT adds `qat_epochs`.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from tradeoff_bench.core.costs import bit_operations, int8_tensors, weight_bytes
from tradeoff_bench.core.registry import Epochs
from tradeoff_bench.methods.base import METHODS, Candidate, MacCounter, Method, RunContext
from tradeoff_bench.methods.training import FitResult, fit, seeded_build, shared_fit, training_facts
from tradeoff_bench.tasks.base import Task

if TYPE_CHECKING:
    from torch.fx import GraphModule

Mode = Literal["dynamic", "static", "qat"]
MODES = ("dynamic", "static", "qat")
DYNAMIC_TYPES = (nn.Linear, nn.GRU, nn.LSTM)
STATIC_TYPES = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.ReLU,
    nn.functional.relu,
    torch.relu,
)
"""Module and function types given a static int8 qconfig (weighted layers and what fuses into them)."""


@METHODS.register("quantization")
@dataclass
class Quantization(Method):
    """Post-training (dynamic, static) and quantisation-aware int8 models of one float model."""

    modes: tuple[Mode, ...] = ("dynamic", "static", "qat")
    epochs: Epochs | None = None
    qat_epochs: Epochs = 2
    calibration_batches: int = 20
    backend: str = "x86"

    description = "int8 post-training (dynamic, static FX) and quantisation-aware training (torch.ao)"
    tiny_settings = {"modes": ("dynamic", "static", "qat"), "epochs": 1, "qat_epochs": 1, "calibration_batches": 2}

    def __post_init__(self) -> None:
        if not self.modes or any(mode not in MODES for mode in self.modes) or len(set(self.modes)) != len(self.modes):
            raise ValueError(f"modes must be distinct values of {MODES}, got {self.modes}")
        if self.qat_epochs < 1 or self.calibration_batches < 1 or (self.epochs is not None and self.epochs < 1):
            raise ValueError("epochs, qat_epochs and calibration_batches must be >= 1")
        if self.backend not in torch.backends.quantized.supported_engines:
            raise ValueError(f"backend {self.backend!r} not in {torch.backends.quantized.supported_engines}")

    def float_epochs(self, task: Task, mode: Mode = "dynamic") -> int:
        """Epochs of the float model `mode` starts from (see the fairness note above)."""
        if self.epochs is not None:
            return self.epochs
        return max(1, task.recipe.epochs - (self.qat_epochs if mode == "qat" else 0))

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        torch.backends.quantized.engine = self.backend
        example = task.example_input()
        floats: dict[int, tuple[nn.Module, FitResult]] = {}
        for mode in self.modes:  # one float model per length of training, shared with identical trainings
            epochs = self.float_epochs(task, mode)
            if epochs not in floats:
                model = seeded_build(ctx, task.build_model)
                fitted = shared_fit(model, task, ctx, phase="float", epochs=epochs)
                floats[epochs] = (model.to("cpu").eval(), fitted)
        candidates = []
        for index, mode in enumerate(self.modes):
            start = time.perf_counter()
            model, trained = floats[self.float_epochs(task, mode)]
            float_model = copy.deepcopy(model)
            epochs, phases = trained.epochs, [trained]
            if mode == "dynamic":
                quantized, fallback = _dynamic(float_model), None
            elif mode == "static":
                quantized, fallback = self._static(float_model, task, example)
            else:
                quantized, fallback, float_model, tuned = self._qat(
                    float_model, task, ctx, example, seed_offset=index + 1
                )
                epochs, phases = epochs + self.qat_epochs, phases + [tuned]
            seconds = trained.seconds + time.perf_counter() - start
            facts = quantization_facts(float_model, quantized, example, ctx.count_macs)
            facts.update(mode=mode, backend=self.backend, fallback=fallback, **training_facts(*phases))
            candidates.append(
                Candidate(
                    model=quantized.eval(),
                    label=f"int8-{mode}",
                    widths=dict(task.knobs),
                    facts=facts,
                    train_seconds=seconds,
                    train_epochs=epochs,
                    cost_model=float_model.eval(),
                )
            )
        return candidates

    def build_candidate(self, task: Task, widths: Mapping[str, int], facts: Mapping[str, Any]) -> nn.Module:
        """The candidate's quantised structure, converted from an untrained float model as `run`
        converted the trained one (the saved weights and quantisation parameters replace its own)."""
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx, prepare_qat_fx

        torch.backends.quantized.engine = facts.get("backend", self.backend)
        model = task.build_model(widths).eval()
        mode = facts["mode"]
        if mode == "dynamic" or facts.get("fallback"):
            return _dynamic(model)
        example = (task.example_input(),)
        if mode == "static":
            prepared = prepare_fx(model, layer_qconfig_mapping(self.backend, qat=False), example)
        else:
            prepared = prepare_qat_fx(model.train(), layer_qconfig_mapping(self.backend, qat=True), example).eval()
        with warnings.catch_warnings():  # observers that saw no data: their parameters are replaced
            warnings.simplefilter("ignore", UserWarning)
            return _dynamic(convert_fx(prepared), (nn.GRU, nn.LSTM))

    def _static(self, model: nn.Module, task: Task, example: torch.Tensor) -> tuple[nn.Module, str | None]:
        from torch.ao.quantization.quantize_fx import prepare_fx

        try:
            prepared = prepare_fx(
                copy.deepcopy(model).eval(), layer_qconfig_mapping(self.backend, qat=False), (example,)
            )
        except Exception as error:  # FX cannot trace the model: quantise what dynamic quantisation can
            return _dynamic(model), f"FX tracing failed ({type(error).__name__}): dynamic instead"
        _calibrate(prepared, task, self.calibration_batches)
        try:
            return _converted(prepared, example), None
        except Exception as error:
            return _dynamic(model), f"FX's int8 graph does not run ({type(error).__name__}): dynamic instead"

    def _qat(
        self, model: nn.Module, task: Task, ctx: RunContext, example: torch.Tensor, *, seed_offset: int
    ) -> tuple[nn.Module, str | None, nn.Module, FitResult]:
        """(quantised model, fallback reason, float model it was converted from, the fine-tuning fit)."""
        from torch.ao.quantization.quantize_fx import prepare_qat_fx

        try:
            prepared = prepare_qat_fx(
                copy.deepcopy(model).train(), layer_qconfig_mapping(self.backend, qat=True), (example,)
            )
        except Exception as error:
            tuned = fit(model, task, ctx, epochs=self.qat_epochs, seed_offset=seed_offset)
            model.to("cpu").eval()
            return (
                _dynamic(model),
                f"FX tracing failed ({type(error).__name__}): float fine-tuning + dynamic",
                model,
                tuned,
            )
        # no dev metric (evaluating would feed the observers dev data), so no selection: the last epoch is kept
        tuned = fit(prepared, task, ctx, epochs=self.qat_epochs, dev=False, seed_offset=seed_offset)
        prepared.to("cpu").eval()
        float_model = _float_weights_of(prepared, model)
        try:
            return _converted(prepared, example), None, float_model, tuned
        except Exception as error:  # the fused fine-tuned weights do not map back exactly: the float model
            reason = f"FX's int8 graph does not run ({type(error).__name__}): QAT discarded, dynamic instead"
            return _dynamic(model), reason, model, tuned


def layer_qconfig_mapping(backend: str, *, qat: bool) -> Any:
    """The backend's default int8 qconfig on weighted layers (and the BN/ReLU fused into them) only.

    Everything else stays float between quantise/dequantise nodes: quantising arbitrary elementwise
    ops is unsafe (8-bit rounding of a log's input to 0 gives -inf, e.g. a log-mel front end)."""
    from torch.ao.quantization import QConfigMapping, get_default_qat_qconfig, get_default_qconfig

    qconfig = get_default_qat_qconfig(backend) if qat else get_default_qconfig(backend)
    mapping = QConfigMapping()
    for kind in STATIC_TYPES:
        mapping.set_object_type(kind, qconfig)
    return mapping


def quantization_facts(
    float_model: nn.Module, quantized: nn.Module, example: torch.Tensor, count_macs: MacCounter
) -> dict[str, Any]:
    """Bit-widths, bit-operations and stored weight bytes of `quantized`, converted from `float_model`
    (by the shared rules of `core.costs`, which the bench measures every candidate with)."""
    names = quantized_module_names(quantized)
    bops, macs = bit_operations(quantized, example, count_macs, cost_model=float_model)
    bits = 8 if names else 32
    return {
        "weight_bits": bits,
        "activation_bits": bits,
        "macs": macs,
        "quantized_macs": (macs * 32 * 32 - bops) // (32 * 32 - 8 * 8),
        "bops": bops,
        "weight_bytes": weight_bytes(quantized),
        "float_weight_bytes": weight_bytes(float_model),
        "quantized_modules": names,
    }


def quantized_module_names(model: nn.Module) -> list[str]:
    """Names of the modules that hold int8 weights (static, dynamic, fused)."""
    return [name for name, module in model.named_modules() if int8_tensors(module)]


def _converted(prepared: GraphModule, example: torch.Tensor) -> nn.Module:
    """`convert_fx`'s int8 model of `prepared` (RNNs then quantised dynamically), run once on
    `example`: FX converts some graphs it cannot run (a residual sum of a quantised tensor that passed
    an `nn.Identity` and a float one)."""
    from torch.ao.quantization.quantize_fx import convert_fx

    converted = _dynamic(convert_fx(prepared), (nn.GRU, nn.LSTM))
    with torch.no_grad():
        converted.eval()(example)
    return converted


def _dynamic(model: nn.Module, types: tuple[type[nn.Module], ...] = DYNAMIC_TYPES) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    if not any(isinstance(m, types) for m in model.modules()):
        return model
    return quantize_dynamic(model, set(types), dtype=torch.qint8)


@torch.no_grad()
def _calibrate(model: nn.Module, task: Task, batches: int) -> None:
    for index, (x, _) in enumerate(task.batches("train", task.recipe.batch_size)):
        if index >= batches:
            break
        model(x)


def _float_weights_of(prepared: nn.Module, template: nn.Module) -> nn.Module:
    """A float copy of `template` holding the QAT-tuned weights of `prepared` (for MAC counting).

    Fused QAT modules keep the same parameter names plus the folded BN under `.bn`; tensors whose
    names do not match are left as trained before QAT, which does not change the MAC count."""
    float_model = copy.deepcopy(template)
    tuned: dict[str, torch.Tensor] = dict(prepared.named_parameters())
    tuned.update(prepared.named_buffers())
    with torch.no_grad():
        for name, tensor in list(float_model.named_parameters()) + list(float_model.named_buffers()):
            if name in tuned and tuned[name].shape == tensor.shape:
                tensor.copy_(tuned[name])
    return float_model.eval()
