"""Structured pruning on Torch-Pruning's dependency graph: groups, magnitude scores, safe removal.

A *group* is every tensor slice coupled to one layer's output channels (the consumer's inputs, a
BatchNorm, a residual partner). Groups whose removal breaks the model's forward pass (an operator
the graph mis-reads, e.g. a channel-pair max that needs an even count) are found once by trial on
a copy and left unpruned. A group pooled by a max-feature-map over channel halves (channel i with
i + C/2) is rooted at the layer that reads the pools, so one removed channel is one whole pool.
After every removal the per-layer widths are checked against a floor, so a layer that collapses (a
mis-read reshape dropping half a layer) is an error, not a broken model.
A per-group cap (`max_ratio`, Torch-Pruning's `max_pruning_ratio`) bounds the share of a group's
original channels that pruning may remove; a capped group stops being pruned and the rest go on.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping

import torch
import torch_pruning as tp
from torch import nn
from torch.utils.hooks import RemovableHandle

from tradeoff_bench.core.pruning_mel import MelScale, mel_pruners
from tradeoff_bench.core.pruning_rnn import rnn_pruners

PRUNABLE = (nn.Linear, nn.modules.conv._ConvNd, nn.RNNBase, MelScale)
NORMALIZERS = ("mean", "max", "sum", "standarization", "none")
"""Torch-Pruning's group-importance normalisations (`GroupMagnitudeImportance(normalizer=...)`, its
own spelling of "standardization": (s − min) / (max − min)); "none" compares raw L2 norms."""


class LayerCollapseError(RuntimeError):
    """A layer lost more channels than pruning meant to remove, or fell below the width floor."""


def output_layers(model: nn.Module, example: torch.Tensor) -> list[nn.Module]:
    """The last prunable layer run in the forward pass: its outputs are the model's, never pruned."""
    order: list[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda mod, i, o: order.append(mod)) for m in model.modules() if isinstance(m, PRUNABLE)
    ]
    run_hooked(model, example, hooks)
    return order[-1:]


def run_hooked(model: nn.Module, example: torch.Tensor, hooks: list[RemovableHandle]) -> None:
    """One forward pass of `model` on `example` (eval mode, no gradients) for its `hooks` to see; they
    are removed afterwards, whatever happens."""
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for hook in hooks:
            hook.remove()


def dependency_graph(model: nn.Module, example: torch.Tensor) -> tp.DependencyGraph:
    """Torch-Pruning's dependency graph of `model` (with the suite's RNN and mel-filterbank pruners),
    traced on a positive random batch of two shaped like `example` (a batch of one zero input makes the
    graph mis-read shapes), each RNN seen as one operator (`_rnn_as_one_operator`)."""
    trace = torch.rand((2, *example.shape[1:]), generator=torch.Generator().manual_seed(0))
    trace.requires_grad_(True)  # so a front end without weights (a mel filterbank) is in the autograd graph
    hooks = [m.register_forward_hook(_rnn_as_one_operator) for m in model.modules() if isinstance(m, nn.RNNBase)]
    try:
        return tp.DependencyGraph().build_dependency(
            model, example_inputs=trace, customized_pruners={**rnn_pruners(), **mel_pruners()}, verbose=False
        )
    finally:
        for hook in hooks:
            hook.remove()


def _rnn_as_one_operator(rnn: nn.RNNBase, args: tuple[object, ...], output: object) -> object:
    """The RNN's output, re-derived from its input in one channel-preserving step for the trace.

    Torch-Pruning finds a layer's inputs through the autograd node of its output, and an RNN run on
    CPU leaves its unrolled steps there (splits and stacks the graph mis-reads), so the channels of a
    layer feeding an RNN could not be followed. Here the output sequence is the real one (detached)
    plus the input's mean over its features, and the final state is read from that sequence: the graph
    sees input -> RNN -> output and state, with the RNN's own values."""
    inputs = args[0] if args else None
    if not torch.is_tensor(inputs) or not isinstance(output, tuple) or not torch.is_tensor(output[0]):
        return None  # a packed sequence: traced as it is
    sequence = output[0].detach() + inputs.mean(-1, keepdim=True)
    last = (sequence[:, -1] if rnn.batch_first else sequence[-1]).mean(-1, keepdim=True)  # any state's width
    state = output[1]
    if isinstance(state, tuple):
        return sequence, tuple(s.detach() + last for s in state)
    return sequence, state.detach() + last


def layer_widths(model: nn.Module) -> dict[str, int]:
    """Module name -> output channels of every Linear, convolution, RNN and mel filterbank."""
    widths = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            widths[name] = module.out_features
        elif isinstance(module, nn.modules.conv._ConvNd):
            widths[name] = module.out_channels
        elif isinstance(module, nn.RNNBase):
            widths[name] = module.hidden_size
        elif isinstance(module, MelScale):
            widths[name] = module.fb.shape[1]
    return widths


def check_widths(before: dict[str, int], after: dict[str, int], removed: dict[str, int], floor: int) -> None:
    """Every layer keeps ≥ `floor` channels and loses at most what its group was meant to lose."""
    for name, width in after.items():
        lost = before[name] - width
        if width < floor or lost > removed.get(name, 0):
            raise LayerCollapseError(
                f"layer {name!r} went from {before[name]} to {width} channels (planned loss "
                f"{removed.get(name, 0)}, floor {floor}): the dependency graph mis-read an operator"
            )


def handler_name(dep: tp.Dependency) -> str:
    """The name of a dependency's pruning function (prune_out_channels, prune_in_channels)."""
    return getattr(dep.handler, "__name__", "")


def _kept_leading(layer: nn.Module, before: torch.Tensor | None, meant: int, width: int) -> bool:
    """Whether `layer`, pruned from `before` (its weight) to `width` output channels where `meant`
    were to stay, kept the leading ones: all it was meant to, or a leading slice of them."""
    if width == meant:
        return True
    weight = getattr(layer, "weight", None)
    return before is not None and torch.is_tensor(weight) and torch.equal(weight.detach(), before[:width])


@dataclasses.dataclass
class Pruner:
    """Magnitude pruning of one model in place, in small steps, global or per layer."""

    model: nn.Module
    example: torch.Tensor
    scope: str = "global"
    step_fraction: float = 0.05
    floor: int = 1
    max_ratio: float = 1.0
    """The largest share of a group's channels (as they are when the pruner is made) it may lose."""
    normalizer: str = "mean"
    """How a group's channel scores are normalised before ranking (`NORMALIZERS`)."""
    keep_pooled: bool = False
    """Keep the groups in `pooled` rooted at their first layer, as the knob finder inspects them. By
    default they are rooted at their first reader instead (`_pooled_groups`): ranked and removed
    from the root, a channel would take its partner along; from the reader's side one channel is one
    pool of the writer's."""

    def __post_init__(self) -> None:
        if not 0 < self.max_ratio <= 1:
            raise ValueError(f"max_ratio must be in (0, 1], got {self.max_ratio}")
        if self.normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {self.normalizer!r}")
        self.ignored = output_layers(self.model, self.example)
        self.pooled: set[str] = set()
        self._pools: dict[nn.Module, tuple[str, int]] = {}
        """A reader that roots a pooled group -> its writer's name and channels per pool."""
        self.unsafe = self._unsafe_roots()
        normalizer = None if self.normalizer == "none" else self.normalizer
        self.importance = tp.importance.GroupMagnitudeImportance(p=2, normalizer=normalizer)
        self._rebuild()
        self.keep = {self._root(g): self.kept(self._size(g)) * self._per(g) for g in self.groups}
        """Root layer name -> the fewest output channels it may keep (the floor or the cap's); a pooled
        group's root is its writer, whose channels are `_per` to each of the group's."""

    def on(self, model: nn.Module) -> Pruner:
        """A pruner of `model` (a copy of this one's model taken before some of its steps) with this
        one's settings and per-layer floors (the cap stays relative to the original widths)."""
        twin = dataclasses.replace(self, model=model)
        twin.keep = dict(self.keep)
        return twin

    def kept(self, size: int) -> int:
        """The fewest channels a group of `size` original channels may keep under the floor and cap."""
        return max(self.floor, size - math.floor(self.max_ratio * size + 1e-9))

    def _root(self, group: tp.Group) -> str:
        module = group[0].dep.target.module
        return self._pools[module][0] if module in self._pools else self.names[module]

    def _per(self, group: tp.Group) -> int:
        """The root layer's output channels per channel of the group (a pool's size, else 1)."""
        module = group[0].dep.target.module
        return self._pools[module][1] if module in self._pools else 1

    def _floor(self, group: tp.Group) -> int:
        kept = self.keep.get(self._root(group))
        return self.floor if kept is None else -(-kept // self._per(group))

    def _graph(self, model: nn.Module, ignored: list[nn.Module]) -> tp.DependencyGraph:
        return dependency_graph(model, self.example)

    def _groups(self, graph: tp.DependencyGraph, ignored: list[nn.Module]) -> list[tp.Group]:
        """One group per root layer (in module order), skipping roots the graph cannot group."""
        groups, covered = [], set()
        for module in graph.model.modules():
            if not isinstance(module, PRUNABLE) or module in ignored or module in covered:
                continue
            if module not in graph.module2node:
                continue
            try:
                handler = graph.get_pruner_of_module(module).prune_out_channels
                channels = graph.get_out_channels(module)
                group = graph.get_pruning_group(module, handler, list(range(channels)))
            except Exception:
                continue
            shrunk = {dep.target.module for dep, _ in group if handler_name(dep) == "prune_out_channels"}
            if shrunk & set(ignored):  # would shrink the model's output layer (or an unsafe one)
                continue
            covered |= shrunk
            groups.append(group)
        return groups

    def _rebuild(self) -> None:
        self.model.eval()
        left = self.unsafe if self.keep_pooled else self.unsafe | self.pooled
        ignored = self.ignored + [m for n, m in self.model.named_modules() if n in left]
        self.graph = self._graph(self.model, ignored)
        self.groups = self._groups(self.graph, ignored)
        self.names = {m: n for n, m in self.model.named_modules()}
        if not self.keep_pooled:
            self.groups += self._pooled_groups()

    def _pooled_groups(self) -> list[tp.Group]:
        """The groups of `pooled`, each rooted at its first reader's input channels (one per pool)."""
        self._pools = {}
        modules = dict(self.model.named_modules())
        fixed = set(self.ignored) | {modules[n] for n in self.unsafe}
        groups = []
        for name in sorted(self.pooled):
            writer = modules[name]
            handler = self.graph.get_pruner_of_module(writer).prune_out_channels
            channels = self.graph.get_out_channels(writer)
            reader = next(
                (
                    dep.target.module
                    for dep, _ in self.graph.get_pruning_group(writer, handler, list(range(channels)))
                    if handler_name(dep) == "prune_in_channels" and isinstance(dep.target.module, PRUNABLE)
                ),
                None,
            )
            if reader is None:
                continue
            inputs = self.graph.get_in_channels(reader)
            group = self.graph.get_pruning_group(
                reader, self.graph.get_pruner_of_module(reader).prune_in_channels, list(range(inputs))
            )
            if fixed & {dep.target.module for dep, _ in group if handler_name(dep) == "prune_out_channels"}:
                continue
            self._pools[reader] = (name, channels // inputs)
            groups.append(group)
        return groups

    def _unsafe_roots(self) -> set[str]:
        """Names of root layers whose group cannot lose a channel without breaking the forward pass,
        and collect in `pooled` those whose last channel takes a partner other than its neighbour
        along (a max-feature-map over halves: channel C − 1 goes with C/2 − 1; a max over adjacent
        pairs loses the last two, a leading slice, which magnitude prunes as one channel)."""
        names = {m: n for n, m in self.model.named_modules()}
        ignored_names = {names[m] for m in self.ignored}
        probe = self._groups(self._graph(self.model, self.ignored), self.ignored)
        unsafe = set()
        for group in probe:
            root = names[group[0].dep.target.module]
            trial = copy.deepcopy(self.model).eval()
            modules = dict(trial.named_modules())
            ignored = [modules[n] for n in ignored_names]
            graph = self._graph(trial, ignored)
            target = modules[root]
            try:
                with torch.no_grad():
                    channels = graph.get_out_channels(target)
                    if channels is None or channels <= self.floor:
                        raise ValueError("too narrow")
                    handler = graph.get_pruner_of_module(target).prune_out_channels
                    weight = getattr(target, "weight", None)
                    before = weight.detach().clone() if torch.is_tensor(weight) else None
                    graph.get_pruning_group(target, handler, [channels - 1]).prune()
                    trial(self.example)
                    if not _kept_leading(target, before, channels - 1, layer_widths(trial)[root]):
                        self.pooled.add(root)
            except Exception:
                unsafe.add(root)
        return unsafe

    def shrink_to(self, widths: Mapping[str, int]) -> None:
        """Remove each group's trailing channels until every layer has its width in `widths` (the
        `layer_widths` of a model pruned from this one): the structure its weights load into."""
        pruning = []
        for group in self.groups:
            root = group[0].dep.target.module
            width, size = widths.get(self._root(group)), self._size(group)
            if width is not None and width // self._per(group) < size:
                kept = width // self._per(group)
                pruning.append(self.graph.get_pruning_group(root, group[0].dep.handler, list(range(kept, size))))
        for group in pruning:
            group.prune()
        self._rebuild()
        found = layer_widths(self.model)
        if found != dict(widths):
            wrong = sorted(name for name in widths if found.get(name) != widths[name])
            raise LayerCollapseError(f"layers {wrong} did not shrink to the widths asked for")

    def prunable_channels(self) -> int:
        return sum(max(0, self._size(g) - self._floor(g)) for g in self.groups)

    def _size(self, group: tp.Group) -> int:
        return len(group[0][1])

    def step(self, limit: int | None = None) -> int:
        """Remove about `step_fraction` of the prunable channels (≥ 1), at most `limit` of them (the
        lowest-scored of the planned ones); returns how many were removed, 0 when nothing is left."""
        scores = []
        floors: dict[int, int] = {}
        for index, group in enumerate(self.groups):
            size, floors[index] = self._size(group), self._floor(group)
            if size <= floors[index]:
                continue
            imp = self.importance(group)
            if imp is None:
                continue
            scores.append((index, imp.detach().cpu(), size))
        if not scores:
            return 0
        plan: dict[int, list[int]] = {}
        if self.scope == "global":
            total = sum(size for _, _, size in scores)
            count = max(1, round(self.step_fraction * total))
            flat = sorted((float(s), gi, ci) for gi, imp, _ in scores for ci, s in enumerate(imp))
            taken: dict[int, int] = {}
            sizes = {gi: size for gi, _, size in scores}
            for _, gi, ci in flat:
                if sum(len(v) for v in plan.values()) >= count:
                    break
                if sizes[gi] - taken.get(gi, 0) > floors[gi]:
                    plan.setdefault(gi, []).append(ci)
                    taken[gi] = taken.get(gi, 0) + 1
        else:
            for gi, imp, size in scores:
                count = min(max(1, round(self.step_fraction * size)), size - floors[gi])
                plan[gi] = torch.argsort(imp)[:count].tolist()
        if limit is not None:
            imps = {gi: imp for gi, imp, _ in scores}
            kept = sorted((float(imps[gi][ci]), gi, ci) for gi, idxs in plan.items() for ci in idxs)[: max(1, limit)]
            plan = {}
            for _, gi, ci in kept:
                plan.setdefault(gi, []).append(ci)
        before = layer_widths(self.model)
        removed: dict[str, int] = {}
        pruning = []
        for gi, idxs in plan.items():
            group = self.groups[gi]
            root = group[0].dep.target.module
            new = self.graph.get_pruning_group(root, group[0].dep.handler, sorted(idxs))
            for dep, dep_idxs in new:
                name = self.names.get(dep.target.module)
                if name in before and handler_name(dep) == "prune_out_channels":
                    removed[name] = removed.get(name, 0) + len(dep_idxs)
            pruning.append(new)
        for group in pruning:
            group.prune()
        check_widths(before, layer_widths(self.model), removed, self.floor)
        self._rebuild()
        return sum(len(idxs) for idxs in plan.values())
