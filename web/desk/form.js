// Forms generated from the model's schema (schema.js): every field a native
// control with its label and help, nested messages as fieldsets, repeated
// messages as lists with add, remove and move buttons. A form edits a copy
// of one JSON object and reports each change through onChange; fields set
// back to their default are dropped, so a save writes what the author set.

import { html, Component, createRef } from './lib.js';
import { api } from './api.js';
import { messages, enums, enumLabel } from './schema.js';

let idCounter = 0;
export const uniqueId = (stem) => `${stem}-${++idCounter}`;

const isEmpty = (v) => v === undefined || v === null || v === '' || v === 0 || v === false
  || (Array.isArray(v) && v.length === 0)
  || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

// Sets (or, for a default value, drops) `name` in a copy of `obj`.
function withField(obj, name, value, keepDefault = false) {
  const next = { ...obj };
  if (!keepDefault && isEmpty(value)) delete next[name];
  else next[name] = value;
  return next;
}

// The fields of one message. Props: message (schema name), value, onChange,
// idp (id prefix), refs (refsOf), lockKey (key fields read only), exclude.
export class MessageFields extends Component {
  render({ message, value, onChange, idp, refs, lockKey, exclude = [] }) {
    const obj = value || {};
    const fields = messages[message].filter((f) => !exclude.includes(f.name));
    return fields.map((f) => html`<${Field} key=${f.name} field=${f} obj=${obj} onChange=${onChange}
      idp=${idp} refs=${refs} lockKey=${lockKey} />`);
  }
}

function Help({ id, text }) {
  return text ? html`<small class="help" id=${id}>${text}</small>` : null;
}

class Field extends Component {
  render({ field: f, obj, onChange, idp, refs, lockKey }) {
    const id = `${idp}-${f.name}`;
    const helpId = f.help ? `${id}-help` : undefined;
    const value = obj[f.name];
    const set = (v, keep) => onChange(withField(obj, f.name, v, keep));
    switch (f.type) {
      case 'string':
      case 'url':
        if (f.ref && !f.key) return html`<div class="field">
          <label for=${id}>${f.label}</label>
          <${RefSelect} id=${id} value=${value || ''} options=${refs[f.ref] || []} helpId=${helpId}
            missing=${f.missing} onChange=${(v) => set(v)} />
          <${Help} id=${helpId} text=${f.help} /></div>`;
        return html`<div class="field">
          <label for=${id}>${f.label}</label>
          <input id=${id} name=${f.name} type=${f.input === 'time' ? 'text' : (f.type === 'url' ? 'url' : 'text')}
            value=${value ?? ''} readOnly=${!!(f.key && lockKey)} aria-describedby=${helpId}
            required=${!!f.key} placeholder=${f.input === 'time' ? 'HH:MM' : ''}
            onInput=${(e) => set(e.currentTarget.value)} />
          <${Help} id=${helpId} text=${f.help} /></div>`;
      case 'text':
        return html`<div class="field wide">
          <label for=${id}>${f.label}</label>
          <textarea id=${id} name=${f.name} rows="3" aria-describedby=${helpId} value=${value ?? ''}
            onInput=${(e) => set(e.currentTarget.value)} />
          <${Help} id=${helpId} text=${f.help} /></div>`;
      case 'int':
      case 'int64':
      case 'double':
        return html`<div class="field">
          <label for=${id}>${f.label}</label>
          <${NumberInput} id=${id} name=${f.name} value=${value} integer=${f.type !== 'double'}
            helpId=${helpId} onChange=${(v) => set(v)} />
          <${Help} id=${helpId} text=${f.help} /></div>`;
      case 'bool':
        return html`<div class="field check">
          <input id=${id} type="checkbox" name=${f.name} checked=${!!value} aria-describedby=${helpId}
            onChange=${(e) => set(e.currentTarget.checked)} />
          <label for=${id}>${f.label}</label>
          <${Help} id=${helpId} text=${f.help} /></div>`;
      case 'optbool':
        return html`<div class="field">
          <label for=${id}>${f.label}</label>
          <select id=${id} name=${f.name} aria-describedby=${helpId}
            value=${value === true ? 'yes' : value === false ? 'no' : ''}
            onChange=${(e) => { const v = e.currentTarget.value; set(v === '' ? undefined : v === 'yes', true); }}>
            <option value="">default (${f.dflt === true ? 'yes' : f.dflt})</option>
            <option value="yes">yes</option>
            <option value="no">no</option>
          </select>
          <${Help} id=${helpId} text=${f.help} /></div>`;
      case 'enum': {
        const values = enums[f.of].values;
        const current = typeof value === 'number' ? values[value - 1] : (value || '');
        return html`<div class="field">
          <label for=${id}>${f.label}</label>
          <select id=${id} name=${f.name} value=${current} aria-describedby=${helpId}
            onChange=${(e) => set(e.currentTarget.value)}>
            <option value="">default (${f.dflt})</option>
            ${values.map((v) => html`<option value=${v}>${enumLabel(f.of, v)}</option>`)}
            ${current && !values.includes(current) ? html`<option value=${current}>${current}</option>` : null}
          </select>
          <${Help} id=${helpId} text=${f.help} /></div>`;
      }
      case 'enums': {
        const chosen = new Set(value || []);
        const values = enums[f.of].values;
        return html`<fieldset class="field wide checks" aria-describedby=${helpId}>
          <legend>${f.label}</legend>
          ${values.map((v) => html`<span class="check">
            <input type="checkbox" id=${`${id}-${v}`} checked=${chosen.has(v)}
              onChange=${(e) => set(values.filter((x) => (x === v ? e.currentTarget.checked : chosen.has(x))))} />
            <label for=${`${id}-${v}`}>${enumLabel(f.of, v)}</label></span>`)}
          <${Help} id=${helpId} text=${f.help} /></fieldset>`;
      }
      case 'strings':
        if (f.ref) {
          const options = (refs[f.ref] || []).filter((o) => !(f.ref === 'customers' && o.value === obj.id));
          const chosen = value || [];
          const unknown = chosen.filter((v) => !options.some((o) => o.value === v));
          const all = [...options, ...unknown.map((v) => ({ value: v, label: `${v} (not in the catalog)` }))];
          return html`<fieldset class="field wide checks" aria-describedby=${helpId}>
            <legend>${f.label}</legend>
            ${all.length === 0 ? html`<span class="muted">none defined</span>` : null}
            ${all.map((o, i) => html`<span class="check">
              <input type="checkbox" id=${`${id}-${i}`} checked=${chosen.includes(o.value)}
                onChange=${(e) => set(e.currentTarget.checked ? [...chosen, o.value] : chosen.filter((x) => x !== o.value))} />
              <label for=${`${id}-${i}`}>${o.label}</label></span>`)}
            <${Help} id=${helpId} text=${f.help} /></fieldset>`;
        }
        return html`<div class="field">
          <label for=${id}>${f.label}</label>
          <${LinesInput} id=${id} value=${value || []} helpId=${helpId} onChange=${(v) => set(v)} />
          <${Help} id=${helpId} text=${f.help} /></div>`;
      case 'map':
        return html`<div class="field wide">
          <label for=${id}>${f.label}</label>
          <${LinesInput} id=${id} helpId=${helpId}
            value=${Object.entries(value || {}).map(([k, v]) => `${k}=${v}`)}
            onChange=${(lines) => {
              const m = {};
              for (const line of lines) {
                const at = line.indexOf('=');
                if (at > 0) m[line.slice(0, at).trim()] = line.slice(at + 1);
              }
              set(m);
            }} />
          <${Help} id=${helpId} text=${f.help} /></div>`;
      case 'message':
        return html`<fieldset class="group">
          <legend>${f.label}</legend>
          <${Help} id=${helpId} text=${f.help} />
          <div class="fields">
            <${MessageFields} message=${f.of} value=${value || {}} idp=${id} refs=${refs}
              onChange=${(v) => set(v)} />
          </div></fieldset>`;
      case 'list':
        return html`<${ListField} field=${f} value=${value || []} idp=${id} refs=${refs} helpId=${helpId}
          onChange=${(v) => set(v)} />`;
      case 'oneof':
        return html`<${OneofField} field=${f} obj=${obj} idp=${idp} refs=${refs} onChange=${onChange} />`;
      case 'expr':
        return html`<div class="field wide">
          <label for=${id}>${f.label}</label>
          <${ExpressionField} id=${id} kind=${f.kind} value=${value || ''} helpId=${helpId}
            onChange=${(v) => set(v)} />
          <${Help} id=${helpId} text=${f.help} /></div>`;
      default:
        return html`<p>unknown field type ${f.type}</p>`;
    }
  }
}

// A <select> of a reference list, keeping a value the list does not have.
export function RefSelect({ id, value, options, onChange, helpId, none = '(none)', missing = 'not in the catalog' }) {
  const known = options.some((o) => o.value === value);
  return html`<select id=${id} value=${value} aria-describedby=${helpId}
      onChange=${(e) => onChange(e.currentTarget.value)}>
    <option value="">${none}</option>
    ${options.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
    ${value && !known ? html`<option value=${value}>${value} (${missing})</option>` : null}
  </select>`;
}

// A number field that keeps what is being typed ("1.", "-") while reporting
// numbers; "" reports undefined.
export class NumberInput extends Component {
  constructor(props) {
    super(props);
    this.state = { text: props.value === undefined || props.value === null ? '' : String(props.value) };
  }
  componentDidUpdate(prev) {
    if (prev.value !== this.props.value && Number(this.props.value ?? NaN) !== this.parse(this.state.text)) {
      this.setState({ text: this.props.value === undefined || this.props.value === null ? '' : String(this.props.value) });
    }
  }
  parse(text) {
    if (text.trim() === '') return undefined;
    const n = this.props.integer ? parseInt(text, 10) : parseFloat(text);
    return Number.isFinite(n) ? n : undefined;
  }
  render({ id, name, integer, helpId, min }) {
    return html`<input id=${id} name=${name} type="number" step=${integer ? '1' : 'any'} min=${min}
      value=${this.state.text} aria-describedby=${helpId}
      onInput=${(e) => { const text = e.currentTarget.value; this.setState({ text }); this.props.onChange(this.parse(text)); }} />`;
  }
}

// One value a line (a repeated string), keeping the text as typed.
class LinesInput extends Component {
  constructor(props) {
    super(props);
    this.state = { text: (props.value || []).join('\n') };
  }
  componentDidUpdate(prev) {
    const lines = this.lines(this.state.text);
    if (prev.value !== this.props.value && lines.join('\n') !== (this.props.value || []).join('\n')) {
      this.setState({ text: (this.props.value || []).join('\n') });
    }
  }
  lines(text) { return text.split('\n').map((s) => s.trim()).filter((s) => s !== ''); }
  render({ id, helpId }) {
    return html`<textarea id=${id} rows="3" aria-describedby=${helpId} value=${this.state.text}
      onInput=${(e) => { const text = e.currentTarget.value; this.setState({ text }); this.props.onChange(this.lines(text)); }} />`;
  }
}

class ListField extends Component {
  render({ field: f, value, onChange, idp, refs, helpId }) {
    const move = (i, d) => {
      const next = [...value];
      [next[i], next[i + d]] = [next[i + d], next[i]];
      onChange(next);
    };
    return html`<fieldset class="group list">
      <legend>${f.label}</legend>
      <${Help} id=${helpId} text=${f.help} />
      ${value.map((el, i) => html`<fieldset class="group element" key=${i}>
        <legend>${f.itemLabel} ${i + 1}</legend>
        <div class="fields">
          <${MessageFields} message=${f.of} value=${el} idp=${`${idp}-${i}`} refs=${refs}
            onChange=${(v) => onChange(value.map((x, j) => (j === i ? v : x)))} />
        </div>
        <div class="row-actions">
          <button type="button" class="change" onClick=${() => onChange(value.filter((_, j) => j !== i))}>
            Remove ${f.itemLabel.toLowerCase()} ${i + 1}</button>
          ${i > 0 ? html`<button type="button" class="change" onClick=${() => move(i, -1)}>Move up</button>` : null}
          ${i + 1 < value.length ? html`<button type="button" class="change" onClick=${() => move(i, 1)}>Move down</button>` : null}
        </div>
      </fieldset>`)}
      <button type="button" class="change" onClick=${() => onChange([...value, {}])}>Add ${f.itemLabel.toLowerCase()}</button>
    </fieldset>`;
  }
}

class OneofField extends Component {
  render({ field: f, obj, onChange, idp, refs }) {
    const current = f.options.find((o) => obj[o.name] !== undefined);
    const id = `${idp}-${f.name}`;
    const choose = (name) => {
      const next = { ...obj };
      for (const o of f.options) delete next[o.name];
      const o = f.options.find((x) => x.name === name);
      if (o) next[o.name] = o.type === 'message' ? {} : '';
      onChange(next);
    };
    let body = null;
    if (current) {
      const o = current;
      const oid = `${idp}-${o.name}`;
      const setMember = (v) => onChange({ ...obj, [o.name]: v });  // a oneof member is kept even when empty
      if (o.type === 'message') {
        body = html`<fieldset class="group"><legend>${o.label}</legend><div class="fields">
          <${MessageFields} message=${o.of} value=${obj[o.name] || {}} idp=${oid} refs=${refs} onChange=${setMember} />
        </div></fieldset>`;
      } else if (o.ref) {
        const helpId = o.help ? `${oid}-help` : undefined;
        body = html`<div class="field"><label for=${oid}>${o.label}</label>
          <${RefSelect} id=${oid} value=${obj[o.name] || ''} options=${refs[o.ref] || []} helpId=${helpId}
            missing=${o.missing} onChange=${setMember} />
          <${Help} id=${helpId} text=${o.help} /></div>`;
      } else {
        body = html`<div class="field"><label for=${oid}>${o.label}</label>
          <input id=${oid} type="text" value=${obj[o.name]} aria-describedby=${o.help ? `${oid}-help` : undefined}
            onInput=${(e) => setMember(e.currentTarget.value)} />
          <${Help} id=${`${oid}-help`} text=${o.help} /></div>`;
      }
    }
    return html`<div class="oneof wide">
      <div class="field">
        <label for=${id}>${f.label}</label>
        <select id=${id} value=${current ? current.name : ''} onChange=${(e) => choose(e.currentTarget.value)}>
          <option value="">(none)</option>
          ${f.options.map((o) => html`<option value=${o.name}>${o.label}</option>`)}
        </select>
      </div>
      ${body}
    </div>`;
  }
}

// Offset in `text` of a 1-based line and column.
export function offsetOf(text, line, column) {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; ++i) offset += lines[i].length + 1;
  return Math.min(text.length, offset + Math.max(0, column - 1));
}

// A Herald expression, compiled by the server as it is typed
// (POST /api/v1/expressions:check); an error is marked at its line and
// column under the text, and "Go to the error" puts the cursor there.
export class ExpressionField extends Component {
  constructor(props) {
    super(props);
    this.state = { result: null };
    this.seq = 0;
    this.timer = 0;
    this.input = createRef();
  }
  componentDidMount() { if (this.props.value) this.check(this.props.value); }
  componentDidUpdate(prev) {
    if (prev.value !== this.props.value || prev.kind !== this.props.kind) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.check(this.props.value), 150);
    }
  }
  componentWillUnmount() { clearTimeout(this.timer); this.seq++; }
  async check(expression) {
    const n = ++this.seq;
    if (!expression || !expression.trim()) { this.setState({ result: null, checked: expression }); return; }
    let result;
    try {
      result = await api('POST', '/api/v1/expressions:check', { body: { expression, kind: this.props.kind } });
    } catch (e) {
      result = { ok: false, message: e.message, unavailable: true };
    }
    if (n === this.seq) this.setState({ result, checked: expression });
  }
  goToError() {
    const { result, checked } = this.state;
    const el = this.input.current;
    if (!el || !result || result.ok) return;
    const at = offsetOf(checked, result.line || 1, result.column || 1);
    el.focus();
    el.setSelectionRange(at, Math.min(checked.length, at + 1));
  }
  render({ id, value, helpId }) {
    const { result, checked } = this.state;
    const stale = checked !== value;
    const errorId = `${id}-status`;
    const bad = result && !result.ok && !stale;
    let status = null;
    if (result && result.ok) {
      status = html`<p class="expr-status expr-ok" id=${errorId} data-state=${stale ? 'checking' : 'ok'}>
        ${stale ? 'checking…' : `compiles: ${result.type || 'ok'}`}</p>`;
    } else if (result && !result.unavailable && result.line) {
      const lines = checked.split('\n');
      const lineText = lines[(result.line || 1) - 1] ?? '';
      const pad = lineText.slice(0, Math.max(0, result.column - 1)).replace(/[^\t]/g, ' ');
      status = html`<div class="expr-status expr-error" id=${errorId} role="alert"
          data-state=${stale ? 'checking' : 'error'} data-line=${result.line} data-column=${result.column}>
        <pre class="expr-marker" aria-hidden="true">${`${lineText}\n${pad}`}<span class="caret">^</span></pre>
        <p>Line ${result.line}, column ${result.column}: ${result.message}</p>
        <button type="button" onClick=${() => this.goToError()}>Go to the error</button>
      </div>`;
    } else if (result) {
      status = html`<p class="expr-status expr-error" id=${errorId} role="alert" data-state="error">${result.message}</p>`;
    }
    const describedBy = [helpId, status ? errorId : null].filter(Boolean).join(' ') || undefined;
    return html`<div class="expr">
      <input id=${id} ref=${this.input} type="text" class="code" spellcheck="false" autocomplete="off"
        value=${value} aria-invalid=${bad ? 'true' : 'false'} aria-describedby=${describedBy}
        onInput=${(e) => this.props.onChange(e.currentTarget.value)} />
      ${status}
    </div>`;
  }
}
