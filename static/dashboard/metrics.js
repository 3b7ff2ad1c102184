/* Dashboard metrics: draw each figure with Chart.js (served from the portal) from the JSON
   block the page carries. Every chart has its table on the page as the text alternative. */
(function () {
  "use strict";
  var source = document.getElementById("dash-charts");
  if (!source || !window.Chart) return;
  var figures = JSON.parse(source.textContent);
  // The portal's colours, distinguishable without colour too (dashes and point shapes).
  var colours = ["#0a5c5a", "#b06a00", "#a4262c", "#2b5797", "#5c4b8a"];
  var dashes = [[], [6, 4], [2, 3], [10, 3, 2, 3], []];
  var points = ["circle", "rect", "triangle", "rectRot", "star"];
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#1b1f23";

  figures.forEach(function (figure) {
    var canvas = document.getElementById("chart-" + figure.id);
    if (!canvas) return;
    var line = figure.type === "line";
    var datasets = figure.datasets.map(function (set, index) {
      var colour = colours[index % colours.length];
      return {
        label: set.label,
        data: set.data,
        // Bars side by side differ in lightness too, not in colour alone.
        backgroundColor: line ? colour : colour + (index % 2 ? "55" : "e6"),
        borderColor: colour,
        borderWidth: 2,
        borderDash: line ? dashes[index % dashes.length] : [],
        pointStyle: points[index % points.length],
        pointRadius: line ? 3 : 0,
        spanGaps: true,
        tension: 0,
      };
    });
    var valueAxis = {
      beginAtZero: true,
      title: { display: !!figure.unit, text: figure.unit },
      ticks: { precision: 0 },
    };
    if (figure.unit === "%") valueAxis.suggestedMax = 100;
    new Chart(canvas, {
      type: figure.type,
      data: { labels: figure.labels, datasets: datasets },
      options: {
        indexAxis: figure.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: reduced ? false : { duration: 300 },
        plugins: { legend: { position: "bottom", labels: { usePointStyle: true } } },
        scales: figure.horizontal ? { x: valueAxis } : { y: valueAxis },
      },
    });
  });
})();
