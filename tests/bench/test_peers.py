"""Reference systems (`Task.peers`) become one seed-independent cell per task configuration."""

from dataclasses import dataclass

import pytest

from tradeoff_bench.bench.grid import PEERS, GridError, plan_grid, resolve_cell
from tradeoff_bench.bench.runner import execute_cell
from tradeoff_bench.tasks import TASKS
from tradeoff_bench.tasks.base import Peer
from tradeoff_bench.tasks.synthetic import SyntheticTask


@dataclass
class WithPeers(SyntheticTask):
    name = "synthetic-with-peers"

    def peers(self) -> list[Peer]:
        return [
            Peer("oracle", {"mse": 0.01}, macs=123, macs_source="analytic", params=7),
            Peer("paper", {"mse": 0.02}, origin="published", note="table 2"),
        ]


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(TASKS, "_entries", {**TASKS._entries, WithPeers.name: WithPeers})
    return WithPeers.name


TINY = {"n_train": 64, "n_val": 16, "n_test": 32, "epochs": 1}


def test_peers_cell_is_planned_once_per_task_configuration(registered: str) -> None:
    spec = {
        "seeds": [0, 1],
        "tasks": [{"name": registered, "settings": TINY}, {"name": "synthetic"}],
        "methods": [{"name": "dense"}],
    }
    cells = plan_grid(spec)
    peers = [c for c in cells if c.is_peers]
    assert len(cells) == 5 and len(peers) == 1 and peers[0].task == registered
    assert not [c for c in plan_grid({**spec, "peers": False}) if c.is_peers]


def test_peer_records_carry_their_figures_and_origin(registered: str) -> None:
    [cell] = [
        c
        for c in plan_grid({"tasks": [{"name": registered, "settings": TINY}], "methods": [{"name": "dense"}]})
        if c.is_peers
    ]
    records = execute_cell(cell)
    assert [r.label for r in records] == ["oracle", "paper"]
    oracle, paper = records
    assert oracle.status == "ok" and oracle.method == PEERS and oracle.macs == 123 and oracle.params == 7
    assert oracle.facts == {"origin": "measured", "macs_source": "analytic", "note": ""}
    assert paper.macs is None and paper.facts["origin"] == "published" and paper.metrics == {"mse": 0.02}
    assert oracle.full_macs and oracle.primary_metric == "mse"


def test_peers_is_not_a_method_users_can_ask_for() -> None:
    with pytest.raises(GridError, match="not a method"):
        resolve_cell("synthetic", {}, PEERS, {}, 0)
