"""Environmental sounds synthesised in numpy for esc50-mini, under ESC-50's category names and targets.

None contains speech. They span what makes VAD hard: stationary broadband noise (rain, wind,
vacuum cleaner), impulsive events (clicks, knocks, crackles), and harmonic, pitch-like sounds
(sirens, horns, alarms, bells, birdsong, engines) that a detector may take for voiced speech.
Every clip also carries a faint pink-noise floor, as recordings do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Generator = Callable[[np.random.Generator, int, int], np.ndarray]
SAMPLE_RATE = 16_000


def _colored(
    rng: np.random.Generator, n: int, sr: int, tilt: float, band: tuple[float, float] = (0.0, 1e9)
) -> np.ndarray:
    """Unit-RMS noise with power spectrum ∝ f^-tilt inside `band` (Hz)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    shape = np.where((freqs >= band[0]) & (freqs <= band[1]), np.maximum(freqs, 20.0) ** (-tilt / 2), 0.0)
    x = np.fft.irfft(spectrum * shape, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _smooth_walk(rng: np.random.Generator, n: int, points: int) -> np.ndarray:
    """A slowly varying positive envelope (random walk through `points` knots)."""
    knots = np.exp(np.cumsum(rng.normal(0, 0.5, points)))
    return np.interp(np.arange(n), np.linspace(0, n, points), knots / knots.max())


def _events(rng: np.random.Generator, n: int, rate_hz: float, sr: int) -> np.ndarray:
    return np.sort(rng.integers(0, n, rng.poisson(rate_hz * n / sr) + 1))


def _add(x: np.ndarray, at: int, sound: np.ndarray) -> None:
    end = min(x.size, at + sound.size)
    if at < end:
        x[at:end] += sound[: end - at]


def _decay(rng: np.random.Generator, ms: float, sr: int, band: tuple[float, float]) -> np.ndarray:
    n = max(8, int(ms * sr / 1000) * 4)
    return _colored(rng, n, sr, 0.0, band) * np.exp(-np.arange(n) / (ms * sr / 1000))


def _harmonic(t: np.ndarray, f0: np.ndarray | float, partials: int, rolloff: float) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(f0, t.shape)) / SAMPLE_RATE
    return sum(np.sin(k * phase) / k**rolloff for k in range(1, partials + 1))


def rain(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    x = 0.4 * _colored(rng, n, sr, 0.5, (400, 8000))
    for at in _events(rng, n, rng.uniform(80, 250), sr):
        _add(x, at, rng.uniform(0.3, 1.5) * _decay(rng, rng.uniform(1, 4), sr, (1500, 7000)))
    return x


def sea_waves(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    swell = (0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 6.3))) ** 2
    return _colored(rng, n, sr, 1.5, (30, 2500)) * swell


def crackling_fire(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    x = 0.2 * _colored(rng, n, sr, 2.0, (20, 1000))
    for at in _events(rng, n, rng.uniform(15, 60), sr):
        _add(x, at, rng.uniform(0.5, 3) * _decay(rng, rng.uniform(0.5, 3), sr, (800, 7500)))
    return x


def crickets(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    carrier = np.sin(2 * np.pi * rng.uniform(3500, 5200) * t)
    pulses = (np.sin(2 * np.pi * rng.uniform(25, 45) * t) > 0.3).astype(float)
    chirps = (np.sin(2 * np.pi * rng.uniform(1, 3) * t) > rng.uniform(0, 0.5)).astype(float)
    return carrier * pulses * chirps


def chirping_birds(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    x = np.zeros(n)
    for at in _events(rng, n, rng.uniform(3, 8), sr):
        m = int(rng.uniform(0.04, 0.15) * sr)
        f = np.linspace(rng.uniform(2000, 4500), rng.uniform(2500, 7000), m)
        _add(x, at, _harmonic(np.arange(m) / sr, f, 2, 2.0) * np.hanning(m) * rng.uniform(0.3, 1))
    return x


def wind(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    return _colored(rng, n, sr, 2.0, (20, rng.uniform(600, 2000))) * _smooth_walk(rng, n, 12)


def door_wood_knock(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    x = np.zeros(n)
    modes = rng.uniform(150, 600, 4)
    for start in _events(rng, n, 0.5, sr):
        for k in range(int(rng.integers(2, 5))):
            m = int(0.08 * sr)
            tt = np.arange(m) / sr
            knock = sum(np.sin(2 * np.pi * f * tt) for f in modes) * np.exp(-tt / rng.uniform(0.015, 0.04))
            _add(x, start + int(k * rng.uniform(0.12, 0.2) * sr), knock)
    return x


def keyboard_typing(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    x = np.zeros(n)
    for at in _events(rng, n, rng.uniform(4, 10), sr):
        _add(x, at, _decay(rng, rng.uniform(2, 6), sr, (1500, 6000)))
        _add(x, at, 0.5 * _decay(rng, 8, sr, (80, 400)))
    return x


def vacuum_cleaner(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = rng.uniform(150, 300) * (1 + 0.01 * np.sin(2 * np.pi * 0.3 * t))
    return _colored(rng, n, sr, 0.7, (100, 8000)) + 0.4 * _harmonic(t, f0, 12, 1.0)


def clock_alarm(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    beeps = (np.sin(2 * np.pi * rng.uniform(3, 6) * t) > 0) & (np.sin(2 * np.pi * 0.5 * t) > -0.3)
    return _harmonic(t, rng.uniform(2000, 3500), 3, 1.0) * beeps


def clock_tick(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    x = np.zeros(n)
    period = int(sr / rng.choice([1.0, 2.0]))
    for k, at in enumerate(range(int(rng.integers(0, period)), n, period)):
        _add(x, at, _decay(rng, 1.5, sr, (2000, 6000) if k % 2 else (1000, 4000)))
    return x


def siren(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    low, high = rng.uniform(500, 800), rng.uniform(1100, 1600)
    f0 = low + (high - low) * (0.5 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(1.5, 4)))
    return _harmonic(t, f0, 5, 1.5)


def car_horn(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    on = np.zeros(n)
    for at in _events(rng, n, 0.6, sr):
        on[at : at + int(rng.uniform(0.3, 1.5) * sr)] = 1
    f0 = rng.uniform(350, 500)
    return (_harmonic(t, f0, 8, 1.0) + 0.7 * _harmonic(t, f0 * 1.26, 8, 1.0)) * on


def engine(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = rng.uniform(25, 60) * (1 + 0.15 * _smooth_walk(rng, n, 6))
    return _harmonic(t, f0, 20, 0.8) * (1 + 0.3 * _colored(rng, n, sr, 2, (1, 30))) + 0.3 * _colored(
        rng, n, sr, 1, (20, 2000)
    )


def church_bells(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    x = np.zeros(n)
    base = rng.uniform(300, 700)
    step = int(rng.uniform(0.8, 2) * sr)
    for at in range(int(rng.integers(0, step)), n, step):
        m = min(3 * sr, n - at)
        tt = np.arange(m) / sr
        partials = (np.sin(2 * np.pi * base * r * tt) * np.exp(-tt / (2.5 / r)) for r in (0.5, 1, 1.2, 1.5, 2, 2.7))
        _add(x, at, sum(partials, np.zeros(m)))
    return x


def helicopter(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    slaps = np.maximum(0, np.sin(2 * np.pi * rng.uniform(4, 9) * t)) ** 8
    return _colored(rng, n, sr, 1.5, (30, 1500)) * (0.2 + slaps) + 0.05 * np.sin(2 * np.pi * rng.uniform(900, 1800) * t)


CATEGORIES: dict[int, tuple[str, Generator]] = {
    10: ("rain", rain),
    11: ("sea_waves", sea_waves),
    12: ("crackling_fire", crackling_fire),
    13: ("crickets", crickets),
    14: ("chirping_birds", chirping_birds),
    16: ("wind", wind),
    30: ("door_wood_knock", door_wood_knock),
    32: ("keyboard_typing", keyboard_typing),
    36: ("vacuum_cleaner", vacuum_cleaner),
    37: ("clock_alarm", clock_alarm),
    38: ("clock_tick", clock_tick),
    40: ("helicopter", helicopter),
    42: ("siren", siren),
    43: ("car_horn", car_horn),
    44: ("engine", engine),
    46: ("church_bells", church_bells),
}
"""ESC-50 target -> (category, generator), with ESC-50's own numbering."""
ESC10_TARGETS = frozenset({0, 1, 10, 11, 12, 20, 21, 38, 40, 41})


def synthesize(target: int, rng: np.random.Generator, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """A clip of category `target`, peak-normalised to a random level, with a −50 dB noise floor."""
    n = int(seconds * sr)
    x = CATEGORIES[target][1](rng, n, sr)
    x = x / (np.abs(x).max() + 1e-12)
    x = x + 10 ** (-50 / 20) * _colored(rng, n, sr, 1.0, (20, 8000))
    return (x / np.abs(x).max() * rng.uniform(0.2, 0.9)).astype(np.float32)
