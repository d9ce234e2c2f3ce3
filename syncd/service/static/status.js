// The status page's two charts, drawn with Chart.js (chart.umd.min.js, served beside this file)
// from the JSON the server embedded in <script type="application/json" id="chart-data">.
// A file of its own: the page's Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var element = document.getElementById("chart-data");
  var data = element ? JSON.parse(element.textContent) : {};
  var month = data.agreement;
  if (!month || typeof Chart === "undefined") {
    document.body.setAttribute("data-charts", "none");
    return;
  }
  var common = {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { display: false } }
  };
  new Chart(document.getElementById("chart-sqls"), {
    type: "bar",
    data: {
      labels: ["delivered", "target"],
      datasets: [{
        label: "SQLs in " + month.month,
        data: [month.delivered, month.target],
        backgroundColor: [month.delivered >= month.target ? "#2e7d32" : "#e65100", "#90a4ae"]
      }]
    },
    options: Object.assign({ indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }, common)
  });
  new Chart(document.getElementById("chart-hours"), {
    type: "bar",
    data: {
      labels: month.hours.labels,
      datasets: [{ label: "leads", data: month.hours.counts, backgroundColor: "#1565c0" }]
    },
    options: Object.assign({ scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }, common)
  });
  document.body.setAttribute("data-charts", "ready");
})();
