// Catalog history: every version (GET /api/v1/catalog/versions), one
// version's catalog, the changes between two versions
// (GET /api/v1/catalog/diff) and rollback (POST /api/v1/catalog:rollback).

import { html, Component } from '../lib.js';
import { api } from '../api.js';
import { localTime } from '../util.js';

export class History extends Component {
  constructor() {
    super();
    this.state = { versions: null, from: '', to: '', diff: null, shown: null, note: '' };
  }
  componentDidMount() { this.load(); }
  componentDidUpdate(prev) { if (prev.desk.version !== this.props.desk.version) this.load(); }
  async load() {
    try {
      const r = await api('GET', '/api/v1/catalog/versions');
      const versions = (r.versions || []).map((v) => ({ ...v, version: Number(v.version) })).sort((a, b) => b.version - a.version);
      const from = this.state.from || (versions[1] ? String(versions[1].version) : '');
      this.setState({ versions, from });
    } catch (e) {
      this.props.desk.error(e);
    }
  }
  async showDiff() {
    const { from, to } = this.state;
    try {
      const r = await api('GET', '/api/v1/catalog/diff', { query: { from, to } });
      this.setState({ diff: { from, to: to || String(this.props.desk.version), changes: r.changes || [] } });
    } catch (e) {
      this.props.desk.error(e);
    }
  }
  async view(n) {
    if (this.state.shown && this.state.shown.version === n) { this.setState({ shown: null }); return; }
    try {
      const r = await api('GET', `/api/v1/catalog/versions/${n}`);
      this.setState({ shown: { version: n, catalog: r.catalog } });
    } catch (e) {
      this.props.desk.error(e);
    }
  }
  async rollback(n) {
    const { desk } = this.props;
    if (!window.confirm(`Save version ${n}'s catalog again as the newest version?`)) return;
    await desk.save(() => api('POST', '/api/v1/catalog:rollback', { body: { version: n, note: this.state.note } }));
  }
  render({ desk }, { versions, from, to, diff, shown, note }) {
    if (!versions) return html`<h1 tabindex="-1">Catalog history</h1><p>Loading…</p>`;
    const options = versions.map((v) => html`<option value=${String(v.version)}>${v.version}</option>`);
    return html`<h1 tabindex="-1">Catalog history</h1>
      <form id="diff-form" class="inline" onSubmit=${(e) => { e.preventDefault(); this.showDiff(); }}>
        <label for="diff-from">Changes from version</label>
        <select id="diff-from" value=${from} onChange=${(e) => this.setState({ from: e.currentTarget.value })}>${options}</select>
        <label for="diff-to">to</label>
        <select id="diff-to" value=${to} onChange=${(e) => this.setState({ to: e.currentTarget.value })}>
          <option value="">the current version</option>${options}</select>
        <button type="submit">Show the changes</button>
      </form>
      ${diff ? html`<section aria-labelledby="diff-h" id="diff">
        <h2 id="diff-h">From version ${diff.from} to ${diff.to}</h2>
        ${diff.changes.length ? html`<ul>${diff.changes.map((c) => html`<li>${typeof c === 'string' ? c : JSON.stringify(c)}</li>`)}</ul>` : html`<p>No changes.</p>`}
      </section>` : null}
      ${desk.canEdit ? html`<div class="field inline-field"><label for="rollback-note">Note for a rollback</label>
        <input id="rollback-note" value=${note} onInput=${(e) => this.setState({ note: e.currentTarget.value })} /></div>` : null}
      <table id="versions">
        <caption>Every version, newest first</caption>
        <thead><tr><th scope="col" class="num">Version</th><th scope="col">Saved</th><th scope="col">By</th>
          <th scope="col">What changed</th><th scope="col">Actions</th></tr></thead>
        <tbody>${versions.map((v) => html`<tr key=${v.version} data-version=${v.version}>
          <td class="num">${v.version}${v.version === desk.version ? ' (current)' : ''}</td>
          <td>${localTime(v.time)}</td>
          <td>${v.author}</td>
          <td>${Number(v.rollbackOf || 0) ? html`<p>rollback to version ${v.rollbackOf}</p>` : null}
            <ul class="plain">${(Array.isArray(v.summary) ? v.summary : String(v.summary || '').split('\n').filter(Boolean))
              .map((s) => html`<li>${s}</li>`)}</ul></td>
          <td class="row-actions">
            <button type="button" aria-expanded=${shown && shown.version === v.version ? 'true' : 'false'}
              onClick=${() => this.view(v.version)}>View version ${v.version}</button>
            ${v.version !== desk.version ? html`<button type="button" class="change" disabled=${!desk.canEdit}
              onClick=${() => this.rollback(v.version)}>Roll back to version ${v.version}</button>` : null}
          </td>
        </tr>`)}</tbody>
      </table>
      ${shown ? html`<section aria-labelledby="shown-h"><h2 id="shown-h">Version ${shown.version}</h2>
        <pre class="json" tabindex="0">${JSON.stringify(shown.catalog, null, 2)}</pre></section>` : null}`;
  }
}
