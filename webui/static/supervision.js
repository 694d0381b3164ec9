// Draws the supervision desk's two charts with ECharts: deadlines by town, and overdue by item.
(function () {
  "use strict";
  var townsBox = document.getElementById("chart-towns");
  if (!townsBox) { return; }
  var data = JSON.parse(townsBox.dataset.chart || "{}");
  var itemsBox = document.getElementById("chart-items");
  if (typeof window.echarts === "undefined") {
    [townsBox, itemsBox].forEach(function (box) { box.textContent = townsBox.dataset.missing; });
    return;
  }
  var labels = data.labels;
  var colours = { open: "#8aa4c8", yellow: "#f2b705", red: "#d93025", late: "#7b1fa2" };
  function series(kind, stack) {
    return ["open", "yellow", "red", "late"].map(function (name) {
      return {
        name: labels[kind] + "·" + labels[name], type: "bar", stack: stack, barMaxWidth: 28,
        itemStyle: { color: colours[name], opacity: kind === "case" ? 1 : 0.6 },
        data: data.towns.map(function (town) { return town[kind + "_" + name]; })
      };
    });
  }
  var towns = window.echarts.init(townsBox);
  towns.setOption({
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
    legend: { top: 0, left: 0, right: 0, itemGap: 10, itemWidth: 14, textStyle: { fontSize: 11 } },
    grid: { left: 8, right: 8, top: 56, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: data.towns.map(function (town) { return town.name; }),
             axisLabel: { interval: 0, rotate: data.towns.length > 4 ? 35 : 0, width: 96, overflow: "truncate" } },
    yAxis: { type: "value", minInterval: 1 },
    series: series("case", "case").concat(series("step", "step"))
  });
  var items = window.echarts.init(itemsBox);
  var byItem = data.items.slice(0, 12).reverse();
  items.setOption({
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
    legend: { top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    yAxis: { type: "category", data: byItem.map(function (item) { return item.name; }),
             axisLabel: { width: 150, overflow: "truncate" } },
    xAxis: { type: "value", minInterval: 1 },
    series: [
      { name: labels.overdue_total, type: "bar", stack: "all", itemStyle: { color: colours.red },
        data: byItem.map(function (item) { return item.overdue; }) },
      { name: labels.yellow, type: "bar", stack: "all", itemStyle: { color: colours.yellow },
        data: byItem.map(function (item) { return item.yellow; }) }
    ]
  });
  window.addEventListener("resize", function () { towns.resize(); items.resize(); });
}());
