// Report renderers: text table, CSV, JSON and a self-contained HTML page.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/strings.h"
#include "herald/report.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

std::string FormatNumber(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The cell as text (tables and CSV).
std::string CellText(const ReportCell& cell, ColumnKind kind) {
  if (std::holds_alternative<std::monostate>(cell)) return "";
  if (const auto* i = std::get_if<int64_t>(&cell)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&cell)) {
    return FormatNumber(*d, kind == ColumnKind::kPercent ? 2 : (kind == ColumnKind::kDecimal ? 2 : 4));
  }
  return std::get<std::string>(cell);
}

bool RightAligned(ColumnKind kind) {
  return kind == ColumnKind::kInteger || kind == ColumnKind::kDecimal ||
         kind == ColumnKind::kPercent;
}

// Display width of UTF-8 text (code points; good enough for names).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

nlohmann::json CellJson(const ReportCell& cell) {
  if (std::holds_alternative<std::monostate>(cell)) return nullptr;
  if (const auto* i = std::get_if<int64_t>(&cell)) return *i;
  if (const auto* d = std::get_if<double>(&cell)) return std::round(*d * 10000) / 10000;
  return std::get<std::string>(cell);
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// JSON safe inside <script>: no "</" sequence can close the element.
std::string ScriptJson(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') {
      out += "\\u003c";
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

constexpr const char* kStyle = R"CSS(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2733;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5b6b7c;margin-bottom:16px}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #e3e8ee;padding:5px 10px;text-align:left}
th{background:#f4f6f8;font-weight:600} td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart{border:1px solid #e3e8ee;border-radius:6px;padding:8px}
.chart h3{font-size:13px;margin:0 0 4px;font-weight:600}
.legend{font-size:11px;color:#5b6b7c}
svg text{font-size:10px;fill:#5b6b7c}
)CSS";

// Draws every chart as inline SVG from the embedded data, then marks the page.
constexpr const char* kScript = R"JS(
(function () {
  var data = JSON.parse(document.getElementById('herald-chart-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, anchor) {
    var t = el('text', {x: x, y: y, 'text-anchor': anchor || 'start'}, parent);
    t.textContent = s;
    return t;
  }
  function frame(container, w, h) {
    return el('svg', {width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img'}, container);
  }
  var drawn = 0;
  // Delivery against goal, one small chart per ad.
  var deliveryBox = document.getElementById('delivery-charts');
  data.delivery.forEach(function (s) {
    var box = document.createElement('div');
    box.className = 'chart';
    var h3 = document.createElement('h3');
    h3.textContent = s.campaign + ' / ' + s.item;
    box.appendChild(h3);
    var W = 320, H = 170, L = 44, R = 10, T = 10, B = 28;
    var svg = frame(box, W, H);
    var pts = s.cumulative;
    var maxY = Math.max(s.goal || 0, pts.length ? pts[pts.length - 1][1] : 0, 1) * 1.1;
    var n = Math.max(pts.length - 1, 1);
    function X(i) { return L + (W - L - R) * (pts.length === 1 ? 0.5 : i / n); }
    function Y(v) { return T + (H - T - B) * (1 - v / maxY); }
    el('line', {x1: L, y1: Y(0), x2: W - R, y2: Y(0), stroke: '#c9d2dc'}, svg);
    el('line', {x1: L, y1: T, x2: L, y2: Y(0), stroke: '#c9d2dc'}, svg);
    text(svg, L - 4, Y(maxY / 1.1) + 3, String(Math.round(maxY / 1.1)), 'end');
    text(svg, L - 4, Y(0) + 3, '0', 'end');
    if (pts.length) {
      text(svg, X(0), H - 8, pts[0][0], 'start');
      if (pts.length > 1) text(svg, X(pts.length - 1), H - 8, pts[pts.length - 1][0], 'end');
    }
    if (s.goal > 0) {
      el('line', {x1: L, y1: Y(s.goal), x2: W - R, y2: Y(s.goal), stroke: '#d9534f',
                  'stroke-dasharray': '5,4', 'class': 'goal-line'}, svg);
      text(svg, W - R, Y(s.goal) - 4, 'goal ' + s.goal, 'end');
    }
    var path = pts.map(function (p, i) { return X(i) + ',' + Y(p[1]); }).join(' ');
    if (pts.length === 1) path = L + ',' + Y(0) + ' ' + path;
    el('polyline', {points: path, fill: 'none', stroke: '#2b6cb0', 'stroke-width': 2,
                    'class': 'delivery-line'}, svg);
    pts.forEach(function (p, i) { el('circle', {cx: X(i), cy: Y(p[1]), r: 2.5, fill: '#2b6cb0'}, svg); });
    var legend = document.createElement('div');
    legend.className = 'legend';
    legend.textContent = s.goal_event + ' delivered (cumulative)' + (s.goal > 0 ? ' against the goal' : '; no goal');
    box.appendChild(legend);
    box.setAttribute('data-drawn', 'true');
    deliveryBox.appendChild(box);
    drawn++;
  });
  // Reach (bars) and frequency (line) per day.
  var reachBox = document.getElementById('reach-chart');
  if (data.reach.length) {
    var W = 680, H = 230, L = 50, R = 50, T = 12, B = 30;
    var svg = frame(reachBox, W, H);
    var maxReach = Math.max.apply(null, data.reach.map(function (d) { return d.reach; }).concat([1])) * 1.1;
    var maxFreq = Math.max.apply(null, data.reach.map(function (d) { return d.frequency; }).concat([1])) * 1.1;
    var slot = (W - L - R) / data.reach.length;
    function Yr(v) { return T + (H - T - B) * (1 - v / maxReach); }
    function Yf(v) { return T + (H - T - B) * (1 - v / maxFreq); }
    el('line', {x1: L, y1: Yr(0), x2: W - R, y2: Yr(0), stroke: '#c9d2dc'}, svg);
    text(svg, L - 4, Yr(maxReach / 1.1) + 3, String(Math.round(maxReach / 1.1)), 'end');
    text(svg, W - R + 4, Yf(maxFreq / 1.1) + 3, (maxFreq / 1.1).toFixed(2), 'start');
    var line = [];
    data.reach.forEach(function (d, i) {
      var x = L + slot * i;
      el('rect', {x: x + slot * 0.15, y: Yr(d.reach), width: slot * 0.7,
                  height: Math.max(Yr(0) - Yr(d.reach), 0), fill: '#90cdf4', 'class': 'reach-bar'}, svg);
      line.push((x + slot / 2) + ',' + Yf(d.frequency));
      if (data.reach.length <= 14 || i % Math.ceil(data.reach.length / 10) === 0) {
        text(svg, x + slot / 2, H - 10, d.day.slice(5), 'middle');
      }
    });
    el('polyline', {points: line.join(' '), fill: 'none', stroke: '#dd6b20', 'stroke-width': 2,
                    'class': 'frequency-line'}, svg);
    reachBox.setAttribute('data-drawn', 'true');
    drawn++;
  }
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
)JS";

}  // namespace

std::string RenderTable(const ReportTable& table) {
  std::vector<size_t> widths;
  for (const ReportColumn& c : table.columns) widths.push_back(Width(c.title));
  std::vector<std::vector<std::string>> text;
  for (const auto& row : table.rows) {
    auto& out = text.emplace_back();
    for (size_t i = 0; i < table.columns.size(); ++i) {
      out.push_back(i < row.size() ? CellText(row[i], table.columns[i].kind) : "");
      widths[i] = std::max(widths[i], Width(out.back()));
    }
  }
  std::string out = Cat(table.title, "\n", table.subtitle, "\n\n");
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t pad = widths[i] - Width(cells[i]);
      const bool right = !header && RightAligned(table.columns[i].kind);
      if (i > 0) out += "  ";
      if (right) out.append(pad, ' ');
      out += cells[i];
      if (!right && i + 1 < cells.size()) out.append(pad, ' ');
    }
    out += "\n";
  };
  std::vector<std::string> titles;
  for (const ReportColumn& c : table.columns) titles.push_back(c.title);
  line(titles, true);
  std::vector<std::string> rule;
  for (size_t w : widths) rule.push_back(std::string(w, '-'));
  line(rule, true);
  for (const auto& row : text) line(row, false);
  if (table.rows.empty()) out += "(no rows)\n";
  return out;
}

std::string RenderCsv(const ReportTable& table) {
  std::string out;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    CatTo(out, i == 0 ? "" : ",", CsvField(table.columns[i].key));
  }
  out += "\r\n";
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < table.columns.size(); ++i) {
      CatTo(out, i == 0 ? "" : ",",
            CsvField(i < row.size() ? CellText(row[i], table.columns[i].kind) : ""));
    }
    out += "\r\n";
  }
  return out;
}

std::string RenderJson(const ReportTable& table) {
  nlohmann::json j;
  j["report"] = table.name;
  j["title"] = table.title;
  j["subtitle"] = table.subtitle;
  j["columns"] = nlohmann::json::array();
  static constexpr const char* kKinds[] = {"text", "integer", "decimal", "percent", "date"};
  for (const ReportColumn& c : table.columns) {
    j["columns"].push_back({{"key", c.key}, {"title", c.title}, {"kind", kKinds[static_cast<int>(c.kind)]}});
  }
  j["rows"] = nlohmann::json::array();
  for (const auto& row : table.rows) {
    nlohmann::json r = nlohmann::json::object();
    for (size_t i = 0; i < table.columns.size(); ++i) {
      r[table.columns[i].key] = i < row.size() ? CellJson(row[i]) : nlohmann::json(nullptr);
    }
    j["rows"].push_back(std::move(r));
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {
nlohmann::json ChartsJson(const ReportCharts& charts) {
  nlohmann::json data;
  data["delivery"] = nlohmann::json::array();
  for (const DeliverySeries& s : charts.delivery) {
    nlohmann::json points = nlohmann::json::array(), expected = nlohmann::json::array();
    for (const auto& [day, n] : s.cumulative) points.push_back({day, n});
    for (const auto& [day, n] : s.expected) expected.push_back({day, n});
    data["delivery"].push_back({{"campaign", s.campaign},
                                {"item", s.item},
                                {"goal_event", s.goal_event},
                                {"goal", s.goal},
                                {"cumulative", points},
                                {"expected", expected}});
  }
  data["reach"] = nlohmann::json::array();
  for (const ReachDay& r : charts.reach) {
    data["reach"].push_back({{"day", r.day}, {"requests", r.requests}, {"reach", r.reach},
                             {"frequency", std::round(r.frequency * 1000) / 1000}});
  }
  return data;
}
}  // namespace

std::string RenderChartsJson(const ReportCharts& charts) {
  return ChartsJson(charts).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RenderHtml(const ReportTable& table, const ReportCharts& charts) {
  nlohmann::json data = ChartsJson(charts);
  std::string out = Cat("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                        "<title>", HtmlEscape(table.title), "</title><style>", kStyle,
                        "</style></head>\n<body data-charts-drawn=\"0\">\n<h1>",
                        HtmlEscape(table.title), "</h1><div class=\"sub\">",
                        HtmlEscape(table.subtitle), "</div>\n");
  out += "<h2>Delivery against goal</h2><div id=\"delivery-charts\" class=\"charts\"></div>\n";
  out += "<h2>Reach and frequency per day</h2><div id=\"reach-chart\" class=\"chart\"></div>\n";
  out += "<div class=\"legend\">bars: reach (distinct users); line: frequency (requests per user)</div>\n";
  CatTo(out, "<h2>", HtmlEscape(table.title), "</h2><table><thead><tr>");
  for (const ReportColumn& c : table.columns) CatTo(out, "<th>", HtmlEscape(c.title), "</th>");
  out += "</tr></thead><tbody>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (size_t i = 0; i < table.columns.size(); ++i) {
      const ColumnKind kind = table.columns[i].kind;
      CatTo(out, RightAligned(kind) ? "<td class=\"n\">" : "<td>",
            HtmlEscape(i < row.size() ? CellText(row[i], kind) : ""), "</td>");
    }
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  CatTo(out, "<script type=\"application/json\" id=\"herald-chart-data\">", ScriptJson(data),
        "</script>\n<script>", kScript, "</script>\n</body></html>\n");
  return out;
}

absl::StatusOr<std::string> RenderReport(const ReportTable& table, std::string_view format,
                                         const ReportCharts* charts) {
  if (format == "table" || format.empty()) return RenderTable(table);
  if (format == "csv") return RenderCsv(table);
  if (format == "json") return RenderJson(table);
  if (format == "html") return RenderHtml(table, charts != nullptr ? *charts : ReportCharts{});
  return absl::InvalidArgumentError(
      Cat("unknown report format \"", format, "\"; use table, csv, json or html"));
}

}  // namespace herald
