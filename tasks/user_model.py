"""Bring your own model: a plain `nn.Module` from a user's builder, its width knobs found automatically.

A task's `model` setting may name a *builder* instead of a built-in family: `path/to/file.py:build`,
`package.module:build`, or the name of an entry point in the `tradeoff_bench.models` group. The
builder takes no arguments and returns a fresh `nn.Module` that maps the task's model input to its
model output (the README's model contracts); the suite never imports itself into the user's code.

Knobs. Torch-Pruning's dependency graph of the full model (`core.pruning_graph.Pruner`, which
also leaves out the output layer and any group whose removal breaks the forward pass) gives every
group of coupled channels: a layer's outputs with their norms, residual partners and consumers. The
graph sees an RNN as one operator from its input to its output and state, and torchaudio's
`MelScale` as a layer whose bands are its output channels (`core.pruning_mel`). A group becomes a
knob, named after its first layer (its root's module name) with the root's output channels as its
full width, when a gate on its channels is exact, which is tried, not inferred (`_gates_exactly`:
the full model gated to half the channels must compute what the model with the other half removed
computes). The gate is tried first at the group's readers (the layers that read its channels,
`prune_in_channels` dependencies: a convolution, a Linear, an RNN's input), where every reader sees
the channels whole on one axis (1 for a convolution, the last for a Linear or RNN) and no norm over
channels (LayerNorm, GroupNorm) sits between; then at its writers' outputs (the layers that produce
them: for channels that an operator contracts before any layer reads them, as attention's query and
key meet in a product). An RNN's hidden size is a knob when the RNN is one batch-first,
unidirectional GRU or LSTM layer without projection: its gate acts inside the recurrence
(`tasks.rnn.gated_rnn`), which the RNN runs once gated (below). Readers that see a fraction of the
group's channels, each pooled from the same number of the root's (a max-feature-map), make a
*pooled* knob (`Knob.pooled`): its width is the readers' channels, its trailing pools are removed
from the readers' side, and where the pools are halves rather than pairs its writers' tensors are
sliced per half (`Knob.stacked`). A group whose removal breaks the forward pass because the layers
after its root see its channels as rows of a spatial axis (mel bands under 2-D convolutions over
(band, time)) is tried as a *row* knob (`_row_knob`, `Knob.flattened`). Other groups are named in
`notes` and kept at full width by every method that learns or sets widths: another RNN's hidden
size, a group flattened into a Linear, a norm over channels, a pooling in any other order, a group
whose removal breaks the forward pass.

Widths. The model at widths is the freshly built full model with each knob's trailing channels
removed by Torch-Pruning (every coupled tensor at once), so its tensors are the full model's
leading slices under the same names (per half, on a stacked writer's output axis), the contract
`methods.slicing` extracts by.

Gates. `gate(knob, width, axis)` is made once per knob and applied, by a forward pre-hook, to the
input of every layer that reads the knob's channels (a channel gated to 0 there is a channel
removed, whatever ran between the producer and its readers: a BatchNorm's shift, an activation),
or by a forward hook to the output of every layer that writes them (`Knob.writers`). An RNN
knob's gate acts in the RNN instead: the RNN becomes its gated subclass (`GatedGRU`, `GatedLSTM`),
whose forward runs `gated_rnn` from a zero state and returns what nn.GRU / nn.LSTM return, the
final state being the gated last output (an LSTM's cell state is returned as NaN: a model that
reads it cannot be gated exactly). Each gate module lives in one of its layers, in a slot of its own
so the user's parameter names do not change and a container that runs its children in turn (an
`nn.Sequential`) never runs a gate on its own: the first reader's `knob_gate` (an RNN's hidden
size: the RNN's `knob_gate`; the knob an RNN reads: its `knob_input_gate`), or the first writer's
`knob_output_gate`; a row knob's, its last layer's `knob_rows_gate`. The hooks are module-level
objects, so the model deep-copies and pickles.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from tradeoff_bench.core.registry import SettingError

if TYPE_CHECKING:
    from tradeoff_bench.core.pruning_graph import Pruner

ENTRY_POINT_GROUP = "tradeoff_bench.models"
GATE_SLOT = "knob_gate"
INPUT_GATE_SLOT = "knob_input_gate"
"""An RNN's slot for the gate of the knob it reads (`GATE_SLOT` is its hidden size's)."""
OUTPUT_GATE_SLOT = "knob_output_gate"
"""A writer's slot for the gate of a knob gated at its writers' outputs (`Knob.writers`)."""
ROWS_GATE_SLOT = "knob_rows_gate"
"""The slot, in the last layer before its flattening reader, of a knob whose channels are rows (`Knob.flattened`)."""
CHANNEL_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
TRIALS = 3
"""Exactness trials of a knob: on the model's own weights, then on two re-drawn sets (`_gates_exactly`)."""
STACKED_ATTR = "out_channel_blocks"
"""An attribute set on a user's layer whose output channels hold a knob's pools block-major: the
number of blocks its output axis holds (`methods.slicing.stacked_blocks` reads it)."""

Builder = Callable[[], nn.Module]


def check_model_name(model: str, families: tuple[str, ...]) -> None:
    """A SettingError, at once, for a `model` that is neither one of `families` nor names a builder
    (`FILE.py:FUNCTION`, `MODULE:FUNCTION`, an installed entry point): a typo is not run as a model."""
    if model in families or (":" in model and model.strip(":")) or _entry_points(model):
        return
    raise SettingError(
        f"model {model!r} is not one of {', '.join(families)}, nor a builder: FILE.py:FUNCTION, "
        f"MODULE:FUNCTION or an entry point of the {ENTRY_POINT_GROUP!r} group"
    )


def _entry_points(name: str) -> list[importlib.metadata.EntryPoint]:
    return [e for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if e.name == name]


def load_builder(spec: str) -> Builder:
    """The builder named by `spec` (`FILE.py:NAME`, `MODULE:NAME` or an entry point's name); a
    SettingError in one line when it cannot be had."""
    path, colon, name = spec.rpartition(":")
    if not colon:
        found = _entry_points(spec)
        if not found:
            raise SettingError(
                f"model {spec!r} is neither a built-in family nor a builder: give FILE.py:FUNCTION, "
                f"MODULE:FUNCTION or an entry point of the {ENTRY_POINT_GROUP!r} group"
            )
        builder = found[0].load()
    else:
        module = _import_file(Path(path)) if path.endswith(".py") else _import_module(path)
        builder = getattr(module, name, None)
        if builder is None:
            raise SettingError(f"model {spec!r}: {path} has no {name!r}")
    if not callable(builder):
        raise SettingError(f"model {spec!r} is not callable")
    return builder


def _import_file(path: Path) -> object:
    if not path.is_file():
        raise SettingError(f"model builder file {path} does not exist")
    resolved = path.resolve()
    name = f"tradeoff_bench_user_model_{hashlib.sha1(str(resolved).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise SettingError(f"model builder file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise SettingError(f"model builder file {path} failed to import: {type(err).__name__}: {err}") from None
    return module


def _import_module(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise SettingError(f"model builder module {name!r} cannot be imported: {err}") from None


@dataclass(frozen=True)
class Knob:
    """One group of coupled channels that a method may narrow."""

    name: str
    """Its root layer's module name."""
    width: int
    axis: int
    """The channel axis of the tensor its readers see (1: convolutions, -1: Linear, RNN input)."""
    readers: tuple[str, ...]
    """Module names of the layers that read its channels (where its gate is applied)."""
    recurrent: bool = False
    """An RNN's hidden size: its gate acts inside the RNN (`readers` is the RNN alone)."""
    writers: tuple[str, ...] = ()
    """Where not empty, the gate acts on the outputs of these layers (the group's producers) instead
    of its readers' inputs, on axis `axis`: for channels that an operator between them contracts
    (attention's query and key meet in a product no layer reads)."""
    pooled: int = 1
    """Output channels of its root layer per channel its readers see: 2 behind a max-feature-map,
    which keeps the larger of a channel pair. Such a knob's width is its readers' channels, and its
    model at a width is pruned from its readers' inputs (`_shrink`)."""
    stacked: tuple[str, ...] = ()
    """Layers whose output channels hold the knob's pools block-major (knob channel i is their
    channels i, i + width, …: a max-feature-map over the two halves), so their tensors are sliced
    per block (`STACKED_ATTR`); pairs laid channel-major (2i, 2i + 1) need nothing."""
    flattened: str = ""
    """Where set, the layers after the root see its channels as rows of a spatial axis (a mel
    filterbank's bands under 2-D convolutions over (band, time)) until `flattened` reads them
    flattened, `row_features` adjacent features per row. Its gate acts on axis `axis` at the inputs
    of `readers` (the convolutions that slide over the rows) and at the output of `writers[0]` (the
    last layer before `flattened`); its model at a width keeps the root's leading channels (with the
    norms that follow them) and `flattened`'s inputs of those rows (`_shrink_rows`)."""
    row_features: int = 0


@dataclass
class UserFamily:
    """A user's model builder, checked against the task's model contract (`reference`: a built-in
    model of the task, whose output on the same input is what the user's must look like), with the
    width knobs found on its full model."""

    spec: str
    example: torch.Tensor
    reference: nn.Module
    builder: Builder = field(init=False)
    knobs: dict[str, Knob] = field(init=False)
    notes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.builder = load_builder(self.spec)
        with torch.random.fork_rng(devices=[]):  # the same knobs whatever ran before (the trials use its weights)
            torch.manual_seed(0)
            model = self.fresh()
        check_contract(self.spec, model, self.reference, self.example)
        self.knobs, self.notes = find_knobs(model, self.example)
        if not self.knobs:
            why = "; ".join(self.notes) if self.notes else "its only prunable layer is the output layer"
            raise SettingError(f"model {self.spec!r} has no width knob, so no method can narrow it ({why})")

    def fresh(self) -> nn.Module:
        """A freshly built full model (initialised from the global generators, which callers seed)."""
        model = self.builder()
        if not isinstance(model, nn.Module):
            raise SettingError(f"model {self.spec!r} returned {type(model).__name__}, not a torch.nn.Module")
        return model

    def build(self, widths: Mapping[str, int], gate: Callable[[str, int, int], nn.Module] | None) -> nn.Module:
        """The model at `widths` (knob -> width; every knob given), with `gate`'s modules at its knobs."""
        model = self.fresh()
        narrower = {k: w for k, w in widths.items() if w < self.knobs[k].width}
        if narrower:
            _shrink(model, self.example, narrower, self.knobs)
        modules = dict(model.named_modules())
        for knob in self.knobs.values():
            for layer in knob.stacked:
                setattr(modules[layer], STACKED_ATTR, knob.pooled)
        if gate is not None:
            attach_gates(model, {k: gate(k, widths[k], self.knobs[k].axis) for k in self.knobs}, self.knobs)
        return model


def check_contract(spec: str, model: nn.Module, reference: nn.Module, example: torch.Tensor) -> None:
    """A SettingError in one line unless `model` maps a batch of two inputs to an output of the
    shape and dtype that the task's `reference` model gives."""
    batch = torch.cat([example, example])
    with torch.no_grad():
        wanted = reference.eval()(batch)
        try:
            got = model.eval()(batch)
        except Exception as err:
            raise SettingError(
                f"model {spec!r} fails on the task's input {_shape(batch)}: {type(err).__name__}: {err}"
            ) from None
    if not torch.is_tensor(got) or got.shape != wanted.shape or got.dtype != wanted.dtype:
        found = _shape(got) if torch.is_tensor(got) else type(got).__name__
        raise SettingError(
            f"model {spec!r}: on the task's input {_shape(batch)} it returned {found}; "
            f"the task needs {_shape(wanted)} (README, the model contracts)"
        )


def _shape(tensor: torch.Tensor) -> str:
    return f"{tuple(tensor.shape)} {str(tensor.dtype).removeprefix('torch.')}"


def find_knobs(model: nn.Module, example: torch.Tensor) -> tuple[dict[str, Knob], list[str]]:
    """The knobs of `model` (name -> Knob, in module order) and a note per group that is not one."""
    from tradeoff_bench.core.pruning_graph import PRUNABLE, Pruner, handler_name

    pruner = Pruner(copy.deepcopy(model), example, keep_pooled=True)
    names = pruner.names
    seen, _ = _module_inputs(pruner.model, example)
    layers = {name: m for name, m in pruner.model.named_modules() if isinstance(m, PRUNABLE)}
    layers_set = set(layers.values())
    knobs: dict[str, Knob] = {}
    notes = []
    for name in sorted(pruner.unsafe):  # the graph mis-reads them; as rows of a spatial axis they may be a knob
        rows = _row_knob(model, example, name)
        if isinstance(rows, Knob) and _gates_exactly(model, example, rows, presumed=False):
            knobs[name] = rows
        else:
            why = rows if isinstance(rows, str) else "a gate on its rows is not the model without them"
            notes.append(f"{name}: not a knob (removing a channel breaks the forward pass; as rows, {why})")
    for group in pruner.groups:
        root = group[0].dep.target.module
        name, width = names[root], len(group[0][1])
        handlers = [(handler_name(dep), dep.target.module) for dep, _ in group]
        readers = tuple(dict.fromkeys(names[m] for h, m in handlers if h == "prune_in_channels" and m in names))
        members = [m for _, m in handlers if m in names]  # layers; the graph's operator nodes have no name
        reason = _not_gateable(root, members, readers, width, seen, names)
        if isinstance(root, nn.RNNBase) and not reason:
            knobs[name] = Knob(name, width, -1, (name,), recurrent=True)
            continue
        sites = []
        written = {names[m] for h, m in handlers if h == "prune_out_channels" and m in layers_set}
        writers = tuple(layer for layer in layers if layer in written)
        pooled = 1
        if not reason:
            axis = _axis(layers[readers[0]])
            pooled = width // seen[readers[0]][axis]
            stacked = _pool_layout(pruner, layers[readers[0]], width // pooled, pooled) if pooled > 1 else ()
            if stacked is None:
                reason = f"{readers[0]} reads its channels pooled in an order that is neither pairs nor halves"
            else:
                sites.append(Knob(name, width // pooled, axis, readers, pooled=pooled, stacked=stacked))
        rnn_writes = any(isinstance(layers[w], nn.RNNBase) for w in writers)  # a tuple out: no output gate
        if pooled == 1 and writers and not rnn_writes and len({_out_axis(layers[w]) for w in writers}) == 1:
            sites.append(Knob(name, width, _out_axis(layers[writers[0]]), readers, writers=writers))
        exact = next((k for k in sites if _gates_exactly(model, example, k, presumed=not k.writers)), None)
        if exact is None:
            reason = (
                reason
                or "a gate at the layers that read it, or at those that write it, is not the model without those channels"
            )
            notes.append(f"{name}: not a knob ({reason})")
            continue
        knobs[name] = exact
    grouped = {  # layers whose output channels some group holds (a layer that only reads one is not settled)
        names[dep.target.module]
        for group in pruner.groups
        for dep, _ in group
        if dep.target.module in names and handler_name(dep) == "prune_out_channels"
    }
    settled = grouped | {names[m] for m in pruner.ignored} | pruner.unsafe
    for layer, module in pruner.model.named_modules():
        if isinstance(module, PRUNABLE) and layer not in settled and not _groupable(pruner.graph, module):
            notes.append(f"{layer}: not a knob (Torch-Pruning's graph cannot follow its output channels)")
    return {layer: knobs[layer] for layer, _ in model.named_modules() if layer in knobs}, notes


class _Seen(Exception):
    """Stops a forward pass once a hook has seen what it needs."""


def _row_knob(model: nn.Module, example: torch.Tensor, name: str) -> Knob | str:
    """The knob of root layer `name` whose channels the layers after it see as rows (`Knob.flattened`),
    read off the model with the root one channel narrower: the layers whose input loses one entry on
    one axis carry the rows, and the first layer that then fails reads them flattened. Why not, when
    they are not rows."""
    from tradeoff_bench.core.pruning_graph import PRUNABLE, dependency_graph

    narrow = copy.deepcopy(model)
    graph = dependency_graph(narrow, example)
    root = narrow.get_submodule(name)
    width = graph.get_out_channels(root)
    try:
        followers = _row_followers(graph, narrow, root, width - 1, width)
        for dep, idxs in followers:
            dep(idxs)
    except Exception as err:  # a layer the pruners cannot narrow (e.g. a bidirectional RNN)
        return f"its layers cannot lose a channel ({type(err).__name__})"
    full, _ = _module_inputs(model, example)
    shapes, failed = _module_inputs(narrow, example)
    names = {m: n for n, m in narrow.named_modules()}
    pruned = {names[dep.target.module] for dep, _ in followers}
    leaves = {n for n, m in narrow.named_modules() if not any(True for _ in m.children())}
    chain = {}
    for layer, shape in shapes.items():
        before = full.get(layer)
        if layer == failed or layer in pruned or layer not in leaves or before == shape:
            continue
        axes = [d for d, (a, b) in enumerate(zip(before or (), shape)) if a != b]
        if before is None or len(before) != len(shape) or len(axes) != 1 or before[axes[0]] - shape[axes[0]] != 1:
            return f"{layer} sees them reshaped"
        chain[layer] = axes[0]
    reader = narrow.get_submodule(failed) if failed else None
    if not chain or not isinstance(reader, PRUNABLE) or failed not in full:
        return "no layer reads them flattened after layers that see them as rows"
    if len(set(chain.values())) > 1 or len({len(full[layer]) for layer in chain}) > 1:
        return "the layers after it see them on different axes"
    axis, last = next(iter(chain.values())), list(chain)[-1]
    features = full[failed][_axis(reader)]
    per_row = features - shapes[failed][_axis(reader)]
    if per_row < 1 or features != per_row * width or not _reads_rows(model, example, last, failed, axis, per_row):
        return f"{failed} does not read each as {per_row} adjacent features, in order"
    convs = tuple(layer for layer in chain if isinstance(narrow.get_submodule(layer), nn.modules.conv._ConvNd))
    return Knob(name, width, axis, convs, writers=(last,), flattened=failed, row_features=per_row)


def _row_followers(
    graph: Any, model: nn.Module, root: nn.Module, start: int, width: int
) -> list[tuple[Any, list[int]]]:
    """The dependencies of `root`'s group that remove its output channels `start`.. and those of the
    layers that keep them as channels (its norms): not the readers the graph mis-couples to them."""
    from tradeoff_bench.core.pruning_graph import handler_name

    handler = graph.get_pruner_of_module(root).prune_out_channels
    group = graph.get_pruning_group(root, handler, list(range(start, width)))
    layers = set(model.modules())
    return [
        (dep, idxs) for dep, idxs in group if handler_name(dep) == "prune_out_channels" and dep.target.module in layers
    ]


def _module_inputs(model: nn.Module, example: torch.Tensor) -> tuple[dict[str, tuple[int, ...]], str | None]:
    """Module name -> the shape of its first input on `example`, for every module that ran in the
    order they started, and the innermost module that raised where the forward pass failed."""
    from tradeoff_bench.core.pruning_graph import run_hooked

    shapes: dict[str, tuple[int, ...]] = {}
    running: list[str] = []

    def enter(name: str) -> Callable[[nn.Module, tuple[object, ...]], None]:
        def hook(module: nn.Module, args: tuple[object, ...]) -> None:
            if args and torch.is_tensor(args[0]):
                shapes.setdefault(name, tuple(args[0].shape))
            running.append(name)

        return hook

    def leave(module: nn.Module, args: tuple[object, ...], output: object) -> None:
        running.pop()

    modules = list(model.named_modules())
    hooks = [m.register_forward_pre_hook(enter(n)) for n, m in modules]
    hooks += [m.register_forward_hook(leave) for _, m in modules]
    try:
        run_hooked(model, example, hooks)
    except Exception:
        return shapes, running[-1] if running else None
    return shapes, None


def _reads_rows(model: nn.Module, example: torch.Tensor, last: str, reader: str, axis: int, per_row: int) -> bool:
    """Whether `reader` reads the rows of `last`'s output (axis `axis`) in order, `per_row` adjacent
    features each: tried by numbering the rows and reading the numbers back."""
    from tradeoff_bench.core.pruning_graph import run_hooked

    seen: list[torch.Tensor] = []

    def number(module: nn.Module, args: tuple[object, ...], output: torch.Tensor) -> torch.Tensor:
        shape = [1] * output.dim()
        shape[axis] = -1
        return torch.arange(1, output.shape[axis] + 1, dtype=output.dtype).view(shape).expand_as(output).clone()

    def read(module: nn.Module, args: tuple[object, ...]) -> None:
        seen.append(args[0])  # type: ignore[arg-type]
        raise _Seen

    hooks = [
        model.get_submodule(last).register_forward_hook(number),
        model.get_submodule(reader).register_forward_pre_hook(read),
    ]
    try:
        run_hooked(model, example, hooks)
    except _Seen:
        pass
    if not seen:
        return False
    rows = seen[0].movedim(_axis(model.get_submodule(reader)), -1)
    want = torch.arange(1, rows.shape[-1] // per_row + 1, dtype=rows.dtype).repeat_interleave(per_row)
    return rows.shape[-1] == want.numel() and bool(torch.equal(rows, want.expand_as(rows)))


def _groupable(graph: object, module: nn.Module) -> bool:
    """Whether Torch-Pruning's graph gives `module` a group of coupled output channels (it raises
    where it cannot follow them, e.g. through an RNN's tuple output)."""
    try:
        handler = graph.get_pruner_of_module(module).prune_out_channels  # type: ignore[attr-defined]
        channels = graph.get_out_channels(module)  # type: ignore[attr-defined]
        graph.get_pruning_group(module, handler, list(range(channels)))  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _not_gateable(
    root: nn.Module,
    members: list[nn.Module],
    readers: tuple[str, ...],
    width: int,
    seen: Mapping[str, tuple[int, ...]],
    names: Mapping[nn.Module, str],
) -> str:
    """Why a gate at the group's readers would not be exact ("" when it would)."""
    if isinstance(root, nn.RNNBase) and not _gated_in_recurrence(root):
        return (
            "an RNN's hidden size, gated inside its recurrence only for one batch-first, unidirectional "
            "GRU or LSTM layer without projection"
        )
    norms = sorted({names[m] for m in members if isinstance(m, CHANNEL_NORMS)})
    if norms:
        return f"normalised over channels by {', '.join(norms)}"
    if not readers:
        return "no layer reads its channels"
    modules = {names[m]: m for m in members}
    axes, counts = set(), set()
    for reader in readers:
        module, shape = modules.get(reader), seen.get(reader)
        if module is None or shape is None:
            return f"{reader} reads it where the trace cannot follow"
        axis = _axis(module)
        if shape[axis] != width and (shape[axis] > width or width % shape[axis]):  # fewer: pooled (Knob.pooled)
            return f"{reader} reads it reshaped ({shape[axis]} features for {width} channels)"
        axes.add(axis)
        counts.add(shape[axis])
    if len(axes) > 1:
        return "its readers see its channels on different axes"
    return "" if len(counts) == 1 else "its readers see different numbers of its channels"


def _pool_layout(pruner: Pruner, reader: nn.Module, width: int, pooled: int) -> tuple[str, ...] | None:
    """For a knob whose `reader` sees `width` channels, each pooled from `pooled` of its writers':
    the writers that hold them block-major (channel 0 is their 0, width, 2·width, …; `Knob.stacked`),
    () where every writer holds them channel-major (0, 1, …, pooled − 1), None for any other order."""
    from tradeoff_bench.core.pruning_graph import handler_name

    graph = pruner.graph
    group = graph.get_pruning_group(reader, graph.get_pruner_of_module(reader).prune_in_channels, [0])
    written = {  # the layers before the pooling (those after it, a norm, hold channel 0 alone)
        pruner.names[dep.target.module]: sorted(idxs)
        for dep, idxs in group
        if handler_name(dep) == "prune_out_channels" and dep.target.module in pruner.names and idxs != [0]
    }
    if all(idxs == list(range(pooled)) for idxs in written.values()):
        return ()
    if all(idxs == list(range(0, width * pooled, width)) for idxs in written.values()):
        return tuple(written)
    return None


def _gated_in_recurrence(rnn: nn.RNNBase) -> bool:
    return (
        type(rnn) in _GATED
        and rnn.batch_first
        and rnn.num_layers == 1
        and not rnn.bidirectional
        and not getattr(rnn, "proj_size", 0)
    )


def _axis(module: nn.Module) -> int:
    """The channel axis of a reader's input."""
    return 1 if isinstance(module, nn.modules.conv._ConvNd) else -1


def _out_axis(module: nn.Module) -> int:
    """The channel axis of a writer's output (a mel filterbank's: its bands, before time)."""
    from tradeoff_bench.core.pruning_mel import MelScale

    return -2 if isinstance(module, MelScale) else _axis(module)


def _gates_exactly(model: nn.Module, example: torch.Tensor, knob: Knob, presumed: bool) -> bool:
    """Whether `model` with `knob`'s gate keeping its leading half computes what the model with the
    other half removed computes (eval mode, a random non-negative batch of two, which a power
    spectrogram also is): the promise every method's extraction rests on, tried rather than inferred
    from the graph. A trial in which removing the channels changes nothing tells nothing (a layer
    initialised to zero, as residual branches often are; a deep ReLU network's dead channels), so it
    is tried again on re-drawn weights (`_redrawn`); where those tell nothing either, it passes only
    where the graph alone says the gate is exact (`presumed`: readers that see the channels whole,
    no norm over them)."""
    for draw in range(TRIALS):
        close, matters = _trial(model if draw == 0 else _redrawn(model, draw), example, knob)
        if not close:
            return False
        if matters:
            return True
    return presumed


def _trial(model: nn.Module, example: torch.Tensor, knob: Knob) -> tuple[bool, bool]:
    """(the gated model computes the sliced one, removing the channels changes the output) on `model`'s
    weights, with random norm statistics."""
    width = max(1, knob.width // 2)
    full = _with_random_statistics(model)
    sliced = copy.deepcopy(full)
    _shrink(sliced, example, {knob.name: width}, {knob.name: knob})
    if any(p.numel() == 0 for p in sliced.parameters()):
        return False, True  # the graph mis-read an operator and emptied a layer
    gated = copy.deepcopy(full)
    attach_gates(gated, {knob.name: _KeepLeading(knob.width, width, knob.axis)}, {knob.name: knob})
    batch = 3 * torch.randn((2, *example.shape[1:]), generator=torch.Generator().manual_seed(0)).abs()
    with torch.no_grad():
        want, got, ungated = sliced.eval()(batch), gated.eval()(batch), full.eval()(batch)
    tolerance = 1e-5 * (1 + want.abs().max().item())
    matters = (ungated - want).abs().max().item() > 100 * tolerance
    return bool(torch.allclose(got, want, rtol=1e-4, atol=tolerance)), matters


def _redrawn(model: nn.Module, seed: int) -> nn.Module:
    """A copy of `model` with every parameter drawn afresh (seeded): weights with variance 2 / fan-in
    (He's, which keeps ReLU activations alive through depth), vectors (biases, norm scales) from
    N(0, 0.5²)."""
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                std = (2 / parameter[0].numel()) ** 0.5
            else:
                std = 0.5
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    return model


class _KeepLeading(nn.Module):
    """A gate that keeps the leading `width` of `full` channels on axis `axis` and zeroes the rest."""

    mask: torch.Tensor

    def __init__(self, full: int, width: int, axis: int) -> None:
        super().__init__()
        self.register_buffer("mask", (torch.arange(full) < width).float())
        self.axis = axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.axis] = -1
        return x * self.mask.view(shape)

    def channel_scale(self) -> torch.Tensor:
        """The mask, for `tasks.rnn.gated_rnn`."""
        return self.mask


def _with_random_statistics(model: nn.Module) -> nn.Module:
    """A copy of `model` whose batch norms hold random statistics and affine parameters (seeded), so a
    channel that leaks past a gate through a norm's shift shows in its output."""
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        mean, var = getattr(module, "running_mean", None), getattr(module, "running_var", None)
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and mean is not None and var is not None:
            size = mean.shape
            mean.copy_(torch.randn(size, generator=generator))
            var.copy_(torch.rand(size, generator=generator) * 1.5 + 0.5)
            if module.affine:
                module.weight.data.copy_(torch.randn(size, generator=generator))
                module.bias.data.copy_(torch.randn(size, generator=generator))
    return model


def _shrink(model: nn.Module, example: torch.Tensor, widths: Mapping[str, int], knobs: Mapping[str, Knob]) -> None:
    """Remove each knob's trailing channels (and every coupled tensor's) down to its width: its root
    layer's outputs, or a pooled knob's readers' inputs (`Knob.pooled`)."""
    from tradeoff_bench.core.pruning_graph import dependency_graph

    graph = dependency_graph(model, example)
    modules = dict(model.named_modules())
    pruning: list[Callable[[], object]] = []  # every group is read off the unpruned model first
    for name, width in widths.items():
        knob = knobs[name]
        if knob.flattened:
            pruning.append(functools.partial(_shrink_rows, graph, model, knob, width))
            continue
        if knob.pooled > 1:
            reader = modules[knob.readers[0]]
            handler = graph.get_pruner_of_module(reader).prune_in_channels
            pruning.append(graph.get_pruning_group(reader, handler, list(range(width, knob.width))).prune)
            continue
        root = modules[name]
        handler = graph.get_pruner_of_module(root).prune_out_channels
        pruning.append(graph.get_pruning_group(root, handler, list(range(width, graph.get_out_channels(root)))).prune)
    for prune in pruning:
        prune()


def _shrink_rows(graph: Any, model: nn.Module, knob: Knob, width: int) -> None:
    """Keep a row knob's leading `width` channels: its root's and norms' outputs, its flattening
    reader's inputs of those rows (the layers between slide over the rows and do not change)."""
    for dep, idxs in _row_followers(graph, model, model.get_submodule(knob.name), width, knob.width):
        dep(idxs)
    reader = model.get_submodule(knob.flattened)
    removed = list(range(width * knob.row_features, knob.width * knob.row_features))
    graph.get_pruner_of_module(reader).prune_in_channels(reader, removed)


class GateInput:
    """A forward pre-hook that passes a layer's first input through a knob's gate."""

    def __init__(self, gate: nn.Module) -> None:
        self.gate = gate

    def __call__(self, module: nn.Module, args: tuple[object, ...]) -> tuple[object, ...]:
        return (self.gate(args[0]), *args[1:])


class GateOutput:
    """A forward hook that passes a layer's output through a knob's gate."""

    def __init__(self, gate: nn.Module) -> None:
        self.gate = gate

    def __call__(self, module: nn.Module, args: tuple[object, ...], output: torch.Tensor) -> torch.Tensor:
        return self.gate(output)


def attach_gates(model: nn.Module, gates: Mapping[str, nn.Module], knobs: Mapping[str, Knob]) -> None:
    """Put each knob's gate module in its slot (module docstring) and before every layer that reads
    its channels, or after every layer that writes them."""
    modules = dict(model.named_modules())
    for name, knob in knobs.items():
        if knob.flattened:  # rows: gated where a layer slides over them and before they are flattened
            modules[knob.writers[0]].add_module(ROWS_GATE_SLOT, gates[name])
            modules[knob.writers[0]].register_forward_hook(GateOutput(gates[name]))
            for reader in knob.readers:
                modules[reader].register_forward_pre_hook(GateInput(gates[name]))
            continue
        if knob.writers:
            modules[knob.writers[0]].add_module(OUTPUT_GATE_SLOT, gates[name])
            for writer in knob.writers:
                modules[writer].register_forward_hook(GateOutput(gates[name]))
            continue
        first = modules[knob.readers[0]]
        slot = INPUT_GATE_SLOT if isinstance(first, nn.RNNBase) and not knob.recurrent else GATE_SLOT
        first.add_module(slot, gates[name])
        if knob.recurrent:
            modules[name].__class__ = _GATED[type(modules[name])]
            continue
        for reader in knob.readers:
            modules[reader].register_forward_pre_hook(GateInput(gates[name]))


def _gated_forward(rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, hx: object) -> tuple[torch.Tensor, object]:
    """What nn.GRU / nn.LSTM return, with the knob's gate inside the recurrence (module docstring)."""
    from tradeoff_bench.tasks.rnn import gated_rnn

    gate = rnn.get_submodule(GATE_SLOT)
    base = next(cls for cls in type(rnn).__mro__ if cls in _GATED)
    if isinstance(gate, nn.Identity):
        return base.forward(rnn, inputs, hx)
    if hx is not None:
        raise NotImplementedError(f"{type(rnn).__name__} with a gated hidden size starts from a zero state")
    output = gated_rnn(rnn, inputs, gate)
    last = output[:, -1].unsqueeze(0)
    return output, last if rnn.mode == "GRU" else (last, torch.full_like(last, float("nan")))


class GatedGRU(nn.GRU):
    """An nn.GRU whose hidden size is a gated knob (`attach_gates`)."""

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None):
        return _gated_forward(self, input, hx)


class GatedLSTM(nn.LSTM):
    """An nn.LSTM whose hidden size is a gated knob (`attach_gates`)."""

    def forward(self, input: torch.Tensor, hx: object = None):
        return _gated_forward(self, input, hx)


_GATED: dict[type[nn.Module], type[nn.Module]] = {nn.GRU: GatedGRU, nn.LSTM: GatedLSTM}
"""An RNN type -> its gated subclass."""
