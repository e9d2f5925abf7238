// "Price this basket": a basket priced by the saved catalog
// (POST /api/v1/baskets:price with explain), again after every change, with
// what each discount did and why.

import { html, Component } from '../lib.js';
import { api } from '../api.js';
import { AttributeInputs, toValueMap } from '../attributes.js';
import { currencyDigits, money, num } from '../util.js';

let lineCounter = 0;
const newLine = () => ({ key: ++lineCounter, productId: '', category: '', price: '', quantity: '1', props: {} });

export class BasketPreview extends Component {
  constructor(props) {
    super(props);
    const d = props.item.discount || {};
    this.state = {
      lines: [newLine()],
      coupons: (d.couponCodes || [])[0] || '',
      clicked: !!d.clickRequired,
      shipping: '',
      time: '',
      user: {},
      context: {},
      result: null,
      error: '',
    };
    this.seq = 0;
    this.timer = 0;
  }
  componentWillUnmount() { clearTimeout(this.timer); this.seq++; }
  change(patch) {
    this.setState(patch, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.price(), 300);
    });
  }
  request() {
    const { desk, item } = this.props;
    const catalog = desk.catalog;
    const currency = catalog.currency || 'USD';
    const scale = 10 ** currencyDigits(currency);
    const { lines, coupons, clicked, shipping, time, user, context } = this.state;
    const basket = {
      currency,
      items: lines.filter((l) => l.price !== '' || l.productId || l.category).map((l, i) => ({
        id: String(i + 1),
        productId: l.productId,
        category: l.category,
        unitPriceMinor: String(Math.round(parseFloat(l.price || '0') * scale)),
        quantity: String(parseInt(l.quantity || '0', 10) || 0),
        properties: toValueMap(catalog.productAttributes, l.props, currency),
      })),
      user: { values: toValueMap(catalog.userAttributes, user, currency) },
      context: { values: toValueMap(catalog.contextAttributes, context, currency) },
      couponCodes: coupons.split(',').map((s) => s.trim()).filter(Boolean),
      clickedItems: clicked && item.id ? [item.id] : [],
      shippingMinor: String(Math.round(parseFloat(shipping || '0') * scale)),
    };
    if (time) basket.time = new Date(time).toISOString();
    return { basket, explain: true };
  }
  async price() {
    const n = ++this.seq;
    const body = this.request();
    if (body.basket.items.length === 0) { this.setState({ result: null, error: '' }); return; }
    try {
      const result = await api('POST', '/api/v1/baskets:price', { body });
      if (n === this.seq) this.setState({ result, error: '' });
    } catch (e) {
      if (n === this.seq) this.setState({ result: null, error: e.message });
    }
  }
  setLine(i, patch) {
    this.change({ lines: this.state.lines.map((l, j) => (j === i ? { ...l, ...patch } : l)) });
  }
  render({ desk, item, saved }, { lines, coupons, clicked, shipping, time, user, context, result, error }) {
    const catalog = desk.catalog;
    const currency = catalog.currency || 'USD';
    return html`<section aria-labelledby="basket-h" class="basket">
      <h2 id="basket-h">Price this basket</h2>
      <p class="muted">Priced by the saved catalog, version ${desk.version}${saved ? '' : ': save the new discount first to see it apply'}; unsaved changes to this form are not in it.</p>
      <form id="basket-form" onSubmit=${(e) => { e.preventDefault(); this.price(); }}>
        ${lines.map((l, i) => html`<fieldset class="group" key=${l.key}>
          <legend>Line ${i + 1}</legend>
          <div class="fields">
            <div class="field"><label for=${`line-${l.key}-product`}>Product id</label>
              <input id=${`line-${l.key}-product`} value=${l.productId} onInput=${(e) => this.setLine(i, { productId: e.currentTarget.value })} /></div>
            <div class="field"><label for=${`line-${l.key}-category`}>Category</label>
              <input id=${`line-${l.key}-category`} value=${l.category} onInput=${(e) => this.setLine(i, { category: e.currentTarget.value })} /></div>
            <div class="field"><label for=${`line-${l.key}-price`}>Unit price (${currency})</label>
              <input id=${`line-${l.key}-price`} type="number" step="any" min="0" value=${l.price} onInput=${(e) => this.setLine(i, { price: e.currentTarget.value })} /></div>
            <div class="field"><label for=${`line-${l.key}-quantity`}>Quantity</label>
              <input id=${`line-${l.key}-quantity`} type="number" step="1" min="0" value=${l.quantity} onInput=${(e) => this.setLine(i, { quantity: e.currentTarget.value })} /></div>
          </div>
          <${AttributeInputs} decls=${catalog.productAttributes} values=${l.props} idp=${`line-${l.key}-prop`}
            legend="Product attributes" onChange=${(props) => this.setLine(i, { props })} />
          ${lines.length > 1 ? html`<button type="button" onClick=${() => this.change({ lines: lines.filter((_, j) => j !== i) })}>Remove line ${i + 1}</button>` : null}
        </fieldset>`)}
        <button type="button" onClick=${() => this.change({ lines: [...lines, newLine()] })}>Add a line</button>
        <div class="fields">
          <div class="field"><label for="basket-coupons">Coupon codes</label>
            <input id="basket-coupons" value=${coupons} placeholder="CODE1, CODE2" onInput=${(e) => this.change({ coupons: e.currentTarget.value })} /></div>
          <div class="field"><label for="basket-shipping">Shipping (${currency})</label>
            <input id="basket-shipping" type="number" step="any" min="0" value=${shipping} onInput=${(e) => this.change({ shipping: e.currentTarget.value })} /></div>
          <div class="field"><label for="basket-time">Time</label>
            <input id="basket-time" type="datetime-local" value=${time} onInput=${(e) => this.change({ time: e.currentTarget.value })} /></div>
          <div class="field check">
            <input id="basket-clicked" type="checkbox" checked=${clicked} onChange=${(e) => this.change({ clicked: e.currentTarget.checked })} />
            <label for="basket-clicked">The shopper clicked this discount's ad</label></div>
        </div>
        <${AttributeInputs} decls=${catalog.userAttributes} values=${user} idp="basket-user" legend="The shopper (user.*)"
          onChange=${(v) => this.change({ user: v })} />
        <${AttributeInputs} decls=${catalog.contextAttributes} values=${context} idp="basket-context" legend="The request (context.*)"
          onChange=${(v) => this.change({ context: v })} />
        <button type="submit">Price</button>
      </form>
      <div aria-live="polite">
        ${error ? html`<p class="error">${error}</p>` : null}
        ${result ? html`<${PricedBasket} result=${result} itemId=${item.id} />` : null}
      </div>
    </section>`;
  }
}

function PricedBasket({ result, itemId }) {
  const cur = result.currency || 'USD';
  const m = (v) => money(v, cur);
  const applied = new Set();
  for (const line of result.lines || []) for (const u of line.units || []) for (const d of u.discounts || []) applied.add(d.discountId);
  for (const a of result.orderAdjustments || []) applied.add(a.discountId);
  return html`<div id="priced" data-total=${result.totalMinor || 0}>
    <p class=${applied.has(itemId) ? 'ok' : 'muted'} id="priced-verdict">
      ${applied.has(itemId) ? `This discount (${itemId}) applied.` : `This discount (${itemId || 'unsaved'}) did not apply: see the explanation.`}</p>
    <table id="priced-lines">
      <caption>Lines</caption>
      <thead><tr><th scope="col">Line</th><th scope="col">Units</th><th scope="col" class="num">Before</th>
        <th scope="col" class="num">Item discounts</th><th scope="col" class="num">Order discounts</th><th scope="col" class="num">After</th></tr></thead>
      <tbody>${(result.lines || []).map((l) => html`<tr key=${l.lineId}>
        <th scope="row">${l.lineId}</th>
        <td><ul class="units">${(l.units || []).map((u, k) => html`<li>unit ${k + 1}: ${m(u.priceMinor)}
          ${(u.discounts || []).map((d) => html` · ${d.name || d.discountId} (${d.role}${d.couponCode ? `, ${d.couponCode}` : ''}) −${m(d.amountMinor)}`)}</li>`)}</ul></td>
        <td class="num">${m(l.originalTotalMinor)}</td>
        <td class="num">${m(l.discountTotalMinor)}</td>
        <td class="num">${m(l.orderDiscountMinor)}</td>
        <td class="num">${m(l.adjustedTotalMinor)}</td>
      </tr>`)}</tbody>
    </table>
    ${(result.orderAdjustments || []).length ? html`<h3>Order adjustments</h3><ul>
      ${result.orderAdjustments.map((a) => html`<li>${a.name || a.discountId}: −${m(a.amountMinor)} on the ${a.target}${a.couponCode ? ` (code ${a.couponCode})` : ''}</li>`)}</ul>` : null}
    <dl class="totals">
      <dt>Subtotal</dt><dd>${m(result.subtotalMinor)}</dd>
      <dt>Item discounts</dt><dd>−${m(result.itemDiscountMinor)}</dd>
      <dt>Order discounts</dt><dd>−${m(result.orderDiscountMinor)}</dd>
      <dt>Shipping</dt><dd>${m(result.shippingMinor)}${Number(result.originalShippingMinor || 0) !== Number(result.shippingMinor || 0) ? ` (was ${m(result.originalShippingMinor)})` : ''}</dd>
      <dt>Total</dt><dd id="priced-total">${m(result.totalMinor)}</dd>
    </dl>
    <h3>Explanation</h3>
    ${(result.trace || []).length ? html`<table class="trace">
      <thead><tr><th scope="col">Component</th><th scope="col">Discount or line</th><th scope="col">Verdict</th>
        <th scope="col">Why</th><th scope="col" class="num">Value</th></tr></thead>
      <tbody>${result.trace.map((t, i) => html`<tr key=${i} class=${t.subject === itemId ? 'mine' : ''}>
        <td>${t.component}</td><td>${t.subject}</td><td>${t.verdict}</td><td>${t.reason}</td>
        <td class="num">${t.value ? num(t.value) : ''}</td></tr>`)}</tbody></table>` : html`<p class="muted">No explanation was returned.</p>`}
  </div>`;
}
