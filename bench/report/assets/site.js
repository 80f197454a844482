// tradeoff-bench report site: draws each board's plotly figure, seed toggles, sortable tables.
// Runs from the file system: everything it needs is inlined in index.html, nothing is fetched.
"use strict";

function drawPlots() {
  for (const div of document.querySelectorAll("div.plot[data-figure]")) {
    const figure = JSON.parse(document.getElementById(div.dataset.figure).textContent);
    Plotly.newPlot(div, figure.data, figure.layout, {responsive: true, displaylogo: false});
  }
}

// A seed's traces are hidden (visible: false) or follow their method's legend state.
function toggleSeed(input) {
  const plot = document.getElementById(input.dataset.plot);
  const seed = Number(input.dataset.seed);
  const methodState = {};
  plot.data.forEach(t => { if (t.meta && t.meta.role === "front") methodState[t.meta.method] = t.visible; });
  const indices = [], visible = [];
  plot.data.forEach((t, i) => {
    if (t.meta && t.meta.role === "seed" && t.meta.seed === seed) {
      indices.push(i);
      visible.push(input.checked ? (methodState[t.meta.method] === "legendonly" ? "legendonly" : true) : false);
    }
  });
  Plotly.restyle(plot, {visible: visible}, indices);
}

const SI = {k: 1e3, M: 1e6, G: 1e9, T: 1e12};
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*([kMGT])?/i;

// Sort key of a cell: its leading number (SI prefixes read), else its text; "–" (missing) sorts last.
function cellKey(cell) {
  const text = cell.textContent.trim();
  if (text === "" || text === "\u2013") return {missing: true};
  const match = text.match(NUMBER);
  if (!match) return {text: text};
  return {number: parseFloat(match[0]) * (match[3] ? SI[match[3]] || 1 : 1)};
}

function compareKeys(a, b) {
  if (a.missing || b.missing) return (a.missing ? 1 : 0) - (b.missing ? 1 : 0);
  if (a.number !== undefined && b.number !== undefined) return a.number - b.number;
  return String(a.text ?? a.number).localeCompare(String(b.text ?? b.number), undefined, {numeric: true});
}

function sortTable(th) {
  const table = th.closest("table");
  const column = Array.from(th.parentNode.children).indexOf(th);
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("th").forEach(h => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).map(row => [cellKey(row.cells[column]), row]);
  rows.sort((a, b) => {
    if (a[0].missing || b[0].missing) return compareKeys(a[0], b[0]);  // missing last either way
    return ascending ? compareKeys(a[0], b[0]) : compareKeys(b[0], a[0]);
  });
  rows.forEach(([, row]) => body.appendChild(row));
}

document.addEventListener("DOMContentLoaded", () => {
  drawPlots();
  document.querySelectorAll("input.seed-toggle").forEach(i => i.addEventListener("change", () => toggleSeed(i)));
  document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => sortTable(th)));
});
