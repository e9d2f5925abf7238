// Pieces the screens share: the edit form (a form whose controls are
// disabled for viewers, submitted with Enter or its Save button) and
// catalog saves.

import { html, Component } from './lib.js';
import { api } from './api.js';
import { clone } from './util.js';

// Props: desk, title, onSubmit, onDelete (optional), deleteLabel, saveLabel, children, aside.
export class EditForm extends Component {
  render({ desk, id, onSubmit, onDelete, deleteLabel = 'Delete', saveLabel = 'Save', children, busy }) {
    const readOnly = !desk.canEdit;
    return html`<form class="edit" id=${id} onSubmit=${(e) => { e.preventDefault(); if (!readOnly) onSubmit(); }}>
      <fieldset class="form-body" disabled=${readOnly}>
        <legend class="visually-hidden">Fields</legend>
        <div class="fields">${children}</div>
      </fieldset>
      <div class="actions">
        <button type="submit" class="change primary" disabled=${readOnly || busy}>${saveLabel}</button>
        ${onDelete ? html`<button type="button" class="change danger" disabled=${readOnly || busy}
          onClick=${() => { if (window.confirm(`${deleteLabel}?`)) onDelete(); }}>${deleteLabel}</button>` : null}
      </div>
    </form>`;
  }
}

// Saves a whole catalog made from the current one by `mutate`, based on the
// version shown (PUT /api/v1/catalog).
export function saveWholeCatalog(desk, mutate, note) {
  return desk.save((version) => {
    const catalog = clone(desk.catalog);
    mutate(catalog);
    return api('PUT', '/api/v1/catalog', { body: { catalog, basedOn: version, note } });
  });
}

export function Empty({ children }) {
  return html`<p class="muted">${children}</p>`;
}

// A sortable-free plain table: columns [{key, title, render?, num?}], rows.
export function Table({ columns, rows, caption, id, rowKey = (r, i) => i }) {
  return html`<table id=${id}>
    ${caption ? html`<caption>${caption}</caption>` : null}
    <thead><tr>${columns.map((c) => html`<th scope="col" class=${c.num ? 'num' : ''}>${c.title}</th>`)}</tr></thead>
    <tbody>${rows.map((r, i) => html`<tr key=${rowKey(r, i)}>
      ${columns.map((c) => html`<td class=${c.num ? 'num' : ''}>${c.render ? c.render(r) : (r[c.key] ?? '')}</td>`)}
    </tr>`)}</tbody>
  </table>`;
}
