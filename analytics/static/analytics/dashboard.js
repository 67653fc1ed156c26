/* Draws the monitoring dashboard's charts with the vendored Chart.js (no CDN). The data
   comes from the page (json_script #dashboard-charts); each canvas gets data-drawn="true"
   once its chart is rendered. */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function draw(canvasId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas) return;
    new window.Chart(canvas, config);
    canvas.dataset.drawn = "true";
  }

  function paintSwatches() {
    // Colours come as data attributes: the Content-Security-Policy forbids inline styles,
    // not styles set from a script.
    document.querySelectorAll(".fl-swatch[data-colour]").forEach(function (swatch) {
      swatch.style.background = swatch.dataset.colour;
    });
  }

  function start() {
    paintSwatches();
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof window.Chart === "undefined") return;
    var charts = JSON.parse(source.textContent);
    var text = cssVar("--body-fg", "#333");
    var grid = cssVar("--hairline-color", "#e8e8e8");
    var accent = cssVar("--link-fg", "#417690");
    window.Chart.defaults.color = text;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.animation = false; // figures, not a show: draw at once

    if (charts.delivery) {
      draw("chart-delivery", {
        type: "doughnut",
        data: {
          labels: charts.delivery.labels,
          datasets: [{
            data: charts.delivery.values,
            backgroundColor: charts.delivery.colours,
            borderColor: cssVar("--body-bg", "#fff"),
            borderWidth: 2
          }]
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          cutout: "55%",
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
        }
      });
    }
    if (charts.ingest) {
      draw("chart-ingest", {
        type: "bar",
        data: {
          labels: charts.ingest.labels,
          datasets: [{
            label: "statements stored per minute",
            data: charts.ingest.values,
            backgroundColor: accent
          }]
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: {
            x: { grid: { display: false }, ticks: { maxTicksLimit: 12 } },
            y: { beginAtZero: true, grid: { color: grid }, ticks: { precision: 0 } }
          }
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
