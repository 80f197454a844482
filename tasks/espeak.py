"""Offline speech synthesis with espeak-ng, driven through ctypes from the `espeakng-loader` wheel.

The one driver behind the generated corpora (`vctk-mini`, `asvspoof2019-mini`). The wheel ships
libespeak-ng and its voice data, so no system package is needed. The library keeps global state
(one current voice, one output callback), so every call holds a process-wide lock and sets both.
espeak-ng silently falls back to the plain voice when a variant name is unknown; `synthesize`
checks the voice it got. Breathy and Klatt variants draw noise from espeak-ng's own generator
(seeded from the clock at start-up) and from libc's `rand`: `synthesize` seeds both. Other state
carries over from one utterance to the next (pitch flutter, filter memories) and nothing resets
it, so the same calls give the same samples only in the same order from a fresh process: corpus
generators synthesise through `in_fresh_process`.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tradeoff_bench.core.errors import UserError

_SYNCHRONOUS = 0x02
_END_PAUSE = 0x1000
_RATE, _PITCH, _RANGE = 1, 3, 4
_LOCK = threading.Lock()

VARIANTS = (
    "m1 m2 m3 m4 m5 m6 m7 m8 f1 f2 f3 f4 f5 Alex Alicia Andrea Andy Annie Denis Diogo Gene Hugo "
    "Jacky Lee Marco Mario Michael Mike Nguyen Reed Storm adam anika announcer antonio aunty belinda "
    "benjamin boris caleb david ed edward grandma grandpa gustave ian iven john klatt klatt2 linda "
    "marcelo max michel miguel norbert pablo paul pedro quincy rob robert sandro shelby steph travis "
    "victor zac"
).split()
"""Voice variants that sound like a person (robotic, whispered and effect variants left out)."""
FEMALE = frozenset("f1 f2 f3 f4 f5 Alicia Andrea Annie anika aunty belinda grandma linda shelby steph".split())
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")


OS_ERROR_STATUS = 75
"""Exit status of `in_fresh_process`'s child that ended in an OSError (reported on its stdout)."""


class EspeakError(UserError, RuntimeError):
    """espeak-ng is unavailable or refused a request."""


@dataclass(frozen=True)
class Voice:
    accent: str
    variant: str
    rate: int
    """Words per minute."""
    pitch: int
    """Base pitch, 0–100."""
    range: int
    """Pitch range, 0–100."""

    @property
    def gender(self) -> str:
        return "F" if self.variant in FEMALE else "M"


class _VoiceInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Engine:
    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as err:
            raise EspeakError(
                "the generated corpora need the `espeakng-loader` wheel (pip install espeakng-loader)"
            ) from err
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_VoiceInfo)
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.sample_rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise EspeakError(f"espeak_Initialize failed ({self.sample_rate})")
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # kept alive as long as the engine
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib = lib
        self.libc = ctypes.CDLL(None)  # the process's libc, whose rand() espeak-ng also calls
        self.libc.srand.argtypes = [ctypes.c_uint]

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), count: int, events: int) -> int:  # type: ignore[valid-type]
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def synthesize(self, text: str, voice: Voice, seed: int) -> np.ndarray:
        name = f"{voice.accent}+{voice.variant}"
        if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {voice.accent!r}")
        identifier = (self.lib.espeak_GetCurrentVoice().contents.identifier or b"").decode()
        if not identifier.endswith(f"+{voice.variant}"):
            raise EspeakError(f"espeak-ng has no variant {voice.variant!r} (got voice {identifier!r})")
        for parameter, value in ((_RATE, voice.rate), (_PITCH, voice.pitch), (_RANGE, voice.range)):
            self.lib.espeak_SetParameter(parameter, value, 0)
        self.lib.espeak_ng_SetRandSeed(seed)
        self.libc.srand(seed)
        self.lib.espeak_SetSynthCallback(self._callback)  # the library's one callback, whoever set it last
        self._chunks = []
        data = text.encode() + b"\0"
        status = self.lib.espeak_Synth(data, len(data), 0, 0, 0, _END_PAUSE, None, None)
        self.lib.espeak_Synchronize()
        if status != 0 or not self._chunks:
            raise EspeakError(f"espeak-ng failed to synthesise {text!r} with {name} (status {status})")
        return np.concatenate(self._chunks)


@lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()


def synthesize(text: str, voice: Voice, seed: int = 0) -> tuple[np.ndarray, int]:
    """(int16 samples, sample rate) of `text` spoken by `voice`; `seed` fixes breath and Klatt noise."""
    with _LOCK:
        engine = _engine()
        return engine.synthesize(text, voice, seed), engine.sample_rate


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """int16 samples at `rate` -> float64 at `target`, by FFT (band-limited; espeak's output starts and ends silent)."""
    spectrum = np.fft.rfft(samples.astype(np.float64) / 32768.0)
    n = int(round(samples.size * target / rate))
    return np.fft.irfft(spectrum[: n // 2 + 1], n) * (n / samples.size)


def in_fresh_process(function: str, *args: str) -> object:
    """`module:function(*args)` run in a fresh interpreter; returns what it returned (JSON-able).

    A corpus generator that synthesises through this gets the same audio on every machine and
    whatever the calling process said before (see the module docstring). A subprocess, not a
    multiprocessing child, so that daemonic grid workers can use it too."""
    module, name = function.split(":")
    code = (
        "import json, sys, importlib\n"
        "try:\n"
        f"    out = getattr(importlib.import_module({module!r}), {name!r})(*sys.argv[1:])\n"
        "except OSError as err:\n"
        "    print(json.dumps({'os_error': [err.errno, err.strerror, err.filename]}))\n"
        f"    sys.exit({OS_ERROR_STATUS})\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    if done.returncode == OS_ERROR_STATUS:  # a full disk, an unwritable folder: the same OSError here
        raise OSError(*json.loads(done.stdout.strip().splitlines()[-1])["os_error"])
    if done.returncode != 0:
        raise EspeakError(f"{function}{args} failed in a fresh interpreter:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
