"""Published results on the real ASVspoof 2019 LA eval, shown beside our points (never on the mini corpus)."""

from __future__ import annotations

from tradeoff_bench.tasks.base import Peer

NOTE = "published, ASVspoof 2019 LA eval"
UNCHECKED_TDCF = "its min t-DCF is left out: no source could be checked"


def published_peers() -> list[Peer]:
    return [
        Peer(
            "AASIST",
            {"eer": 0.83, "min_tdcf": 0.0275},
            origin="published",
            params=297_000,
            note=f"{NOTE}; Jung et al., ICASSP 2022 (params as published: 297 k)",
        ),
        Peer(
            "AASIST-L",
            {"eer": 0.99, "min_tdcf": 0.0309},
            origin="published",
            params=85_306,
            note=f"{NOTE}; Jung et al., ICASSP 2022 (EER, min t-DCF and params as in the authors' README)",
        ),
        Peer(
            "LFCC-GMM",
            {"eer": 8.09},
            origin="published",
            note=f"{NOTE}; organisers' baseline B2 (Todisco et al., Interspeech 2019); {UNCHECKED_TDCF}",
        ),
        Peer(
            "CQCC-GMM",
            {"eer": 9.57},
            origin="published",
            note=f"{NOTE}; organisers' baseline B1 (Todisco et al., Interspeech 2019); {UNCHECKED_TDCF}",
        ),
        Peer(
            "ResNet34 (paper)",
            {"eer": 6.26},
            origin="published",
            params=5_400_000,
            note=f"{NOTE}; Gómez & Bäckström 2026, dense baseline (params rounded to 0.1 M)",
        ),
        Peer(
            "ResNet34 + DCL κ_min 0.125 (paper)",
            {"eer": 2.53},
            origin="published",
            params=500_000,
            note=f"{NOTE}; Gómez & Bäckström 2026, DCL in all stages (params rounded to 0.1 M)",
        ),
    ]
