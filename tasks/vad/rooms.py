"""Simulated rooms for reverberant mixtures: pyroomacoustics' image-source shoebox rooms.

A room is drawn from its seed alone (`draw_room`): a shoebox of 3–9 × 3–7 × 2.4–3.5 m, a target
reverberation time in `RT60_S` turned into wall absorption and an image order by Sabine's formula
(`pyroomacoustics.inverse_sabine`, the order capped at `MAX_ORDER`), a talker and a microphone at
least 0.5 m from the walls and from each other. Its impulse response (`impulse_response`) is cut so
that the direct sound is sample 0, which keeps the dry speech's frame labels aligned with the
reverberant speech, and is scaled to a unit direct path. The manifest stores the room's numbers and
the RT60 measured on the response, so a mixture is reproducible and its room is on record.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from tradeoff_bench.tasks.vad.features import SAMPLE_RATE

RT60_S = (0.2, 0.9)
MAX_ORDER = 60
MARGIN_M = 0.5


@dataclass(frozen=True)
class Room:
    dims: tuple[float, float, float]
    talker: tuple[float, float, float]
    microphone: tuple[float, float, float]
    rt60_target: float

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Room:
        dims, talker, microphone = (
            _triple(np.asarray(data[key], dtype=float)) for key in ("dims", "talker", "microphone")
        )
        return cls(dims, talker, microphone, float(data["rt60_target"]))


def draw_room(rng: np.random.Generator) -> Room:
    """A random room, talker and microphone (positions rounded to the centimetre)."""
    dims = np.round([rng.uniform(3, 9), rng.uniform(3, 7), rng.uniform(2.4, 3.5)], 2)
    while True:
        talker = np.round(rng.uniform(MARGIN_M, dims - MARGIN_M), 2)
        microphone = np.round(rng.uniform(MARGIN_M, dims - MARGIN_M), 2)
        if np.linalg.norm(talker - microphone) >= MARGIN_M:
            break
    rt60 = round(float(rng.uniform(*RT60_S)), 3)
    return Room(_triple(dims), _triple(talker), _triple(microphone), rt60)


@functools.lru_cache(maxsize=64)
def impulse_response(room: Room) -> tuple[np.ndarray, float]:
    """(impulse response from the direct sound on, unit direct path, float64; its measured RT60 in s)."""
    import pyroomacoustics as pra

    absorption, order = pra.inverse_sabine(room.rt60_target, list(room.dims))
    shoebox = pra.ShoeBox(
        list(room.dims), fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(order, MAX_ORDER)
    )
    shoebox.add_source(list(room.talker))
    shoebox.add_microphone(list(room.microphone))
    shoebox.compute_rir()
    response = np.asarray(shoebox.rir[0][0], dtype=np.float64)
    direct = int(np.argmax(np.abs(response)))
    response = response[direct:] / response[direct]
    return response, float(pra.experimental.measure_rt60(response, fs=SAMPLE_RATE))


def reverberate(speech: np.ndarray, room: Room) -> np.ndarray:
    """`speech` as the microphone hears it in `room`, the same length (the tail past the end is cut)."""
    from scipy.signal import fftconvolve

    return fftconvolve(speech, impulse_response(room)[0])[: speech.size]


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])
