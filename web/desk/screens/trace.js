// TraceScores: an ad request answered with every candidate's fate
// (POST /api/v1/ads:trace; nothing is recorded).

import { html, Component } from '../lib.js';
import { api } from '../api.js';
import { AttributeInputs, toPlainObject } from '../attributes.js';
import { NumberInput } from '../form.js';
import { refsOf } from '../schema.js';
import { Table } from '../ui.js';
import { num } from '../util.js';

const kFinal = ['winner', 'filtered', 'excluded', 'skipped', 'error'];

// Trace entries grouped by subject: [{subject, entries, fate}]
export function candidates(trace, winners) {
  const won = new Set(winners.map((w) => w.itemId));
  const groups = new Map();
  for (const e of trace) {
    if (!e.subject || e.verdict === 'timing') continue;
    if (!groups.has(e.subject)) groups.set(e.subject, []);
    groups.get(e.subject).push(e);
  }
  return [...groups.entries()].map(([subject, entries]) => {
    let fate;
    if (won.has(subject)) fate = 'winner';
    else {
      const last = [...entries].reverse().find((e) => kFinal.includes(e.verdict)) || entries[entries.length - 1];
      fate = `${last.verdict}${last.component ? ` by ${last.component}` : ''}${last.reason ? `: ${last.reason}` : ''}`;
    }
    return { subject, entries, fate, won: won.has(subject) };
  });
}

export class TraceScores extends Component {
  constructor() {
    super();
    this.state = {
      pageGroups: [], size: '', count: 3, userId: '', sessionId: '', pageHistory: '', time: '',
      discounts: false, profile: {}, context: {}, result: null, busy: false,
    };
  }
  async submit() {
    const s = this.state;
    const { desk } = this.props;
    const body = {
      pageGroups: s.pageGroups, size: s.size, count: s.count || 1, userId: s.userId, sessionId: s.sessionId,
      profile: toPlainObject(desk.catalog.userAttributes, s.profile),
      context: toPlainObject(desk.catalog.contextAttributes, s.context),
      pageHistory: s.pageHistory.split(',').map((x) => x.trim()).filter(Boolean),
      discounts: s.discounts, trace: true,
    };
    if (s.time) body.time = new Date(s.time).toISOString();
    this.setState({ busy: true });
    try {
      const result = await api('POST', '/api/v1/ads:trace', { body });
      this.setState({ result, busy: false });
    } catch (e) {
      this.setState({ busy: false, result: null });
      desk.error(e);
    }
  }
  render({ desk }, s) {
    const refs = refsOf(desk.catalog);
    const toggle = (name, on) => this.setState({ pageGroups: on ? [...s.pageGroups, name] : s.pageGroups.filter((x) => x !== name) });
    const trace = s.result ? (Array.isArray(s.result.trace) ? s.result.trace : ((s.result.trace || {}).entries || [])) : [];
    const winners = s.result ? s.result.winners || [] : [];
    const run = trace.filter((e) => !e.subject && e.verdict !== 'timing');
    const timings = trace.filter((e) => e.verdict === 'timing');
    return html`<h1 tabindex="-1">TraceScores</h1>
      <p>Enter an ad request: the selector answers it on the current catalog and tells each candidate's fate. Nothing is recorded.</p>
      <form id="trace-form" onSubmit=${(e) => { e.preventDefault(); this.submit(); }}>
        <fieldset class="group checks"><legend>Page groups</legend>
          ${refs.pageGroups.map((p, i) => html`<span class="check"><input type="checkbox" id=${`trace-pg-${i}`}
            checked=${s.pageGroups.includes(p.value)} onChange=${(e) => toggle(p.value, e.currentTarget.checked)} />
            <label for=${`trace-pg-${i}`}>${p.label}</label></span>`)}
        </fieldset>
        <div class="fields">
          <div class="field"><label for="trace-size">Size</label>
            <select id="trace-size" value=${s.size} onChange=${(e) => this.setState({ size: e.currentTarget.value })}>
              <option value="">any size</option>
              ${refs.sizes.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
            </select></div>
          <div class="field"><label for="trace-count">Ads wanted</label>
            <${NumberInput} id="trace-count" integer=${true} min="1" value=${s.count} onChange=${(v) => this.setState({ count: v })} /></div>
          <div class="field"><label for="trace-user">User id</label>
            <input id="trace-user" value=${s.userId} onInput=${(e) => this.setState({ userId: e.currentTarget.value })} /></div>
          <div class="field"><label for="trace-session">Session id</label>
            <input id="trace-session" value=${s.sessionId} onInput=${(e) => this.setState({ sessionId: e.currentTarget.value })} /></div>
          <div class="field"><label for="trace-history">Items already on the page</label>
            <input id="trace-history" value=${s.pageHistory} placeholder="item-1, item-2" onInput=${(e) => this.setState({ pageHistory: e.currentTarget.value })} /></div>
          <div class="field"><label for="trace-time">Time (empty = now)</label>
            <input id="trace-time" type="datetime-local" value=${s.time} onInput=${(e) => this.setState({ time: e.currentTarget.value })} /></div>
          <div class="field check"><input id="trace-discounts" type="checkbox" checked=${s.discounts}
            onChange=${(e) => this.setState({ discounts: e.currentTarget.checked })} />
            <label for="trace-discounts">Select discount ads instead of ads</label></div>
        </div>
        <${AttributeInputs} decls=${desk.catalog.userAttributes} values=${s.profile} idp="trace-profile" legend="The user (user.*)"
          onChange=${(v) => this.setState({ profile: v })} />
        <${AttributeInputs} decls=${desk.catalog.contextAttributes} values=${s.context} idp="trace-context" legend="The request (context.*)"
          onChange=${(v) => this.setState({ context: v })} />
        <button type="submit" class="primary" disabled=${s.busy}>Trace</button>
      </form>
      ${s.result ? html`<section aria-labelledby="trace-result-h" id="trace-result">
        <h2 id="trace-result-h">Winners</h2>
        ${winners.length ? html`<${Table} id="trace-winners" rows=${winners} rowKey=${(w) => w.itemId} columns=${[
          { title: 'Item', render: (w) => `${w.name || w.itemId} (${w.itemId})` },
          { title: 'Campaign', key: 'campaignId' }, { title: 'Kind', key: 'kind' },
          { title: 'Score', num: true, render: (w) => num(w.score) }]} />` : html`<p>No ad won.</p>`}
        <h2>Every candidate</h2>
        <ul class="candidates">${candidates(trace, winners).map((c) => html`<li key=${c.subject} data-subject=${c.subject}>
          <details><summary><strong>${c.subject}</strong>: <span class=${c.won ? 'ok' : ''}>${c.fate}</span></summary>
            <${Table} rows=${c.entries} columns=${[
              { title: 'Stage', key: 'stage' }, { title: 'Component', key: 'component' }, { title: 'Verdict', key: 'verdict' },
              { title: 'Value', num: true, render: (e) => (e.value ? num(e.value) : '') }, { title: 'Why', key: 'reason' }]} />
          </details></li>`)}</ul>
        ${run.length ? html`<h2>The request</h2><${Table} rows=${run} columns=${[
          { title: 'Stage', key: 'stage' }, { title: 'Component', key: 'component' }, { title: 'Verdict', key: 'verdict' },
          { title: 'Why', key: 'reason' }]} />` : null}
        ${timings.length ? html`<details><summary>Timings</summary><${Table} rows=${timings} columns=${[
          { title: 'Stage', key: 'stage' }, { title: 'Component', key: 'component' },
          { title: 'µs', num: true, render: (e) => num(e.elapsed_us) }]} /></details>` : null}
      </section>` : null}`;
  }
}
