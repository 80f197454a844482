"""One look per method, shared by the static figures and the site: a colour and a marker.

Colours are Paul Tol's "muted" qualitative scheme (designed to stay apart for colour-blind readers
and in print); each method also gets its own marker shape, so eight methods stay apart in greyscale.
Past eight methods the colours repeat with other markers. Reference systems are not a method: they
are black stars in every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PALETTE: tuple[str, ...] = (
    "#332288",
    "#CC6677",
    "#117733",
    "#DDCC77",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
)
"""Paul Tol's muted scheme (https://personal.sron.nl/~pault/), most distinct first."""
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "h", "<", ">", "p", "8")
"""matplotlib marker codes; no star, which marks a reference system."""
PLOTLY_SYMBOLS: dict[str, str] = {
    "o": "circle",
    "s": "square",
    "^": "triangle-up",
    "D": "diamond",
    "v": "triangle-down",
    "P": "cross",
    "X": "x",
    "h": "hexagon",
    "<": "triangle-left",
    ">": "triangle-right",
    "p": "pentagon",
    "8": "octagon",
}
PEER_COLOUR = "#000000"


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn everywhere."""

    colour: str
    marker: str

    @property
    def plotly_symbol(self) -> str:
        return PLOTLY_SYMBOLS[self.marker]


def method_styles(methods: Sequence[str]) -> dict[str, MethodStyle]:
    """A style per method, by position: pass every method of the report so each keeps its look on
    every task."""
    return {
        method: MethodStyle(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, method in enumerate(methods)
    }
