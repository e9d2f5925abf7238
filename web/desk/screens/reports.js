// Reports over a date range, each with a chart (Chart.js) and its table, and
// a CSV download of the same table (GET /api/v1/reports/{name}). "Delivery
// against goal" draws one campaign's cumulative delivery day by day with its
// goal and the expected pace (the goal spread evenly over the campaign's days).

import { html, Component, createRef, ChartJs } from '../lib.js';
import { api, queryString, seg } from '../api.js';
import { Table } from '../ui.js';
import { day, num } from '../util.js';

const kDelivery = { name: 'delivery', description: "a campaign's delivery day by day against its goal and the expected pace" };
const kColors = ['#1f5fa8', '#c0392b', '#2e8540', '#8e44ad', '#d35400', '#16a085', '#7f8c8d', '#b7950b'];

// "2026-06-01" + n days
function addDays(d, n) {
  const t = new Date(`${d}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}
function daysBetween(a, b) {  // inclusive list from a to b
  const out = [];
  for (let d = a; d <= b && out.length < 3700; d = addDays(d, 1)) out.push(d);
  return out;
}
const unique = (xs) => [...new Set(xs)];
const val = (v) => (v === null || v === undefined ? null : Number(v));

// The chart for a report table: {type, labels, datasets, y1}.
export function chartFor(name, table) {
  const rows = table.rows || [];
  const bar = (labels, datasets, extra = {}) => ({ type: 'bar', labels, datasets, ...extra });
  const perCampaign = (labelKey, valueKey) => {
    const labels = unique(rows.map((r) => r[labelKey]));
    return unique(rows.map((r) => r.campaign)).map((c) => ({
      label: c,
      data: labels.map((l) => { const r = rows.find((x) => x[labelKey] === l && x.campaign === c); return r ? val(r[valueKey]) : null; }),
    }));
  };
  switch (name) {
    case 'campaign-item-summary':
      return bar(rows.map((r) => r.item), [
        { label: 'Goal', data: rows.map((r) => val(r.goal)) },
        { label: 'Delivered', data: rows.map((r) => val(r.delivered)) },
      ]);
    case 'reach-frequency-day': {
      const labels = unique(rows.map((r) => r.date));
      return { type: 'line', labels, datasets: perCampaign('date', 'reach').map((d) => ({ ...d, label: `Reach: ${d.label}` })) };
    }
    case 'reach-frequency-item':
      return bar(rows.map((r) => r.item), [
        { label: 'Reach', data: rows.map((r) => val(r.reach)) },
        { label: 'Frequency', data: rows.map((r) => val(r.frequency)), yAxisID: 'y1', type: 'line' },
      ], { y1: 'Frequency' });
    case 'reach-frequency-campaign':
      return bar(rows.map((r) => r.campaign), [
        { label: 'Reach', data: rows.map((r) => val(r.reach)) },
        { label: 'Frequency', data: rows.map((r) => val(r.frequency)), yAxisID: 'y1', type: 'line' },
      ], { y1: 'Frequency' });
    case 'campaign-event-summary': {
      const labels = unique(rows.map((r) => r.campaign));
      const events = unique(rows.map((r) => r.event));
      return bar(labels, events.map((ev) => ({
        label: ev,
        data: labels.map((c) => { const r = rows.find((x) => x.campaign === c && x.event === ev); return r ? val(r.events) : null; }),
      })));
    }
    case 'ad-placement':
      return bar(unique(rows.map((r) => r.page_group)), perCampaign('page_group', 'requests'), { stacked: true });
    case 'house-ad-fill':
      return bar(rows.map((r) => r.item), [
        { label: 'Expected share %', data: rows.map((r) => val(r.expected_share)) },
        { label: 'Actual share %', data: rows.map((r) => val(r.house_share)) },
      ]);
    case 'discount-usage': {
      // Each discount's orders, and the amount it took off on the right axis
      // (rows of further currencies are left out of the amount).
      const first = rows.filter((r, i) => rows.findIndex((x) => x.campaign === r.campaign && x.discount === r.discount) === i);
      return bar(first.map((r) => r.discount), [
        { label: 'Orders', data: first.map((r) => val(r.orders)) },
        { label: 'Units discounted', data: first.map((r) => val(r.units)) },
        { label: `Amount off${first[0] && first[0].currency ? ` (${first[0].currency})` : ''}`, data: first.map((r) => val(r.amount)), yAxisID: 'y1', type: 'line' },
      ], { y1: 'Amount off' });
    }
    case 'conversions': {
      const main = rows.filter((r) => r.responses !== null && r.responses !== undefined);
      const labels = main.map((r) => (r.channel ? `${r.action} (${r.channel})` : r.action));
      return bar(labels, [
        { label: 'Accepted', data: main.map((r) => val(r.accepted)) },
        { label: 'Rejected', data: main.map((r) => val(r.rejected)) },
        { label: 'Other', data: main.map((r) => (val(r.clicked) || 0) + (val(r.impressions) || 0) + (val(r.other) || 0)) },
      ], { stacked: true });
    }
    default: {
      const cols = table.columns || [];
      const text = cols.filter((c) => c.kind === 'text' || c.kind === 'date');
      const nums = cols.filter((c) => c.kind === 'integer');
      return bar(rows.map((r) => text.map((c) => r[c.key]).join(' / ')),
        nums.map((c) => ({ label: c.title, data: rows.map((r) => val(r[c.key])) })));
    }
  }
}

// A Chart.js chart of `spec`, drawn again when the spec changes.
export class ReportChart extends Component {
  constructor() {
    super();
    this.canvas = createRef();
    this.chart = null;
  }
  componentDidMount() { this.draw(); }
  componentDidUpdate(prev) { if (prev.spec !== this.props.spec) this.draw(); }
  componentWillUnmount() { if (this.chart) this.chart.destroy(); }
  draw() {
    if (this.chart) this.chart.destroy();
    const { spec } = this.props;
    const Chart = ChartJs();
    const scales = { y: { beginAtZero: true, stacked: !!spec.stacked }, x: { stacked: !!spec.stacked } };
    if (spec.y1) scales.y1 = { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: spec.y1 } };
    this.chart = new Chart(this.canvas.current, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map((d, i) => ({
          borderColor: kColors[i % kColors.length],
          backgroundColor: d.type === 'line' || spec.type === 'line' ? kColors[i % kColors.length] : `${kColors[i % kColors.length]}cc`,
          ...d,
        })),
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales, spanGaps: true,
        plugins: { legend: { position: 'bottom' } } },
    });
  }
  render({ label, id }) {
    return html`<div class="chart"><canvas id=${id} ref=${this.canvas} role="img" aria-label=${label}></canvas></div>`;
  }
}

export class Reports extends Component {
  constructor(props) {
    super(props);
    const q = props.query || new URLSearchParams();
    this.state = {
      reports: [], name: q.get('report') || 'campaign-item-summary', from: q.get('from') || '', to: q.get('to') || '',
      campaign: q.get('campaign') || '', table: null, delivery: null, busy: false, shown: null,
    };
  }
  async componentDidMount() {
    try {
      const r = await api('GET', '/api/v1/reports');
      this.setState({ reports: r.reports || [] });
      if (this.state.name !== 'delivery' || this.state.campaign) await this.submit();
    } catch (e) {
      this.props.desk.error(e);
    }
  }
  query(extra = {}) {
    const { from, to, campaign } = this.state;
    return { from, to: to ? addDays(to, 1) : '', campaign, ...extra };
  }
  async submit() {
    const { name, campaign } = this.state;
    const { desk } = this.props;
    this.setState({ busy: true });
    try {
      if (name === 'delivery') {
        if (!campaign) { desk.notify({ kind: 'error', text: 'Choose a campaign for "Delivery against goal".' }); this.setState({ busy: false }); return; }
        const delivery = await this.delivery();
        this.setState({ delivery, table: null, busy: false, shown: name });
      } else {
        const table = await api('GET', `/api/v1/reports/${seg(name)}`, { query: this.query({ format: 'json' }) });
        this.setState({ table, delivery: null, busy: false, shown: name, spec: chartFor(name, table) });
      }
    } catch (e) {
      this.setState({ busy: false });
      desk.error(e);
    }
  }
  // One campaign's delivery per day, its goal and the expected pace.
  async delivery() {
    const { desk } = this.props;
    const { from, to, campaign: id } = this.state;
    const c = (desk.catalog.campaigns || []).find((x) => x.id === id);
    const start = day(c.start);
    const end = day(c.end);
    const first = from && from > start ? from : start;
    const last = to && to < end ? to : end;
    const [perDay, summary] = await Promise.all([
      api('GET', '/api/v1/reports/reach-frequency-day', { query: { campaign: id, from: start, to: addDays(end, 1), format: 'json' } }),
      api('GET', '/api/v1/reports/campaign-item-summary', { query: { campaign: id, format: 'json' } }),
    ]);
    const clicks = c.goalEvent === 'GOAL_EVENT_CLICKS';
    const byDay = new Map();
    for (const r of perDay.rows || []) byDay.set(r.date, (byDay.get(r.date) || 0) + Number((clicks ? r.clicks : r.requests) || 0));
    const goal = (summary.rows || []).reduce((t, r) => t + Number(r.goal || 0), 0);
    const all = daysBetween(start, end);
    const today = new Date().toISOString().slice(0, 10);
    let cumulative = 0;
    const rows = [];
    all.forEach((d, i) => {
      cumulative += byDay.get(d) || 0;
      if (d >= first && d <= last) {
        rows.push({ date: d, delivered: byDay.get(d) || 0, cumulative: d <= today ? cumulative : null,
          expected: Math.round((goal * (i + 1)) / all.length) });
      }
    });
    const spec = {
      type: 'line',
      labels: rows.map((r) => r.date),
      datasets: [
        { label: `Delivered (${clicks ? 'clicks' : 'requests'}, cumulative)`, data: rows.map((r) => r.cumulative) },
        { label: 'Expected pace', data: rows.map((r) => r.expected), borderDash: [6, 4], pointRadius: 0 },
        { label: 'Goal', data: rows.map(() => goal), pointRadius: 0, borderDash: [2, 2] },
      ],
    };
    return { campaign: c, goal, rows, spec, event: clicks ? 'clicks' : 'requests',
      csv: `/api/v1/reports/reach-frequency-day${queryString({ campaign: id, from: first, to: addDays(last, 1), format: 'csv' })}` };
  }
  render({ desk }, { reports, name, from, to, campaign, table, delivery, busy, shown, spec }) {
    const all = [kDelivery, ...reports];
    const described = all.find((r) => r.name === name);
    const csv = table ? `/api/v1/reports/${seg(shown)}${queryString(this.query({ format: 'csv' }))}` : '';
    return html`<h1 tabindex="-1">Reports</h1>
      <form id="report-form" onSubmit=${(e) => { e.preventDefault(); this.submit(); }}>
        <div class="fields">
          <div class="field"><label for="report-name">Report</label>
            <select id="report-name" value=${name} aria-describedby="report-description"
              onChange=${(e) => this.setState({ name: e.currentTarget.value })}>
              <option value="delivery">Delivery against goal</option>
              ${reports.map((r) => html`<option value=${r.name}>${r.title || r.name}</option>`)}
            </select>
            <small class="help" id="report-description">${described ? described.description : ''}</small></div>
          <div class="field"><label for="report-from">First day</label>
            <input id="report-from" type="date" value=${from} onInput=${(e) => this.setState({ from: e.currentTarget.value })} /></div>
          <div class="field"><label for="report-to">Last day</label>
            <input id="report-to" type="date" value=${to} onInput=${(e) => this.setState({ to: e.currentTarget.value })} /></div>
          <div class="field"><label for="report-campaign">Campaign</label>
            <select id="report-campaign" value=${campaign} onChange=${(e) => this.setState({ campaign: e.currentTarget.value })}>
              <option value="">${name === 'delivery' ? '(choose one)' : 'All campaigns'}</option>
              ${(desk.catalog.campaigns || []).map((c) => html`<option value=${c.id}>${c.name || c.id}</option>`)}
            </select></div>
        </div>
        <button type="submit" class="primary" disabled=${busy}>Show</button>
      </form>
      ${table ? html`<section aria-labelledby="report-h" id="report" data-report=${shown}>
        <h2 id="report-h">${table.title || shown}</h2>
        <p>${table.subtitle}</p>
        <p><a href=${csv} download=${`${shown}.csv`} id="report-csv">Download CSV</a></p>
        <${ReportChart} id="report-chart" spec=${spec} label=${`Chart of ${table.title || shown}; the table below has its values`} />
        <${Table} id="report-table" rows=${table.rows || []} columns=${(table.columns || []).map((c) => ({
          title: c.title, num: c.kind !== 'text' && c.kind !== 'date', render: (r) => (c.kind === 'text' || c.kind === 'date' ? (r[c.key] ?? '') : num(r[c.key])),
        }))} />
      </section>` : null}
      ${delivery ? html`<section aria-labelledby="report-h" id="report" data-report="delivery">
        <h2 id="report-h">Delivery against goal: ${delivery.campaign.name || delivery.campaign.id}</h2>
        <p>Goal ${num(delivery.goal)} ${delivery.event}, ${day(delivery.campaign.start)} to ${day(delivery.campaign.end)}; the expected pace spreads the goal evenly over the campaign's days.</p>
        <p><a href=${delivery.csv} download="delivery.csv" id="report-csv">Download CSV (requests, clicks and reach per day)</a></p>
        <${ReportChart} id="report-chart" spec=${delivery.spec} label="Cumulative delivery against goal and expected pace; the table below has its values" />
        <${Table} id="report-table" rows=${delivery.rows} columns=${[
          { title: 'Date', key: 'date' }, { title: 'Delivered', num: true, render: (r) => num(r.delivered) },
          { title: 'Cumulative', num: true, render: (r) => num(r.cumulative) },
          { title: 'Expected', num: true, render: (r) => num(r.expected) }]} />
      </section>` : null}`;
  }
}
