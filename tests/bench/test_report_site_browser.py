"""The report's index.html in a real browser: headless Chromium driven by selenium.

Checks that the page loads from the file system without console errors or any fetch, that each
task's plot renders one legend entry and one front per method with every candidate drawn, that
hiding a method in the legend or unticking a seed removes exactly its points, that hovering a
candidate names it, and that clicking a column header sorts the leaderboard. A screenshot is saved in the test's temporary folder. Skips,
with one reason, where Chromium or its driver is not installed (`.ci/run` installs them in CI).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import write_report
from tradeoff_bench.core.records import Record

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
METHODS = ("dcl", "dense", "slimmable")
SEEDS = (0, 1)
WIDTHS = (125_000, 250_000, 500_000, 1_000_000)
LOAD_SECONDS = 60


def record(task: str, method: str, seed: int, macs: int, value: float, **extra: Any) -> Record:
    return candidate_record(
        method,
        seed,
        macs,
        {"eer": value},
        full_macs=WIDTHS[-1],
        primary_metric="eer",
        cell_id=f"{task}-{method}-s{seed}",
        task=task,
        corpus=f"{task}-corpus",
        label=f"w{macs}",
        cost_unit="second of audio",
        settings={"width": macs / WIDTHS[-1]},
        train_epochs=3.0,
        cell_seconds=2.0,
        provenance={"commit": "0123456789abcdef", "cpu": "test CPU", "versions": {"torch": "2.11.0"}},
        overrides=extra,
    )


def records() -> list[Record]:
    out = [
        record(task, method, seed, macs, 30.0 - 5 * i - 2 * m + seed)  # the last method is the best
        for task in ("alpha", "beta")
        for m, method in enumerate(METHODS)
        for seed in SEEDS
        for i, macs in enumerate(WIDTHS)
    ]
    out.append(record("alpha", "peers", 0, 2_000_000, 4.0, label="Silero VAD", cell_id="alpha-peers"))
    return out


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        pytest.skip("Chromium or chromedriver not installed (apt-get install -y chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser, driver_path = chromium_paths()
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    folder = tmp_path_factory.mktemp("site")
    write_report(records(), folder / "report")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={folder / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        driver.get((folder / "report" / "index.html").as_uri())
        WebDriverWait(driver, LOAD_SECONDS).until(
            lambda d: d.execute_script(
                "const plots = document.querySelectorAll('div.plot');"
                "return plots.length > 0 && Array.from(plots).every(p => p._fullLayout && p.querySelector('.main-svg'));"
            )
        )
        driver.folder = folder
        yield driver
    finally:
        driver.quit()


def plot_state(driver: Any, task: str) -> dict[str, Any]:
    """Legend entries, method fronts and drawn points (per method) of one task's plot."""
    return driver.execute_script(
        """
        const plot = document.getElementById('plot-' + arguments[0]);
        const points = {};
        plot._fullData.forEach(t => { points[(t.meta && t.meta.method) || 'reference'] = 0; });
        plot.querySelectorAll('.scatterlayer .trace').forEach(g => {  // d3 binds each group to its calcdata
          const trace = g.__data__[0].trace, method = (trace.meta && trace.meta.method) || 'reference';
          points[method] += g.querySelectorAll('.point').length;
        });
        return {
          legend: Array.from(plot.querySelectorAll('.legend .traces .legendtext')).map(t => t.textContent),
          fronts: plot.data.filter(t => t.meta && t.meta.role === 'front').map(t => t.meta.method),
          points: points,
        };""",
        task,
    )


def settled(page: Any, read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """`read()` once `done` holds of it (or the wait times out)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(page, 5, poll_frequency=0.1).until(lambda _: done(read()))
    except TimeoutException:
        pass
    return read()


def test_page_loads_offline_without_console_errors(page: Any):
    errors = [entry for entry in page.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    fetched = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(("file:", "data:", "blob:")) for url in fetched), fetched
    assert page.execute_script("return typeof Plotly") == "object"


def test_each_plot_renders_one_trace_per_method(page: Any):
    for task in ("alpha", "beta"):
        state = plot_state(page, task)
        assert state["fronts"] == list(METHODS)
        assert state["legend"] == [*METHODS, *(["reference points"] if task == "alpha" else [])]
        for method in METHODS:  # every candidate of every seed, plus one front marker per distinct cost
            assert state["points"][method] >= len(SEEDS) * len(WIDTHS) + len(WIDTHS), (task, method, state)
    assert plot_state(page, "alpha")["points"]["reference"] == 1
    shot = page.folder / "site.png"
    page.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_legend_click_hides_exactly_that_method(page: Any):
    from selenium.webdriver.common.by import By

    before = plot_state(page, "beta")["points"]
    entry = page.find_elements(By.CSS_SELECTOR, "#plot-beta .legend .traces")[METHODS.index("dense")]
    entry.find_element(By.CSS_SELECTOR, ".legendtoggle").click()  # plotly acts after its double-click delay
    after = settled(page, lambda: plot_state(page, "beta")["points"], lambda points: points != before)
    assert after["dense"] == 0 and before["dense"] > 0
    assert {m: after[m] for m in METHODS if m != "dense"} == {m: before[m] for m in METHODS if m != "dense"}
    hidden = page.execute_script(
        "return document.getElementById('plot-beta').data.filter(t => t.legendgroup === 'dense').map(t => t.visible)"
    )
    assert hidden and set(hidden) == {"legendonly"}


def test_seed_toggle_hides_that_seeds_points(page: Any):
    from selenium.webdriver.common.by import By

    before = plot_state(page, "alpha")["points"]
    page.find_element(By.CSS_SELECTOR, "input.seed-toggle[data-plot='plot-alpha'][data-seed='1']").click()
    after = plot_state(page, "alpha")["points"]
    assert all(after[m] == before[m] - len(WIDTHS) for m in METHODS), (before, after)
    page.find_element(By.CSS_SELECTOR, "input.seed-toggle[data-plot='plot-alpha'][data-seed='1']").click()
    assert plot_state(page, "alpha")["points"] == before


def test_clicking_a_header_sorts_the_leaderboard(page: Any):
    from selenium.webdriver.common.by import By

    table = page.find_element(By.CSS_SELECTOR, "#alpha table.sortable")
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]

    def column(name: str) -> list[str]:
        index = headers.index(name) + 1
        return [td.text for td in table.find_elements(By.CSS_SELECTOR, f"tbody tr td:nth-child({index})")]

    assert column("method") == list(METHODS[::-1])  # best hypervolume first
    table.find_element(By.XPATH, ".//th[text()='method']").click()
    assert column("method") == sorted(METHODS)
    best = next(h for h in headers if h.startswith("best "))
    table.find_element(By.XPATH, f".//th[text()='{best}']").click()
    values = [float(v) for v in column(best)]
    assert values == sorted(values)
    table.find_element(By.XPATH, f".//th[text()='{best}']").click()
    assert [float(v) for v in column(best)] == sorted(values, reverse=True)


def test_hovering_a_candidate_names_it(page: Any):
    lines = page.execute_script("""
        const plot = document.getElementById('plot-beta');
        const index = plot.data.findIndex(t => t.meta.role === 'seed' && t.meta.method === 'dcl' && t.meta.seed === 1);
        Plotly.Fx.hover(plot, [{curveNumber: index, pointNumber: 1}]);
        return Array.from(plot.querySelectorAll('.hoverlayer .hovertext tspan.line')).map(t => t.textContent);""")
    assert lines == [
        "dcl · w250000",
        "settings: width=0.25",
        "seed 1",
        "MACs 250k",
        "eer [%] 26",
        "record beta-dcl-s1-w250000",
    ]
