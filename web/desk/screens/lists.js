// The List Manager (docs/business-desk.md, "List Manager and mail jobs"):
// the recipient and opt-out lists kept in the store (GET /api/v1/lists), a
// list's rows a page at a time (GET /api/v1/lists/{name}), importing a CSV
// with a preview of its column mapping (POST /api/v1/lists:preview, then
// PUT /api/v1/lists/{name}), opt-out lists made from pasted addresses and
// added to (POST /api/v1/lists/{name}:add), and deleting a list. Also the
// audience of a direct-mail item (GET /api/v1/mail-items/{item}/audience),
// shown on its screen.

import { html, Component } from '../lib.js';
import { api, seg } from '../api.js';
import { localTime, num } from '../util.js';

const kDelimiters = [[',', 'comma (,)'], [';', 'semicolon (;)'], ['\t', 'tab'], ['|', 'vertical bar (|)']];
const kNamePattern = '[A-Za-z0-9._\\-]{1,64}';
const kPageSize = 50;

export const kindLabel = (kind) => (kind === 'opt-out' ? 'opt-out' : 'recipients');

// A refused list change: the API's message as it is (a 409 here says which
// items use a list, or that a recipient list takes no additions; it is not
// a catalog version conflict).
export function listError(desk, e, prefix = '') {
  const details = (e.issues || []).map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}${i.line ? ` (line ${i.line})` : ''}`);
  if (e.field && !details.length) details.push(`field: ${e.field}`);
  desk.notify({ kind: 'error', text: `${prefix}${e.status === 403 ? 'Refused: ' : ''}${e.message}`, details });
}

// The lists as the forms' reference lists: {recipientLists, optOutLists}.
export async function loadListRefs() {
  const r = await api('GET', '/api/v1/lists');
  return listRefs(r.lists || []);
}

export function listRefs(lists) {
  const option = (l) => ({ value: l.name, label: `${l.name} (${num(l.rows)} ${Number(l.rows) === 1 ? 'row' : 'rows'})` });
  return {
    recipientLists: lists.filter((l) => l.kind !== 'opt-out').map(option),
    optOutLists: lists.filter((l) => l.kind === 'opt-out').map(option),
  };
}

// "a@x.example, b@y.example\nc@z.example" -> the three addresses.
export function splitAddresses(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter((s) => s !== '');
}

const plural = (n, one, many) => `${num(n)} ${Number(n) === 1 ? one : many}`;

// ---- the lists ---------------------------------------------------------------

export class ListManager extends Component {
  constructor() {
    super();
    this.state = { lists: null, error: '' };
  }
  componentDidMount() { this.load(); }
  async load() {
    try {
      const r = await api('GET', '/api/v1/lists');
      this.setState({ lists: r.lists || [], error: '' });
    } catch (e) {
      this.setState({ lists: [], error: e.message });
    }
  }
  render({ desk }, { lists, error }) {
    return html`<h1 tabindex="-1">List Manager</h1>
      <p>Recipient lists (who a direct-mail item is sent to, with the columns its templates use) and opt-out lists
        (addresses never mailed), kept in the store so that every server and every mail job sees the same lists.
        A direct-mail item names them in its recipients and its opt-out list; the catalog settings name the site-wide opt-out list.</p>
      ${error ? html`<p class="error" role="alert">The lists could not be loaded: ${error}</p>` : null}
      ${lists === null ? html`<p>Loading…</p>` : lists.length === 0 ? html`<p class="muted">No lists yet.</p>` : html`
      <table id="lists">
        <caption>Lists</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col" class="num">Rows</th><th scope="col">Columns</th>
          <th scope="col">Updated by</th><th scope="col">Updated</th><th scope="col">Description</th></tr></thead>
        <tbody>${lists.map((l) => html`<tr key=${l.name} data-list=${l.name}>
          <th scope="row"><a href=${`#/lists/${seg(l.name)}`}>${l.name}</a></th>
          <td>${kindLabel(l.kind)}</td>
          <td class="num">${num(l.rows)}</td>
          <td>${(l.columns || []).join(', ')}</td>
          <td>${l.updatedBy || ''}</td>
          <td>${localTime(l.updated)}</td>
          <td>${l.description || ''}</td>
        </tr>`)}</tbody>
      </table>`}
      <div class="columns">
        <section aria-labelledby="import-title">
          <h2 id="import-title">Import a recipient list</h2>
          <p class="muted">A CSV file with a header row. The column with the address becomes <code>email</code>;
            an id column may become <code>id</code>; the other columns keep their names and are the <code>{{column}}</code> placeholders of the item's templates.
            Invalid addresses and repeated addresses are left out.</p>
          <${ImportForm} desk=${desk} kind="recipients" idp="import" lists=${lists || []} onSaved=${() => this.load()} />
        </section>
        <section aria-labelledby="optout-title">
          <h2 id="optout-title">New opt-out list</h2>
          <p class="muted">Addresses that are never mailed: pasted, or the address column of a CSV file.
            Add to an existing opt-out list on its page.</p>
          <${ImportForm} desk=${desk} kind="opt-out" idp="optout" lists=${lists || []} onSaved=${() => this.load()} />
        </section>
      </div>`;
  }
}

// ---- importing ---------------------------------------------------------------

// Props: desk, kind ("recipients" | "opt-out"), idp (id prefix), lists, onSaved.
class ImportForm extends Component {
  constructor(props) {
    super(props);
    this.state = {
      name: '', description: '', source: props.kind === 'opt-out' ? 'addresses' : 'csv', csv: '', fileName: '',
      addresses: '', delimiter: ',', emailColumn: '', idColumn: '', preview: null, previewError: '', previewing: false,
      saving: false, result: null,
    };
    this.seq = 0;
  }
  componentWillUnmount() { this.seq++; }

  request() {
    const { csv, delimiter, emailColumn, idColumn, description } = this.state;
    const body = { kind: this.props.kind, csv, delimiter };
    if (emailColumn) body.emailColumn = emailColumn;
    if (idColumn && this.props.kind !== 'opt-out') body.idColumn = idColumn;
    if (description) body.description = description;
    return body;
  }

  // POST /api/v1/lists:preview with the mapping chosen so far.
  async preview(changes = {}) {
    await new Promise((resolve) => this.setState({ ...changes, result: null }, resolve));
    if (!this.state.csv.trim()) {
      this.setState({ preview: null, previewError: 'Choose a CSV file or paste its text first.' });
      return;
    }
    const n = ++this.seq;
    this.setState({ previewing: true });
    try {
      const preview = await api('POST', '/api/v1/lists:preview', { body: this.request() });
      if (n !== this.seq) return;
      this.setState({ preview, previewError: '', previewing: false });
    } catch (e) {
      if (n !== this.seq) return;
      this.setState({ preview: null, previewing: false,
        previewError: `${e.message}${e.field ? ` (${e.field})` : ''}` });
    }
  }

  readFile(input) {
    const file = input.files && input.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      const text = String(reader.result || '');
      const delimiter = /\.tsv$/i.test(file.name) ? '\t' : this.state.delimiter;
      // A new file: a new mapping, guessed again.
      this.preview({ csv: text, fileName: file.name, source: 'csv', delimiter, emailColumn: '', idColumn: '' });
    };
    reader.onerror = () => this.setState({ previewError: `${file.name} could not be read: ${reader.error && reader.error.message}` });
    reader.readAsText(file);
  }

  async save() {
    const { desk, kind, lists } = this.props;
    const { name, description, source, addresses, preview } = this.state;
    if (!new RegExp(`^${kNamePattern}$`).test(name)) {
      desk.notify({ kind: 'error', text: 'A list name is 1 to 64 letters, digits, ".", "_" or "-".' });
      return;
    }
    let body;
    if (kind === 'opt-out' && source === 'addresses') {
      const list = splitAddresses(addresses);
      if (!list.length) { desk.notify({ kind: 'error', text: 'Paste the addresses first, one a line.' }); return; }
      body = { name, kind, addresses: list };
      if (description) body.description = description;
    } else {
      if (!preview) { desk.notify({ kind: 'error', text: 'Preview the column mapping first.' }); return; }
      body = { name, ...this.request() };
      body.emailColumn = this.state.emailColumn || preview.emailColumn;
    }
    const existing = lists.find((l) => l.name === name);
    if (existing && !window.confirm(`Replace the ${kindLabel(existing.kind)} list ${name} (${plural(existing.rows, 'row', 'rows')})?`)) return;
    this.setState({ saving: true });
    try {
      const r = await api('PUT', `/api/v1/lists/${seg(name)}`, { body });
      const text = `Saved the ${kindLabel(kind)} list ${name}: ${plural(r.imported, 'row', 'rows')} imported, `
        + `${plural(r.invalidAddresses, 'invalid address', 'invalid addresses')} and ${plural(r.duplicates, 'duplicate', 'duplicates')} left out.`;
      desk.notify({ kind: 'ok', text });
      this.setState({ saving: false, result: r, preview: null, csv: '', addresses: '', fileName: '', emailColumn: '', idColumn: '' });
      if (this.props.onSaved) this.props.onSaved(r);
    } catch (e) {
      this.setState({ saving: false });
      listError(desk, e, `The list ${name} was not saved: `);
    }
  }

  render({ desk, kind, idp }, s) {
    const readOnly = !desk.canEdit;
    const optOut = kind === 'opt-out';
    const pasting = optOut && s.source === 'addresses';
    const p = s.preview;
    return html`<form class="edit import" id=${`${idp}-form`} onSubmit=${(e) => { e.preventDefault(); if (readOnly) return; if (pasting || p) this.save(); else this.preview(); }}>
      <fieldset class="form-body" disabled=${readOnly}>
        <legend class="visually-hidden">${optOut ? 'New opt-out list' : 'Import a recipient list'}</legend>
        <div class="fields">
          <div class="field"><label for=${`${idp}-name`}>List name</label>
            <input id=${`${idp}-name`} required pattern=${kNamePattern} maxlength="64" autocomplete="off" value=${s.name}
              aria-describedby=${`${idp}-name-help`} onInput=${(e) => this.setState({ name: e.currentTarget.value })} />
            <small class="help" id=${`${idp}-name-help`}>letters, digits, ".", "_", "-"; a list of that name is replaced</small></div>
          <div class="field"><label for=${`${idp}-description`}>Description</label>
            <input id=${`${idp}-description`} autocomplete="off" value=${s.description}
              onInput=${(e) => this.setState({ description: e.currentTarget.value })} /></div>
          ${optOut ? html`<div class="field"><label for=${`${idp}-source`}>Addresses from</label>
            <select id=${`${idp}-source`} value=${s.source} onChange=${(e) => this.setState({ source: e.currentTarget.value, preview: null, previewError: '' })}>
              <option value="addresses">pasted addresses</option>
              <option value="csv">a CSV file or text</option>
            </select></div>` : null}
          ${pasting ? html`<div class="field wide"><label for=${`${idp}-addresses`}>Addresses</label>
            <textarea id=${`${idp}-addresses`} rows="5" spellcheck="false" value=${s.addresses} aria-describedby=${`${idp}-addresses-help`}
              onInput=${(e) => this.setState({ addresses: e.currentTarget.value })} />
            <small class="help" id=${`${idp}-addresses-help`}>one a line (or separated by commas or spaces); invalid ones are left out</small></div>` : html`
          <div class="field"><label for=${`${idp}-file`}>CSV file</label>
            <input id=${`${idp}-file`} type="file" accept=".csv,.tsv,.txt,text/csv,text/plain" aria-describedby=${`${idp}-file-help`}
              onChange=${(e) => this.readFile(e.currentTarget)} />
            <small class="help" id=${`${idp}-file-help`}>${s.fileName ? `read ${s.fileName}` : 'read in the browser, then previewed'}</small></div>
          <div class="field"><label for=${`${idp}-delimiter`}>Delimiter</label>
            <select id=${`${idp}-delimiter`} value=${s.delimiter}
              onChange=${(e) => { const delimiter = e.currentTarget.value; if (p) this.preview({ delimiter, emailColumn: '', idColumn: '' }); else this.setState({ delimiter }); }}>
              ${kDelimiters.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
            </select></div>
          <div class="field wide"><label for=${`${idp}-csv`}>CSV text</label>
            <textarea id=${`${idp}-csv`} rows="6" class="code" spellcheck="false" wrap="off" value=${s.csv} aria-describedby=${`${idp}-csv-help`}
              onInput=${(e) => this.setState({ csv: e.currentTarget.value, fileName: '', preview: null, result: null })} />
            <small class="help" id=${`${idp}-csv-help`}>the file's text, or paste it here; the first line is the header</small></div>`}
        </div>
        ${!pasting ? html`<div class="actions">
          <button type="button" class="change" disabled=${readOnly || s.previewing} onClick=${() => this.preview()}>${p ? 'Preview again' : 'Preview the mapping'}</button>
        </div>` : null}
        ${!pasting && s.previewError ? html`<p class="error" role="alert" id=${`${idp}-preview-error`}>The preview failed: ${s.previewError}</p>` : null}
        ${!pasting && p ? html`<${PreviewPanel} idp=${idp} preview=${p} optOut=${optOut} emailColumn=${s.emailColumn} idColumn=${s.idColumn}
          busy=${s.previewing} onMapping=${(m) => this.preview(m)} />` : null}
      </fieldset>
      <div class="actions">
        <button type="submit" class="change primary" disabled=${readOnly || s.saving || (!pasting && !p)}>
          ${optOut ? 'Save the opt-out list' : 'Save the recipient list'}</button>
        ${!pasting && !p ? html`<span class="muted">Preview the mapping to save.</span>` : null}
      </div>
      ${s.result ? html`<${SaveResult} idp=${idp} result=${s.result} />` : null}
    </form>`;
  }
}

// The column mapping and the counts of a ListPreview, with selects for the
// address column and the id column (each change previews again).
function PreviewPanel({ idp, preview: p, optOut, emailColumn, idColumn, busy, onMapping }) {
  const columns = p.columns || [];
  const mapped = p.mappedColumns || [];
  const counts = [
    ['rows', 'Rows read', p.rows], ['valid', 'Valid', p.valid], ['invalid', 'Invalid addresses', p.invalidAddresses],
    ['duplicates', 'Duplicates', p.duplicates],
  ];
  return html`<section class="preview" id=${`${idp}-preview`} aria-labelledby=${`${idp}-preview-title`} aria-busy=${busy ? 'true' : 'false'}
      data-email-column=${p.emailColumn || ''} data-id-column=${p.idColumn || ''}>
    <h3 id=${`${idp}-preview-title`}>Preview: nothing is saved yet</h3>
    <div class="fields">
      <div class="field"><label for=${`${idp}-email-column`}>Address column (becomes <code>email</code>)</label>
        <select id=${`${idp}-email-column`} value=${emailColumn || p.emailColumn || ''}
          onChange=${(e) => onMapping({ emailColumn: e.currentTarget.value })}>
          ${columns.map((c) => html`<option value=${c}>${c}${c === p.emailColumn && !emailColumn ? ' (guessed)' : ''}</option>`)}
        </select></div>
      ${optOut ? null : html`<div class="field"><label for=${`${idp}-id-column`}>Id column (becomes <code>id</code>)</label>
        <select id=${`${idp}-id-column`} value=${idColumn || ''} onChange=${(e) => onMapping({ idColumn: e.currentTarget.value })}>
          <option value="">(none)</option>
          ${columns.filter((c) => c !== (emailColumn || p.emailColumn)).map((c) => html`<option value=${c}>${c}</option>`)}
        </select></div>`}
    </div>
    <table id=${`${idp}-mapping`} class="mapping">
      <caption>Columns: in the file, and as stored</caption>
      <thead><tr><th scope="col">In the file</th><th scope="col">Stored as</th></tr></thead>
      <tbody>${columns.map((c, i) => html`<tr key=${c}><td>${c}</td><td>${mapped[i] ?? ''}</td></tr>`)}
        ${mapped.length > columns.length ? mapped.slice(columns.length).map((m) => html`<tr><td></td><td>${m}</td></tr>`) : null}</tbody>
    </table>
    <dl class="totals" id=${`${idp}-counts`}>
      ${counts.map(([key, label, v]) => html`<dt>${label}</dt><dd id=${`${idp}-count-${key}`} data-value=${Number(v || 0)}>${num(v || 0)}</dd>`)}
    </dl>
    ${(p.sample || []).length ? html`<div class="scroll"><table id=${`${idp}-sample`}>
      <caption>The first ${num(p.sample.length)} rows, as they will be stored</caption>
      <thead><tr>${mapped.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
      <tbody>${p.sample.map((row, i) => html`<tr key=${i}>${row.map((v) => html`<td>${v}</td>`)}</tr>`)}</tbody>
    </table></div>` : html`<p class="muted">No rows to store.</p>`}
    <${Problems} id=${`${idp}-problems`} problems=${p.problems} title="Problems (rows left out)" />
  </section>`;
}

function Problems({ id, problems, title }) {
  if (!problems || !problems.length) return html`<p class="muted" id=${id}>No problems.</p>`;
  return html`<div id=${id}><h4>${title}</h4><ul class="problems">
    ${problems.map((x) => html`<li data-line=${x.line || ''}>${x.line ? `line ${x.line}: ` : ''}${x.message}</li>`)}
  </ul></div>`;
}

function SaveResult({ idp, result: r }) {
  const l = r.list || {};
  return html`<div class="import-result" id=${`${idp}-result`} role="status">
    <p>Saved <a href=${`#/lists/${seg(l.name || '')}`}>${l.name}</a> (${kindLabel(l.kind)}, ${plural(l.rows, 'row', 'rows')}).</p>
    <dl class="totals">
      <dt>Imported</dt><dd id=${`${idp}-result-imported`} data-value=${Number(r.imported || 0)}>${num(r.imported || 0)}</dd>
      <dt>Invalid addresses</dt><dd id=${`${idp}-result-invalid`} data-value=${Number(r.invalidAddresses || 0)}>${num(r.invalidAddresses || 0)}</dd>
      <dt>Duplicates</dt><dd id=${`${idp}-result-duplicates`} data-value=${Number(r.duplicates || 0)}>${num(r.duplicates || 0)}</dd>
    </dl>
    <${Problems} id=${`${idp}-result-problems`} problems=${r.problems} title="Rows left out" />
  </div>`;
}

// ---- one list ----------------------------------------------------------------

export class ListView extends Component {
  constructor() {
    super();
    this.state = { list: null, rows: [], offset: 0, error: '', missing: false, addresses: '', added: null, busy: false };
  }
  componentDidMount() { this.load(0); }
  async load(offset) {
    try {
      const r = await api('GET', `/api/v1/lists/${seg(this.props.name)}`, { query: { offset, limit: kPageSize } });
      this.setState({ list: r.list || {}, rows: r.rows || [], offset: Number(r.offset ?? offset), error: '', missing: false });
    } catch (e) {
      this.setState({ error: e.message, missing: e.status === 404 });
    }
  }
  async add() {
    const { desk, name } = this.props;
    const addresses = splitAddresses(this.state.addresses);
    if (!addresses.length) { desk.notify({ kind: 'error', text: 'Type or paste the addresses to add, one a line.' }); return; }
    this.setState({ busy: true });
    try {
      const r = await api('POST', `/api/v1/lists/${seg(name)}:add`, { body: { addresses } });
      const invalid = r.invalid || [];
      desk.notify({
        kind: 'ok',
        text: `${plural(r.added, 'address', 'addresses')} added to ${name}${invalid.length ? `; ${plural(invalid.length, 'invalid address', 'invalid addresses')} left out` : ''}.`,
        details: invalid.map((a) => `invalid: ${a}`),
      });
      this.setState({ addresses: '', added: r, busy: false });
      await this.load(this.state.offset);
    } catch (e) {
      this.setState({ busy: false });
      listError(desk, e, `Nothing was added to ${name}: `);
    }
  }
  async remove() {
    const { desk, name } = this.props;
    if (!window.confirm(`Delete the list ${name}?`)) return;
    this.setState({ busy: true });
    try {
      await api('DELETE', `/api/v1/lists/${seg(name)}`);
      desk.notify({ kind: 'ok', text: `The list ${name} is deleted.` });
      desk.go('#/lists');
    } catch (e) {
      this.setState({ busy: false });
      listError(desk, e, `The list ${name} was not deleted: `);
    }
  }
  render({ desk, name }, { list, rows, offset, error, missing, addresses, added, busy }) {
    if (missing) return html`<h1 tabindex="-1">No list "${name}"</h1><p><a href="#/lists">All lists</a></p>`;
    const back = html`<p><a href="#/lists">All lists</a></p>`;
    if (!list) {
      return html`<h1 tabindex="-1">List ${name}</h1>${back}
        ${error ? html`<p class="error" role="alert">The list could not be loaded: ${error}</p>` : html`<p>Loading…</p>`}`;
    }
    const total = Number(list.rows || 0);
    const columns = list.columns || [];
    const optOut = list.kind === 'opt-out';
    const readOnly = !desk.canEdit;
    const last = offset + rows.length;
    return html`<h1 tabindex="-1">List ${list.name} <span class="muted">(${kindLabel(list.kind)})</span></h1>
      ${back}
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <dl class="facts" id="list-info" data-rows=${total} data-kind=${list.kind}>
        <dt>Kind</dt><dd>${optOut ? 'opt-out: addresses never mailed' : 'recipients'}</dd>
        <dt>Rows</dt><dd>${num(total)}</dd>
        <dt>Columns</dt><dd>${columns.join(', ')}</dd>
        <dt>Updated</dt><dd>${localTime(list.updated)}${list.updatedBy ? ` by ${list.updatedBy}` : ''}</dd>
        ${list.description ? html`<dt>Description</dt><dd>${list.description}</dd>` : null}
      </dl>
      <div class="columns">
        <section aria-labelledby="rows-title">
          <h2 id="rows-title">Rows</h2>
          ${rows.length ? html`<div class="scroll"><table id="list-rows">
            <caption>Rows ${num(offset + 1)} to ${num(last)} of ${num(total)}</caption>
            <thead><tr><th scope="col" class="num">#</th>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
            <tbody>${rows.map((r, i) => html`<tr key=${offset + i}><td class="num">${num(offset + i + 1)}</td>${r.map((v) => html`<td>${v}</td>`)}</tr>`)}</tbody>
          </table></div>` : html`<p class="muted">No rows${offset ? ' here' : ''}.</p>`}
          <div class="pager" role="group" aria-label="Pages of rows">
            <button type="button" id="rows-previous" disabled=${offset <= 0} onClick=${() => this.load(Math.max(0, offset - kPageSize))}>Previous ${kPageSize} rows</button>
            <button type="button" id="rows-next" disabled=${last >= total} onClick=${() => this.load(offset + kPageSize)}>Next ${kPageSize} rows</button>
          </div>
        </section>
        <section aria-labelledby="list-changes-title">
          <h2 id="list-changes-title">Change it</h2>
          ${optOut ? html`<form class="edit" id="add-form" onSubmit=${(e) => { e.preventDefault(); if (!readOnly) this.add(); }}>
            <fieldset class="form-body" disabled=${readOnly}><legend class="visually-hidden">Add addresses</legend>
              <div class="field"><label for="add-addresses">Addresses to add</label>
                <textarea id="add-addresses" rows="4" spellcheck="false" value=${addresses} aria-describedby="add-addresses-help"
                  onInput=${(e) => this.setState({ addresses: e.currentTarget.value })} />
                <small class="help" id="add-addresses-help">one a line; addresses already on the list are left alone</small></div>
            </fieldset>
            <div class="actions"><button type="submit" class="change primary" disabled=${readOnly || busy}>Add to ${list.name}</button></div>
            ${added ? html`<p id="add-result" role="status" data-added=${Number(added.added || 0)}>${plural(added.added, 'address', 'addresses')} added${(added.invalid || []).length ? `; invalid: ${added.invalid.join(', ')}` : ''}.</p>` : null}
          </form>` : html`<p>Import a CSV file with the name ${list.name} on the <a href="#/lists">List Manager</a> screen to replace the list.</p>`}
          <div class="actions">
            <button type="button" class="change danger" id="delete-list" disabled=${readOnly || busy} onClick=${() => this.remove()}>Delete the list ${list.name}</button>
          </div>
          <p class="muted">A list that the current catalog uses (an item's recipients or opt-out list, or the site opt-out list) cannot be deleted.</p>
        </section>
      </div>`;
  }
}

// ---- a direct-mail item's audience -----------------------------------------------

// Who the item would be sent to after its opt-out lists, as the server
// counts it. Props: desk, item (its id), version (reloads when it changes).
export class AudiencePanel extends Component {
  constructor() {
    super();
    this.state = { audience: null, error: '', loading: true };
    this.seq = 0;
  }
  componentDidMount() { this.load(); }
  componentDidUpdate(prev) { if (prev.version !== this.props.version || prev.item !== this.props.item) this.load(); }
  componentWillUnmount() { this.seq++; }
  async load() {
    const n = ++this.seq;
    this.setState({ loading: true });
    try {
      const audience = await api('GET', `/api/v1/mail-items/${seg(this.props.item)}/audience`);
      if (n === this.seq) this.setState({ audience, error: '', loading: false });
    } catch (e) {
      if (n === this.seq) this.setState({ audience: null, error: e.message, loading: false });
    }
  }
  render({ item }, { audience: a, error, loading }) {
    return html`<section aria-labelledby="audience-title" id="audience" aria-busy=${loading ? 'true' : 'false'}
        data-will-receive=${a ? Number(a.willReceive || 0) : ''}>
      <h2 id="audience-title">Audience</h2>
      ${error ? html`<p class="error" role="alert">The audience could not be counted: ${error}</p>` : null}
      ${a ? html`
        <p>Counts after subtracting the opt-out lists from the recipients, as saved in the catalog.</p>
        <table id="audience-table">
          <tbody>
            <tr><th scope="row">Recipient list</th><td>${a.recipientList || html`<span class="muted">none</span>`}</td></tr>
            <tr><th scope="row">Site opt-out list</th><td>${a.siteOptOutList || html`<span class="muted">none</span>`}</td></tr>
            <tr><th scope="row">Item opt-out list</th><td>${a.itemOptOutList || html`<span class="muted">none</span>`}</td></tr>
            ${a.rows !== undefined ? html`<tr><th scope="row">Rows on the list</th><td class="num" id="audience-rows">${num(a.rows)}${
              Number(a.invalidAddresses || 0) || Number(a.duplicates || 0)
                ? ` (${plural(a.invalidAddresses || 0, 'invalid address', 'invalid addresses')}, ${plural(a.duplicates || 0, 'repeat', 'repeats')})` : ''}</td></tr>` : null}
            <tr><th scope="row">Recipients</th><td class="num" id="audience-recipients">${num(a.recipients || 0)}</td></tr>
            <tr><th scope="row">Opted out on the site list</th><td class="num" id="audience-opted-out-site">${num(a.optedOutSite || 0)}</td></tr>
            <tr><th scope="row">Opted out on the item list</th><td class="num" id="audience-opted-out-item">${num(a.optedOutItem || 0)}</td></tr>
            <tr><th scope="row">Opted out on either</th><td class="num" id="audience-opted-out">− ${num(a.optedOut || 0)}</td></tr>
            <tr class="total"><th scope="row">Will receive</th><td class="num" id="audience-will-receive"><strong>${num(a.willReceive || 0)}</strong></td></tr>
          </tbody>
        </table>
        <p><a href=${`#/mail-jobs?item=${seg(item)}`}>Send it on the Mail jobs screen</a></p>` : (loading && !error ? html`<p>Counting…</p>` : null)}
      <button type="button" onClick=${() => this.load()} disabled=${loading}>Count again</button>
    </section>`;
  }
}
