"""The latency phase: every saved candidate of a run timed alone, after the grid's cells, never beside training.

Cells measure everything but time (`bench.measure`); timing a forward while another cell trains on
the next core measures the neighbour. So `run` ends with this phase (`run --no-latency` skips it,
`tradeoff-bench latency RUN` runs it alone on an existing run): one candidate after another, in this
process, after the executor has been closed. For each `ok` record with a saved model
(`RUN/models/`), it rebuilds the model as `eval` does (`bench.artifacts.load_model`) and times one
forward on the task's example input (one second of audio for vad, one 4 s utterance for asvspoof2019):

- eager PyTorch, one intra-op thread, eval mode, no_grad, warm: `torch.utils.benchmark.Timer`'s
  `blocked_autorange` gives blocks of runs (each block long enough for the clock); more blocks are
  taken until the 95 % interval of the median block time (distribution-free, from order statistics)
  is within +-5 % of the median, or `max_seconds` pass (the figures then say it did not converge);
- the same in ONNX Runtime (one intra- and one inter-op thread) for a model that exports
  (`bench.predict.export_onnx`); int8 torch.ao models do not export and get a note instead.

The task's full-width dense model (untrained: time does not depend on the weights) is timed the same
way once per task setting: the denominator of latency budgets.

Results are side files, `RUN/latency/<record_id>.json` (and `full-<digest>.json`), written
atomically and joined to the records by the report reader (`attach_latency`): a record stays what
its cell wrote, and a re-run times only the candidates whose file is missing or whose model file has
changed since. vad's streaming step (one 10 ms hop with the state carried) is not timed: the
families run whole sequences (their convolutions look at future frames and no call carries a GRU
state to the next), so the file says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeoff_bench.bench.files import atomic_write
from tradeoff_bench.core.records import Record

if TYPE_CHECKING:
    from torch import nn

LATENCY_DIR = "latency"
TARGET_HALF_WIDTH = 0.05
"""The 95 % interval of the median must be within +-5 % of it."""
Z95 = 1.959963984540054
STREAMING_NOTE = (
    "no streaming step: the vad families run whole sequences (convolutions see future frames, "
    "no call carries the GRU state to the next), so one 10 ms hop cannot be timed on its own"
)


@dataclass(frozen=True)
class Timing:
    """A median time with its 95 % interval, in ms, and how it was reached."""

    median_ms: float
    ci_low_ms: float
    ci_high_ms: float
    blocks: int
    runs_per_block: int
    converged: bool

    @property
    def half_width(self) -> float:
        return (self.ci_high_ms - self.ci_low_ms) / 2 / self.median_ms if self.median_ms > 0 else math.inf


def median_interval(times: list[float]) -> tuple[float, float, float]:
    """(median, low, high): the 95 % distribution-free interval of the median from order statistics
    (ranks n/2 -+ 1.96 sqrt(n)/2, the normal approximation of the binomial), for n >= 1 samples."""
    ordered = sorted(times)
    n = len(ordered)
    median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    spread = Z95 * math.sqrt(n) / 2
    low, high = math.floor(n / 2 - spread), math.ceil(n / 2 + spread) - 1
    return median, ordered[max(low, 0)], ordered[min(high, n - 1)]


def time_call(
    call: Callable[[], Any],
    *,
    warmup: int = 3,
    block_seconds: float = 0.05,
    min_blocks: int = 10,
    max_seconds: float = 20.0,
    target: float = TARGET_HALF_WIDTH,
) -> Timing:
    """Time `call` on one thread with torch.utils.benchmark until the median's 95 % interval is within
    +-`target` of it (at least `min_blocks` blocks of `block_seconds`), or `max_seconds` have passed."""
    import torch

    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # its "no CUDA runtime" note
    from torch.utils.benchmark import Timer

    if warmup < 0 or min_blocks < 1 or block_seconds <= 0 or max_seconds <= 0:
        raise ValueError("need warmup >= 0, min_blocks >= 1 and positive block and max seconds")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(warmup):
            call()
        timer = Timer(stmt="call()", globals={"call": call}, num_threads=1)
        started = time.perf_counter()
        times: list[float] = []
        runs = 1
        while True:
            measured = timer.blocked_autorange(min_run_time=block_seconds)
            times += measured.times
            runs = measured.number_per_run
            median, low, high = median_interval(times)
            done = len(times) >= min_blocks and (high - low) / 2 <= target * median
            if done or time.perf_counter() - started > max_seconds:
                break
    finally:
        torch.set_num_threads(previous)
    return Timing(1000 * median, 1000 * low, 1000 * high, len(times), runs, done)


def torch_call(model: nn.Module, example: Any) -> Callable[[], Any]:
    """One eval-mode no_grad forward of `model` on `example`."""
    import torch

    args = example if isinstance(example, tuple) else (example,)
    model.eval()

    def call() -> Any:
        with torch.no_grad():
            return model(*args)

    return call


def onnx_call(path: Path, example: Any) -> Callable[[], Any]:
    """One ONNX Runtime run (one intra- and one inter-op thread) of the graph at `path` on `example`."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: example.detach().cpu().numpy()}
    return lambda: session.run(None, feed)


@dataclass
class LatencySummary:
    timed: int = 0
    kept: int = 0
    failed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"latency: timed {self.timed} candidates, {self.kept} timed earlier"
        return text + (f"; {len(self.failed)} failed" if self.failed else "") + "."


def run_latency_phase(
    run_dir: str | Path, *, max_seconds: float = 20.0, progress: bool = True, onnx: bool = True
) -> LatencySummary:
    """Time every saved `ok` candidate of `run_dir` not timed yet (see the module docstring)."""
    from tqdm import tqdm

    from tradeoff_bench.bench.store import Store

    run_dir = Path(run_dir)
    records = [r for r in Store(run_dir).records() if r.status == "ok" and r.model_file]
    summary = LatencySummary()
    todo = [r for r in records if not _is_current(run_dir, r)]
    summary.kept = len(records) - len(todo)
    for record in tqdm(todo, desc="latency", unit="model", disable=not progress or not todo, dynamic_ncols=True):
        try:
            result = time_candidate(run_dir / str(record.model_file), max_seconds=max_seconds, onnx=onnx)
        except Exception as err:  # a model that no longer loads: say so, and go on
            result = {"error": f"{type(err).__name__}: {err}"}
            summary.failed.append(f"{record.record_id}: {result['error']}")
        result["model_file_stamp"] = _stamp(run_dir / str(record.model_file))
        _write(run_dir / LATENCY_DIR / f"{record.record_id}.json", result)
        summary.timed += 1
    for key, (task, settings) in _full_models(records).items():
        path = run_dir / LATENCY_DIR / f"full-{key}.json"
        if not path.exists():
            _write(path, {"task": task.name, "task_settings": settings, **time_full_model(task, max_seconds, onnx)})
    return summary


def time_candidate(model_file: Path, *, max_seconds: float = 20.0, onnx: bool = True) -> dict[str, Any]:
    """The latency side file's figures for one saved model."""
    from tradeoff_bench.bench.artifacts import is_quantized, load_model

    loaded = load_model(model_file)
    example = loaded.task.example_input()
    figures = _figures("", time_call(torch_call(loaded.model, example), max_seconds=max_seconds))
    notes: dict[str, str] = {}
    if loaded.task.name == "vad":
        notes["streaming"] = STREAMING_NOTE
    if not onnx:
        notes["onnx"] = "not timed (onnx turned off)"
    elif is_quantized(loaded.model):
        notes["onnx"] = "torch.ao int8 models do not export to ONNX"
    else:
        figures.update(_onnx_figures(lambda path: _export_saved(model_file, path), example, max_seconds, notes))
    return {**figures, "latency_notes": notes}


def time_full_model(task: Any, max_seconds: float = 20.0, onnx: bool = True) -> dict[str, Any]:
    """Latency figures of the task's full-width dense model (the budgets' denominator)."""
    model = task.build_model().eval()
    example = task.example_input()
    figures = _figures("", time_call(torch_call(model, example), max_seconds=max_seconds))
    notes: dict[str, str] = {}
    if onnx:
        figures.update(_onnx_figures(lambda path: _export_module(model, example, path), example, max_seconds, notes))
    return {**figures, "latency_notes": notes}


def attach_latency(records: Iterable[Record], run_dir: str | Path) -> list[Record]:
    """`records` with the figures of `run_dir`'s latency phase filled in (where it timed them), and
    the full model's latencies in `full_costs`. Records without a side file are left as they are."""
    folder = Path(run_dir) / LATENCY_DIR
    full = {}
    if folder.is_dir():
        for path in folder.glob("full-*.json"):
            data = json.loads(path.read_text())
            full[_digest(data.get("task", ""), data.get("task_settings", {}))] = data
    out = []
    for record in records:
        path = folder / f"{record.record_id}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            for name in LATENCY_FIELDS:
                if data.get(name) is not None:
                    setattr(record, name, data[name])
            record.latency_notes = dict(data.get("latency_notes") or {})
            if data.get("error"):
                record.latency_notes["error"] = data["error"]
        reference = full.get(_digest(record.task, record.task_settings))
        if reference is not None:
            for axis in ("latency_ms", "onnx_latency_ms"):
                if reference.get(axis) is not None:
                    record.full_costs = {**record.full_costs, axis: reference[axis]}
        out.append(record)
    return out


LATENCY_FIELDS = (
    "latency_ms",
    "latency_ci_low_ms",
    "latency_ci_high_ms",
    "onnx_latency_ms",
    "onnx_latency_ci_low_ms",
    "onnx_latency_ci_high_ms",
)


def _figures(prefix: str, timing: Timing) -> dict[str, Any]:
    return {
        f"{prefix}latency_ms": timing.median_ms,
        f"{prefix}latency_ci_low_ms": timing.ci_low_ms,
        f"{prefix}latency_ci_high_ms": timing.ci_high_ms,
        f"{prefix}latency_timing": {k: v for k, v in asdict(timing).items() if not k.endswith("_ms")},
    }


def _onnx_figures(
    export: Callable[[Path], Any], example: Any, max_seconds: float, notes: dict[str, str]
) -> dict[str, Any]:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        notes["onnx"] = "onnxruntime is not installed (the onnx extra)"
        return {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        try:
            export(path)
            call = onnx_call(path, example)
        except Exception as err:
            notes["onnx"] = f"does not export or load in ONNX Runtime ({type(err).__name__}: {str(err)[:200]})"
            return {}
        return _figures("onnx_", time_call(call, max_seconds=max_seconds))


def _export_saved(model_file: Path, path: Path) -> None:
    from tradeoff_bench.bench.predict import export_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(model_file, path)


def _export_module(model: nn.Module, example: Any, path: Path) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["input"], output_names=["output"])


def _full_models(records: list[Record]) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Digest -> (task, settings) of each distinct task setting among `records`."""
    from tradeoff_bench.core.registry import configure
    from tradeoff_bench.tasks import TASKS

    found: dict[str, tuple[Any, dict[str, Any]]] = {}
    for record in records:
        key = _digest(record.task, record.task_settings)
        if key not in found:
            try:
                task = configure(TASKS.get(record.task), record.task_settings, f"task {record.task!r}")
            except Exception as err:
                print(f"latency: no full {record.task} model to time ({err})", file=sys.stderr)
                continue
            found[key] = (task, dict(record.task_settings))
    return found


def _digest(task: str, settings: dict[str, Any]) -> str:
    text = json.dumps([task, settings], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _is_current(run_dir: Path, record: Record) -> bool:
    """Whether the record's latency side file exists and was made from its present model file."""
    path = run_dir / LATENCY_DIR / f"{record.record_id}.json"
    try:
        return json.loads(path.read_text()).get("model_file_stamp") == _stamp(run_dir / str(record.model_file))
    except (OSError, ValueError):
        return False


def _write(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=True) + "\n")
