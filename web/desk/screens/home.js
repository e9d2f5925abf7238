// The overview and the catalog's own settings (name, time zone, currency,
// declared attributes, conversion actions, the site opt-out lists: a file
// or a List Manager list).

import { html, Component } from '../lib.js';
import { MessageFields } from '../form.js';
import { messages, refsOf } from '../schema.js';
import { EditForm, saveWholeCatalog } from '../ui.js';
import { clone, itemKind, num } from '../util.js';
import { loadListRefs } from './lists.js';

export function Home({ desk }) {
  const c = desk.catalog;
  const items = (c.campaigns || []).flatMap((k) => k.items || []);
  const count = (kind) => items.filter((i) => itemKind(i).endsWith(kind)).length;
  return html`<h1 tabindex="-1">${c.name || 'Catalog'}</h1>
    <p>Version ${desk.version} of the catalog in the store${c.timeZone ? `, time zone ${c.timeZone}` : ''}${c.currency ? `, amounts in ${c.currency}` : ''}.</p>
    <ul class="counts">
      <li><a href="#/customers">${num((c.customers || []).length)} customers</a></li>
      <li><a href="#/campaigns">${num((c.campaigns || []).length)} campaigns</a>:
        ${num(count('ad'))} ads, ${num(count('discount'))} discounts, ${num(count('direct mail'))} direct-mail items</li>
      <li><a href="#/target-groups">${num((c.targetGroups || []).length)} target groups</a></li>
    </ul>
    <h2>Tools</h2>
    <ul>
      <li><a href="#/trace">TraceScores</a>: enter an ad request and see every candidate's fate.</li>
      <li><a href="#/reports">Reports</a>: delivery against goal, reach and frequency, placement, with charts and CSV.</li>
      <li><a href="#/history">Catalog history</a>: every version, what changed, and rollback.</li>
      <li><a href="#/lists">List Manager</a>: import recipient lists from CSV files, keep opt-out lists.</li>
      <li><a href="#/mail-jobs">Mail jobs</a>: send direct-mail items and follow their progress.</li>
    </ul>`;
}

const kSettingKeys = messages.CatalogSettings.map((f) => f.name);

export class CatalogSettings extends Component {
  constructor(props) {
    super(props);
    const draft = {};
    for (const k of kSettingKeys) if (props.desk.catalog[k] !== undefined) draft[k] = clone(props.desk.catalog[k]);
    this.state = { draft, listRefs: {} };
  }
  async componentDidMount() {
    // The List Manager's opt-out lists, for the site opt-out list.
    try { this.setState({ listRefs: await loadListRefs() }); } catch { /* the select keeps the saved name */ }
  }
  async submit() {
    const { draft } = this.state;
    await saveWholeCatalog(this.props.desk, (catalog) => {
      for (const k of kSettingKeys) {
        if (draft[k] === undefined) delete catalog[k];
        else catalog[k] = draft[k];
      }
    }, 'catalog settings');
  }
  render({ desk }, { draft, listRefs }) {
    return html`<h1 tabindex="-1">Catalog settings</h1>
      <p>The catalog's name, time zone and currency, the attributes expressions may name, and the actions whose responses are exported as conversions.</p>
      <${EditForm} desk=${desk} id="settings-form" onSubmit=${() => this.submit()}>
        <${MessageFields} message="CatalogSettings" value=${draft} idp="settings" refs=${{ ...refsOf(desk.catalog), ...listRefs }}
          onChange=${(v) => this.setState({ draft: v })} />
      <//>`;
  }
}
