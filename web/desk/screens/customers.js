// Customers: the list in alphabetical order (GET /api/v1/customers) and the
// customer form (PUT / DELETE /api/v1/customers/{id}).

import { html, Component } from '../lib.js';
import { api, seg } from '../api.js';
import { MessageFields } from '../form.js';
import { refsOf } from '../schema.js';
import { EditForm, Table, Empty } from '../ui.js';
import { clone, customerName, day } from '../util.js';

export class CustomerList extends Component {
  constructor() {
    super();
    this.state = { customers: null };
  }
  async componentDidMount() {
    try {
      const r = await api('GET', '/api/v1/customers');
      this.setState({ customers: r.customers || [] });
    } catch (e) {
      this.props.desk.error(e);
    }
  }
  render({ desk }, { customers }) {
    const catalog = desk.catalog;
    const industries = new Map(((catalog.referenceTables || {}).industries || []).map((i) => [i.code, i.description]));
    const campaigns = (id) => (catalog.campaigns || []).filter((c) => c.customerId === id).length;
    return html`<h1 tabindex="-1">Customers</h1>
      ${desk.canEdit ? html`<p><a class="button" href="#/customers/new">New customer</a></p>` : null}
      ${customers === null ? html`<p>Loading…</p>` : customers.length === 0 ? html`<${Empty}>No customers yet.<//>` : html`
      <${Table} id="customers" caption="Customers, in alphabetical order" rowKey=${(c) => c.id} rows=${customers} columns=${[
        { title: 'Name', render: (c) => html`<a href=${`#/customers/${seg(c.id)}`}>${c.name || c.id}</a>` },
        { title: 'Id', key: 'id' },
        { title: 'Industry', render: (c) => (c.industry ? `${c.industry}${industries.get(c.industry) ? ` (${industries.get(c.industry)})` : ''}` : '') },
        { title: 'Competitors', render: (c) => (c.competitors || []).map((id) => customerName(catalog, id)).join(', ') },
        { title: 'Web site', render: (c) => (c.url ? html`<a href=${c.url} rel="noreferrer">${c.url}</a>` : '') },
        { title: 'Campaigns', num: true, render: (c) => html`<a href=${`#/campaigns?customer=${seg(c.id)}`}>${campaigns(c.id)}</a>` },
      ]} />`}`;
  }
}

export class CustomerEdit extends Component {
  constructor(props) {
    super(props);
    const found = (props.desk.catalog.customers || []).find((c) => c.id === props.id);
    this.state = { draft: clone(found) || {}, missing: !!props.id && !found };
  }
  async submit() {
    const { desk, id } = this.props;
    const { draft } = this.state;
    if (!draft.id) { desk.notify({ kind: 'error', text: 'A customer needs an id.' }); return; }
    if (!id && (desk.catalog.customers || []).some((c) => c.id === draft.id)) {
      desk.notify({ kind: 'error', text: `There is a customer "${draft.id}" already: choose another id.` });
      return;
    }
    const r = await desk.save((version) => api('PUT', `/api/v1/customers/${seg(draft.id)}`,
      { body: draft, ifMatch: version }));
    if (r && !id) desk.go(`#/customers/${seg(draft.id)}`);
  }
  async remove() {
    const { desk, id } = this.props;
    const r = await desk.save((version) => api('DELETE', `/api/v1/customers/${seg(id)}`, { ifMatch: version }));
    if (r) desk.go('#/customers');
  }
  render({ desk, id }, { draft, missing }) {
    if (missing) return html`<h1 tabindex="-1">No customer "${id}"</h1><p><a href="#/customers">All customers</a></p>`;
    const campaigns = (desk.catalog.campaigns || []).filter((c) => id && c.customerId === id);
    return html`<h1 tabindex="-1">${id ? `Customer ${draft.name || id}` : 'New customer'}</h1>
      <p><a href="#/customers">All customers</a></p>
      <${EditForm} desk=${desk} id="customer-form" onSubmit=${() => this.submit()}
          onDelete=${id ? () => this.remove() : null} deleteLabel=${`Delete customer ${id}`}>
        <${MessageFields} message="Customer" value=${draft} idp="customer" refs=${refsOf(desk.catalog)} lockKey=${!!id}
          onChange=${(v) => this.setState({ draft: v })} />
      <//>
      ${id ? html`<h2>Campaigns</h2>
        ${campaigns.length ? html`<ul>${campaigns.map((c) => html`<li><a href=${`#/campaigns/${seg(c.id)}`}>${c.name || c.id}</a>
          (${day(c.start)} to ${day(c.end)})</li>`)}</ul>` : html`<${Empty}>No campaigns.<//>`}
        ${desk.canEdit ? html`<p><a class="button" href=${`#/campaigns/new?customer=${seg(id)}`}>New campaign for ${draft.name || id}</a></p>` : null}` : null}`;
  }
}
