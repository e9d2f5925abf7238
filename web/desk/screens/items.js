// A campaign item: an ad, a discount or a direct-mail piece, with every
// field of the model (PUT / DELETE /api/v1/campaigns/{id}/items/{item}). A
// discount's screen also prices a basket with the saved catalog.

import { html, Component } from '../lib.js';
import { api, seg } from '../api.js';
import { MessageFields } from '../form.js';
import { refsOf } from '../schema.js';
import { EditForm } from '../ui.js';
import { clone, findCampaign, itemKind } from '../util.js';
import { BasketPreview } from './basket.js';
import { AudiencePanel, loadListRefs } from './lists.js';

export class ItemEdit extends Component {
  constructor(props) {
    super(props);
    const campaign = findCampaign(props.desk.catalog, props.campaignId);
    const found = campaign && (campaign.items || []).find((i) => i.id === props.id);
    let draft = clone(found);
    if (!draft) draft = { [props.kind || 'ad']: props.kind === 'ad' || !props.kind ? { type: 'AD_TYPE_PAID' } : {} };
    this.state = { draft, missing: !campaign || (!!props.id && !found), listRefs: {} };
  }
  async componentDidMount() {
    // The List Manager's lists, for a direct-mail item's recipients and opt-out list.
    try { this.setState({ listRefs: await loadListRefs() }); } catch { /* the selects keep the saved names */ }
  }
  async submit() {
    const { desk, campaignId, id } = this.props;
    const { draft } = this.state;
    if (!draft.id) { desk.notify({ kind: 'error', text: 'An item needs an id.' }); return; }
    const taken = (desk.catalog.campaigns || []).some((c) => (c.items || []).some((i) => i.id === draft.id));
    if (!id && taken) { desk.notify({ kind: 'error', text: `There is an item "${draft.id}" already: item ids are unique in the catalog.` }); return; }
    const r = await desk.save((version) => api('PUT', `/api/v1/campaigns/${seg(campaignId)}/items/${seg(draft.id)}`,
      { body: draft, ifMatch: version }));
    if (r && !id) desk.go(`#/campaigns/${seg(campaignId)}/items/${seg(draft.id)}`);
  }
  async remove() {
    const { desk, campaignId, id } = this.props;
    const r = await desk.save((version) => api('DELETE', `/api/v1/campaigns/${seg(campaignId)}/items/${seg(id)}`, { ifMatch: version }));
    if (r) desk.go(`#/campaigns/${seg(campaignId)}`);
  }
  render({ desk, campaignId, id }, { draft, missing, listRefs }) {
    const campaign = findCampaign(desk.catalog, campaignId);
    if (missing) return html`<h1 tabindex="-1">No item "${id}" in campaign "${campaignId}"</h1><p><a href="#/campaigns">All campaigns</a></p>`;
    const kind = itemKind(draft);
    return html`<h1 tabindex="-1">${id ? `${draft.name || id}` : `New ${kind}`} <span class="muted">(${kind})</span></h1>
      <p><a href=${`#/campaigns/${seg(campaignId)}`}>Campaign ${campaign.name || campaign.id}</a></p>
      <div class=${draft.discount || (draft.directMail && id) ? 'columns' : ''}>
        <section aria-label="Item">
          <${EditForm} desk=${desk} id="item-form" onSubmit=${() => this.submit()} saveLabel="Save item"
              onDelete=${id ? () => this.remove() : null} deleteLabel=${`Delete item ${id}`}>
            <${MessageFields} message="CampaignItem" value=${draft} idp="item" refs=${{ ...refsOf(desk.catalog), ...listRefs }} lockKey=${!!id}
              onChange=${(v) => this.setState({ draft: v })} />
          <//>
        </section>
        ${draft.discount ? html`<${BasketPreview} desk=${desk} item=${draft} saved=${!!id} />` : null}
        ${draft.directMail && id ? html`<${AudiencePanel} item=${id} version=${desk.version} />` : null}
      </div>`;
  }
}
