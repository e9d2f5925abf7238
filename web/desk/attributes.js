// Inputs for the catalog's declared attributes (user_attributes,
// context_attributes, product_attributes), typed by their ValueType, and
// the two encodings requests use: plain JSON objects (SelectAdsRequest's
// profile and context, docs/server.md) and herald.v1.Profile / Value maps
// (a basket's user, context and product properties).

import { html } from './lib.js';
import { currencyDigits } from './util.js';

const kind = (d) => String(d.type || '').replace('VALUE_TYPE_', '');

function placeholder(d) {
  switch (kind(d)) {
    case 'INT': return 'a whole number';
    case 'DOUBLE': return 'a number';
    case 'MONEY': return '19.99 or 19.99 EUR';
    case 'TIMESTAMP': return '2026-06-01T17:30:00Z';
    case 'STRING_LIST': return 'a, b, c';
    case 'MAP': return 'name=value, name=value';
    default: return '';
  }
}

// Props: decls, values ({name: text}), onChange(values), idp, legend.
export function AttributeInputs({ decls, values, onChange, idp, legend }) {
  if (!decls || decls.length === 0) return null;
  const set = (name, v) => onChange({ ...values, [name]: v });
  return html`<fieldset class="group">
    <legend>${legend}</legend>
    <div class="fields">
      ${decls.map((d) => {
        const id = `${idp}-${d.name}`;
        const v = values[d.name] ?? '';
        if (kind(d) === 'BOOL') {
          return html`<div class="field" key=${d.name}><label for=${id}>${d.name}</label>
            <select id=${id} value=${v} onChange=${(e) => set(d.name, e.currentTarget.value)}>
              <option value="">(not set)</option><option value="true">true</option><option value="false">false</option>
            </select></div>`;
        }
        const type = kind(d) === 'INT' || kind(d) === 'DOUBLE' ? 'number' : 'text';
        return html`<div class="field" key=${d.name}><label for=${id}>${d.name}</label>
          <input id=${id} type=${type} step=${kind(d) === 'INT' ? '1' : 'any'} value=${v}
            placeholder=${placeholder(d)} onInput=${(e) => set(d.name, e.currentTarget.value)} /></div>`;
      })}
    </div>
  </fieldset>`;
}

const splitList = (s) => String(s).split(',').map((x) => x.trim()).filter(Boolean);

function scalar(text, type) {
  switch (type) {
    case 'INT': return parseInt(text, 10);
    case 'DOUBLE': return parseFloat(text);
    case 'BOOL': return text === 'true';
    default: return text;
  }
}

// {age: "30", interests: "a, b"} -> {age: 30, interests: ["a", "b"]}
export function toPlainObject(decls, values) {
  const out = {};
  for (const d of decls || []) {
    const v = values[d.name];
    if (v === undefined || v === '') continue;
    switch (kind(d)) {
      case 'STRING_LIST': out[d.name] = splitList(v); break;
      case 'MAP': {
        const m = {};
        const vt = String(d.mapValueType || 'VALUE_TYPE_STRING').replace('VALUE_TYPE_', '');
        for (const pair of splitList(v)) {
          const at = pair.indexOf('=');
          if (at > 0) m[pair.slice(0, at).trim()] = scalar(pair.slice(at + 1).trim(), vt);
        }
        out[d.name] = m;
        break;
      }
      default: out[d.name] = scalar(v, kind(d));
    }
  }
  return out;
}

function valueOf(text, type, currency) {
  switch (type) {
    case 'INT': return { intValue: String(parseInt(text, 10)) };
    case 'DOUBLE': return { doubleValue: parseFloat(text) };
    case 'BOOL': return { boolValue: text === 'true' };
    case 'MONEY': {
      const [amount, code] = String(text).trim().split(/\s+/);
      const cur = code || currency;
      return { moneyValue: { minorUnits: String(Math.round(parseFloat(amount) * 10 ** currencyDigits(cur))), currency: cur } };
    }
    case 'TIMESTAMP': return { timeValue: text };
    case 'STRING_LIST': return { listValue: { values: splitList(text) } };
    default: return { stringValue: text };
  }
}

// {age: "30"} -> {age: {intValue: "30"}}: the values of a herald.v1.Profile
// or a line's properties.
export function toValueMap(decls, values, currency) {
  const out = {};
  for (const d of decls || []) {
    const v = values[d.name];
    if (v === undefined || v === '') continue;
    if (kind(d) === 'MAP') {
      const vt = String(d.mapValueType || 'VALUE_TYPE_STRING').replace('VALUE_TYPE_', '');
      const m = {};
      for (const pair of splitList(v)) {
        const at = pair.indexOf('=');
        if (at > 0) m[pair.slice(0, at).trim()] = valueOf(pair.slice(at + 1).trim(), vt, currency);
      }
      out[d.name] = { mapValue: { values: m } };
    } else {
      out[d.name] = valueOf(v, kind(d), currency);
    }
  }
  return out;
}
