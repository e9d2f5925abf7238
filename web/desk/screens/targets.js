// Target groups: the list and the editor (PUT / DELETE
// /api/v1/target-groups/{id}); each entry's expression is compiled as it is
// typed and an error is marked where it is.

import { html, Component } from '../lib.js';
import { api, seg } from '../api.js';
import { MessageFields } from '../form.js';
import { refsOf, enumLabel } from '../schema.js';
import { EditForm, Table, Empty } from '../ui.js';
import { clone } from '../util.js';

function users(catalog, id) {
  const out = [];
  for (const c of catalog.campaigns || []) {
    for (const i of c.items || []) {
      if ((i.ad && i.ad.targetGroup === id) || (i.discount && i.discount.targetGroup === id)) out.push({ campaign: c, item: i });
    }
  }
  return out;
}

export function TargetGroupList({ desk }) {
  const groups = desk.catalog.targetGroups || [];
  return html`<h1 tabindex="-1">Target groups</h1>
    ${desk.canEdit ? html`<p><a class="button" href="#/target-groups/new">New target group</a></p>` : null}
    ${groups.length === 0 ? html`<${Empty}>No target groups.<//>` : html`
    <${Table} id="target-groups" rows=${groups} rowKey=${(g) => g.id} columns=${[
      { title: 'Target group', render: (g) => html`<a href=${`#/target-groups/${seg(g.id)}`}>${g.name || g.id}</a>` },
      { title: 'Id', key: 'id' },
      { title: 'Entries', render: (g) => html`<ul class="plain">${(g.entries || []).map((e) => html`<li>
        ${enumLabel('TargetAction', e.action || 'TARGET_ACTION_TARGET')}: <code>${e.expression}</code>${e.boost ? ` ×${e.boost}` : ''}</li>`)}</ul>` },
      { title: 'Used by', num: true, render: (g) => users(desk.catalog, g.id).length },
    ]} />`}`;
}

export class TargetGroupEdit extends Component {
  constructor(props) {
    super(props);
    const found = (props.desk.catalog.targetGroups || []).find((g) => g.id === props.id);
    this.state = { draft: clone(found) || { entries: [{ action: 'TARGET_ACTION_REQUIRE', expression: '' }] }, missing: !!props.id && !found };
  }
  async submit() {
    const { desk, id } = this.props;
    const { draft } = this.state;
    if (!draft.id) { desk.notify({ kind: 'error', text: 'A target group needs an id.' }); return; }
    if (!id && (desk.catalog.targetGroups || []).some((g) => g.id === draft.id)) {
      desk.notify({ kind: 'error', text: `There is a target group "${draft.id}" already: choose another id.` });
      return;
    }
    const r = await desk.save((version) => api('PUT', `/api/v1/target-groups/${seg(draft.id)}`, { body: draft, ifMatch: version }));
    if (r && !id) desk.go(`#/target-groups/${seg(draft.id)}`);
  }
  async remove() {
    const { desk, id } = this.props;
    const r = await desk.save((version) => api('DELETE', `/api/v1/target-groups/${seg(id)}`, { ifMatch: version }));
    if (r) desk.go('#/target-groups');
  }
  render({ desk, id }, { draft, missing }) {
    if (missing) return html`<h1 tabindex="-1">No target group "${id}"</h1><p><a href="#/target-groups">All target groups</a></p>`;
    const used = id ? users(desk.catalog, id) : [];
    const attrs = (list, prefix) => (list || []).map((a) => `${prefix}.${a.name}`).join(', ');
    return html`<h1 tabindex="-1">${id ? `Target group ${draft.name || id}` : 'New target group'}</h1>
      <p><a href="#/target-groups">All target groups</a></p>
      <p class="muted">Expressions may name ${attrs(desk.catalog.userAttributes, 'user') || 'no user attributes'};
        ${attrs(desk.catalog.contextAttributes, 'context') || 'no context attributes'}; and now.</p>
      <${EditForm} desk=${desk} id="target-group-form" onSubmit=${() => this.submit()} saveLabel="Save target group"
          onDelete=${id ? () => this.remove() : null} deleteLabel=${`Delete target group ${id}`}>
        <${MessageFields} message="TargetGroup" value=${draft} idp="tg" refs=${refsOf(desk.catalog)} lockKey=${!!id}
          onChange=${(v) => this.setState({ draft: v })} />
      <//>
      ${id ? html`<h2>Used by</h2>${used.length ? html`<ul>${used.map(({ campaign, item }) => html`<li>
        <a href=${`#/campaigns/${seg(campaign.id)}/items/${seg(item.id)}`}>${item.name || item.id}</a> (campaign ${campaign.name || campaign.id})</li>`)}</ul>`
        : html`<${Empty}>No item uses it.<//>`}` : null}`;
  }
}
