// Campaigns: the list, the campaign form (PUT / DELETE /api/v1/campaigns/{id};
// its items have their own screen), the goaling switch
// (POST /api/v1/campaigns/{id}:set-goaling) and the paid ads' goals.

import { html, Component } from '../lib.js';
import { api, seg } from '../api.js';
import { MessageFields, NumberInput } from '../form.js';
import { refsOf } from '../schema.js';
import { EditForm, Table, Empty, saveWholeCatalog } from '../ui.js';
import { clone, customerName, day, isActive, isPaidAd, itemKind, num, paidAdGoals, splitByWeight } from '../util.js';

export class CampaignList extends Component {
  constructor(props) {
    super(props);
    this.state = { customer: props.customer || '' };
  }
  render({ desk }, { customer }) {
    const catalog = desk.catalog;
    const campaigns = (catalog.campaigns || []).filter((c) => !customer || c.customerId === customer);
    return html`<h1 tabindex="-1">Campaigns</h1>
      <form class="inline" onSubmit=${(e) => e.preventDefault()}>
        <label for="campaign-filter">Customer</label>
        <select id="campaign-filter" value=${customer} onChange=${(e) => this.setState({ customer: e.currentTarget.value })}>
          <option value="">All customers</option>
          ${refsOf(catalog).customers.map((o) => html`<option value=${o.value}>${o.label}</option>`)}
        </select>
      </form>
      ${desk.canEdit ? html`<p><a class="button" href=${`#/campaigns/new${customer ? `?customer=${seg(customer)}` : ''}`}>New campaign</a></p>` : null}
      ${campaigns.length === 0 ? html`<${Empty}>No campaigns.<//>` : html`
      <${Table} id="campaigns" rowKey=${(c) => c.id} rows=${campaigns} columns=${[
        { title: 'Campaign', render: (c) => html`<a href=${`#/campaigns/${seg(c.id)}`}>${c.name || c.id}</a>` },
        { title: 'Customer', render: (c) => customerName(catalog, c.customerId) },
        { title: 'Dates', render: (c) => `${day(c.start)} to ${day(c.end)}` },
        { title: 'Goaling', render: (c) => (c.goaling === 'GOALING_LEVEL_CAMPAIGN' ? `campaign: ${num(c.quantityOrdered)}` : 'ad') },
        { title: 'Goal event', render: (c) => (c.goalEvent === 'GOAL_EVENT_CLICKS' ? 'clicks' : 'requests') },
        { title: 'Active', render: (c) => (isActive(c) ? 'yes' : 'no') },
        { title: 'Items', num: true, render: (c) => (c.items || []).length },
      ]} />`}`;
  }
}

export class CampaignEdit extends Component {
  constructor(props) {
    super(props);
    const found = (props.desk.catalog.campaigns || []).find((c) => c.id === props.id);
    const draft = clone(found) || (props.customer ? { customerId: props.customer } : {});
    delete draft.items;
    this.state = { draft, missing: !!props.id && !found, switched: null };
  }
  campaign() { return (this.props.desk.catalog.campaigns || []).find((c) => c.id === this.props.id); }
  async submit() {
    const { desk, id } = this.props;
    const { draft } = this.state;
    if (!draft.id) { desk.notify({ kind: 'error', text: 'A campaign needs an id.' }); return; }
    if (!id && (desk.catalog.campaigns || []).some((c) => c.id === draft.id)) {
      desk.notify({ kind: 'error', text: `There is a campaign "${draft.id}" already: choose another id.` });
      return;
    }
    const r = await desk.save((version) => api('PUT', `/api/v1/campaigns/${seg(draft.id)}`, { body: draft, ifMatch: version }));
    if (r && !id) desk.go(`#/campaigns/${seg(draft.id)}`);
  }
  async remove() {
    const { desk, id } = this.props;
    const r = await desk.save((version) => api('DELETE', `/api/v1/campaigns/${seg(id)}`, { ifMatch: version }));
    if (r) desk.go('#/campaigns');
  }
  async setGoaling(level) {
    const { desk, id } = this.props;
    const r = await desk.save((version) => api('POST', `/api/v1/campaigns/${seg(id)}:set-goaling`,
      { body: { level }, ifMatch: version }));
    if (r) {
      this.setState({ switched: { level, items: r.items || [] } });
      // The campaign form shows the new level and quantity ordered.
      const c = this.campaign();
      if (c) { const draft = clone(c); delete draft.items; this.setState({ draft }); }
    }
  }
  render({ desk, id }, { draft, missing, switched }) {
    if (missing) return html`<h1 tabindex="-1">No campaign "${id}"</h1><p><a href="#/campaigns">All campaigns</a></p>`;
    const campaign = this.campaign();
    return html`<h1 tabindex="-1">${id ? `Campaign ${draft.name || id}` : 'New campaign'}</h1>
      <p><a href="#/campaigns">All campaigns</a>${campaign ? html` · customer <a href=${`#/customers/${seg(campaign.customerId)}`}>${customerName(desk.catalog, campaign.customerId)}</a>` : null}</p>
      <div class="columns">
        <section aria-labelledby="campaign-fields-h">
          <h2 id="campaign-fields-h">Campaign</h2>
          <${EditForm} desk=${desk} id="campaign-form" onSubmit=${() => this.submit()} saveLabel="Save campaign"
              onDelete=${id ? () => this.remove() : null} deleteLabel=${`Delete campaign ${id} and its items`}>
            <${MessageFields} message="Campaign" value=${draft} idp="campaign" refs=${refsOf(desk.catalog)} lockKey=${!!id}
              onChange=${(v) => this.setState({ draft: v })} />
          <//>
        </section>
        ${campaign ? html`<${Goaling} key=${desk.version} desk=${desk} campaign=${campaign} switched=${switched}
          onSwitch=${(level) => this.setGoaling(level)} />` : null}
      </div>
      ${campaign ? html`<${ItemList} desk=${desk} campaign=${campaign} />` : null}`;
  }
}

// The goaling switch and each paid ad's weight or quantity, with the goal
// each gets; remounted on every catalog version.
class Goaling extends Component {
  constructor(props) {
    super(props);
    const c = props.campaign;
    const ads = (c.items || []).filter(isPaidAd);
    this.state = {
      level: c.goaling === 'GOALING_LEVEL_CAMPAIGN' ? 'campaign' : 'ad',
      quantityOrdered: Number(c.quantityOrdered || 0),
      weights: ads.map((i) => Number(i.ad.weight || 0)),
      quantities: ads.map((i) => Number(i.ad.quantity || 0)),
    };
  }
  // Whether the form still shows the saved catalog.
  saved(ads) {
    const { campaign } = this.props;
    const { quantityOrdered, weights, quantities } = this.state;
    return Number(campaign.quantityOrdered || 0) === quantityOrdered
      && ads.every((i, k) => Number(i.ad.weight || 0) === weights[k] && Number(i.ad.quantity || 0) === quantities[k]);
  }
  async saveGoals() {
    const { desk, campaign } = this.props;
    const { quantityOrdered, weights, quantities } = this.state;
    const atCampaign = campaign.goaling === 'GOALING_LEVEL_CAMPAIGN';
    await saveWholeCatalog(desk, (catalog) => {
      const c = catalog.campaigns.find((x) => x.id === campaign.id);
      if (atCampaign) {
        if (quantityOrdered) c.quantityOrdered = quantityOrdered; else delete c.quantityOrdered;
      }
      let k = 0;
      for (const item of c.items || []) {
        if (!isPaidAd(item)) continue;
        if (atCampaign) {
          if (weights[k]) item.ad.weight = weights[k]; else delete item.ad.weight;
        } else if (quantities[k]) item.ad.quantity = quantities[k]; else delete item.ad.quantity;
        k++;
      }
    }, `goals of campaign ${campaign.id}`);
  }
  render({ desk, campaign, switched, onSwitch }, { level, quantityOrdered, weights, quantities }) {
    const ads = (campaign.items || []).filter(isPaidAd);
    const atCampaign = campaign.goaling === 'GOALING_LEVEL_CAMPAIGN';
    const event = campaign.goalEvent === 'GOAL_EVENT_CLICKS' ? 'clicks' : 'requests';
    // The server's goals for the saved catalog; while the form is edited, the same split computed here.
    const computed = atCampaign ? splitByWeight(quantityOrdered, weights) : quantities;
    const saved = this.saved(ads);
    const goals = saved && desk.goals && ads.every((i) => desk.goals[i.id] !== undefined)
      ? ads.map((i) => Number(desk.goals[i.id])) : computed;
    const summary = atCampaign
      ? `Campaign-level goaling: ${num(quantityOrdered)} ${event} ordered, split by weight ${weights.map(num).join(' : ')} over ${ads.length} paid ads.`
      : `Ad-level goaling: each paid ad has its own quantity (${num(quantities.reduce((a, b) => a + b, 0))} ${event} in all).`;
    return html`<section aria-labelledby="goaling-h" class="goaling">
      <h2 id="goaling-h">Goaling</h2>
      <p id="goal-summary" data-level=${atCampaign ? 'campaign' : 'ad'} data-ordered=${atCampaign ? quantityOrdered : ''}>${summary}</p>
      <form id="goaling-switch" class="inline" onSubmit=${(e) => { e.preventDefault(); onSwitch(level); }}>
        <label for="goaling-level">Goaling level</label>
        <select id="goaling-level" value=${level} disabled=${!desk.canEdit} onChange=${(e) => this.setState({ level: e.currentTarget.value })}>
          <option value="ad">Ad level: each ad its own quantity</option>
          <option value="campaign">Campaign level: split by weight</option>
        </select>
        <button type="submit" class="change" disabled=${!desk.canEdit}>Switch goaling</button>
      </form>
      ${switched ? html`<div id="goaling-result">
        <p>Switched to ${switched.level} level. Each ad now has:</p>
        <${Table} rows=${switched.items} rowKey=${(i) => i.id} columns=${[
          { title: 'Ad', key: 'id' },
          { title: 'Quantity', num: true, render: (i) => num(i.quantity) },
          { title: 'Weight', num: true, render: (i) => num(i.weight) },
        ]} /></div>` : null}
      ${ads.length === 0 ? html`<${Empty}>No paid ads.<//>` : html`
      <form id="goals-form" onSubmit=${(e) => { e.preventDefault(); if (desk.canEdit) this.saveGoals(); }}>
        <fieldset disabled=${!desk.canEdit}>
          <legend>${atCampaign ? 'Weights of the paid ads' : 'Quantities of the paid ads'}</legend>
          ${atCampaign ? html`<div class="field">
            <label for="goals-ordered">Quantity ordered (${event})</label>
            <${NumberInput} id="goals-ordered" integer=${true} value=${quantityOrdered} min="0"
              onChange=${(v) => this.setState({ quantityOrdered: v || 0 })} /></div>` : null}
          <table id="goals">
            <thead><tr><th scope="col">Ad</th>
              <th scope="col" class="num">${atCampaign ? 'Weight' : 'Quantity'}</th>
              <th scope="col" class="num">Goal (${event})</th></tr></thead>
            <tbody>${ads.map((item, k) => html`<tr key=${item.id} data-item=${item.id}>
              <th scope="row"><label for=${`goal-input-${k}`}>${item.name || item.id}</label></th>
              <td class="num">
                <${NumberInput} id=${`goal-input-${k}`} name=${atCampaign ? 'weight' : 'quantity'} integer=${!atCampaign} min="0"
                  value=${atCampaign ? weights[k] : quantities[k]}
                  onChange=${(v) => {
                    const list = [...(atCampaign ? weights : quantities)];
                    list[k] = v || 0;
                    this.setState(atCampaign ? { weights: list } : { quantities: list });
                  }} /></td>
              <td class="num goal" data-goal=${goals[k]}>${num(goals[k])}</td>
            </tr>`)}</tbody>
          </table>
          <button type="submit" class="change primary">Save goals</button>
        </fieldset>
      </form>`}
    </section>`;
  }
}

function ItemList({ desk, campaign }) {
  const goals = paidAdGoals(campaign);
  const items = campaign.items || [];
  const base = `#/campaigns/${seg(campaign.id)}/items`;
  return html`<section aria-labelledby="items-h">
    <h2 id="items-h">Items</h2>
    ${items.length === 0 ? html`<${Empty}>No items yet.<//>` : html`
    <${Table} id="items" rows=${items} rowKey=${(i) => i.id} columns=${[
      { title: 'Item', render: (i) => html`<a href=${`${base}/${seg(i.id)}`}>${i.name || i.id}</a>` },
      { title: 'Id', key: 'id' },
      { title: 'Kind', render: (i) => itemKind(i) },
      { title: 'Active', render: (i) => (isActive(i) ? 'yes' : 'no') },
      { title: 'Goal', num: true, render: (i) => (isPaidAd(i) ? num(goals[items.indexOf(i)]) : '') },
      { title: 'Size', render: (i) => (i.ad ? i.ad.size : i.discount ? i.discount.size : '') || '' },
      { title: 'Target group', render: (i) => ((i.ad || i.discount || {}).targetGroup || '') },
    ]} />`}
    ${desk.canEdit ? html`<p class="actions">
      <a class="button" href=${`${base}/new/ad`}>Add an ad</a>
      <a class="button" href=${`${base}/new/discount`}>Add a discount</a>
      <a class="button" href=${`${base}/new/directMail`}>Add a direct-mail item</a></p>` : null}
  </section>`;
}
