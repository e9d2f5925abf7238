// Reference tables: content sizes (empty = the IAB defaults), industry codes
// and page groups (PUT /api/v1/reference-tables).

import { html, Component } from '../lib.js';
import { api } from '../api.js';
import { MessageFields } from '../form.js';
import { refsOf, kIabSizes } from '../schema.js';
import { EditForm, Table } from '../ui.js';
import { clone } from '../util.js';

export class ReferenceTables extends Component {
  constructor(props) {
    super(props);
    this.state = { draft: clone(props.desk.catalog.referenceTables) || {} };
  }
  async submit() {
    const { desk } = this.props;
    await desk.save((version) => api('PUT', '/api/v1/reference-tables', { body: this.state.draft, ifMatch: version }));
  }
  render({ desk }, { draft }) {
    const usingDefaults = !(draft.contentSizes && draft.contentSizes.length);
    return html`<h1 tabindex="-1">Reference tables</h1>
      <p>The names ads, discounts and requests use: content sizes, industry codes and page groups.</p>
      ${usingDefaults ? html`<section aria-labelledby="iab-h">
        <h2 id="iab-h">Content sizes: the IAB defaults</h2>
        <p>This catalog declares no content sizes, so these are its sizes.
          ${desk.canEdit ? html`<button type="button" class="change"
            onClick=${() => this.setState({ draft: { ...draft, contentSizes: clone(kIabSizes) } })}>Copy them into the list to edit them</button>` : null}</p>
        <${Table} id="iab-sizes" rows=${kIabSizes} rowKey=${(s) => s.name} columns=${[
          { title: 'Name', key: 'name' }, { title: 'Width', key: 'width', num: true }, { title: 'Height', key: 'height', num: true }]} />
      </section>` : null}
      <${EditForm} desk=${desk} id="reference-form" onSubmit=${() => this.submit()} saveLabel="Save reference tables">
        <${MessageFields} message="ReferenceTables" value=${draft} idp="ref" refs=${refsOf(desk.catalog)}
          onChange=${(v) => this.setState({ draft: v })} />
      <//>`;
  }
}
