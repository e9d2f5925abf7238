// The shop page: asks the server (which embeds Herald) for ads and prices the basket.
// URL parameters: page_group (Home), user (shopper-1), at (an RFC 3339 time; default now).
'use strict';
const params = new URLSearchParams(location.search);
const pageGroup = params.get('page_group') || 'Home';
const user = params.get('user') || 'shopper-1';
const at = params.get('at') || '';
// The visitor's profile, as the catalog declares it (user.<attribute>).
const profile = { age: '34', state: 'WA', registered: 'true', premier: 'true' };
const products = [
  { product_id: 'juice-case', category: 'juice', name: 'Wingtip juice, case', price: 1299, manufacturer: 'Wingtip' },
  { product_id: 'coffee-beans', category: 'coffee', name: 'Coho coffee beans', price: 1599, manufacturer: 'Coho' },
  { product_id: 'phone-basic', category: 'telephone', name: 'Telephone', price: 4999, manufacturer: 'Contoso' },
  { product_id: 'blue-paint-gallon', category: 'paint', name: 'Fabrikam blue paint', price: 3499, manufacturer: 'Fabrikam' },
  { product_id: 'tent', category: 'outdoor', name: 'Tent', price: 14999, manufacturer: 'Contoso' },
];
const basket = JSON.parse(sessionStorage.getItem('basket') || '{}');  // product_id -> quantity
let coupon = sessionStorage.getItem('coupon') || '';

function money(minor) { return (minor / 100).toFixed(2); }
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function withAt(url) { return at ? url + (url.includes('?') ? '&' : '?') + 'at=' + encodeURIComponent(at) : url; }

function query(extra) {
  const q = new URLSearchParams({ page_group: pageGroup, user: user, session: user + '-session', ...extra });
  Object.entries(profile).forEach(([k, v]) => q.set('user.' + k, v));
  q.set('context.device', 'desktop');
  q.set('context.page', pageGroup);
  if (at) q.set('at', at);
  return q;
}

function fill(slot, ad) {
  slot.textContent = '';
  if (!ad) { slot.classList.remove('filled'); slot.appendChild(el('span', { class: 'kind' }, 'empty slot')); return; }
  slot.classList.add('filled');
  slot.dataset.item = ad.id;
  const a = el('a', { href: withAt(ad.href), 'data-item': ad.id, class: 'ad-link' });
  a.appendChild(el('div', { class: 'kind' }, ad.kind + ' · ' + ad.campaign));
  a.appendChild(el('div', { class: 'name' }, ad.name));
  if (ad.text) a.appendChild(el('div', { class: 'text' }, ad.text));
  slot.appendChild(a);
}

async function loadAds() {
  const banners = await (await fetch('/ads?' + query({ size: 'Banner', count: '2' }))).json();
  const discounts = await (await fetch('/ads?' + query({ size: 'Banner', count: '1', discounts: '1' }))).json();
  fill(document.getElementById('slot-1'), (banners.ads || [])[0]);
  fill(document.getElementById('slot-2'), (banners.ads || [])[1]);
  fill(document.getElementById('slot-3'), (discounts.ads || [])[0]);
  document.body.dataset.adsLoaded = String((banners.ads || []).length + (discounts.ads || []).length);
}

async function price() {
  const lines = products.filter(p => basket[p.product_id] > 0).map(p => ({
    id: p.product_id, product_id: p.product_id, category: p.category,
    unit_price_minor: String(p.price), quantity: String(basket[p.product_id]),
    properties: { manufacturer: { string_value: p.manufacturer } },
  }));
  const body = { currency: 'USD', items: lines, customer_id: user, shipping_minor: '799',
                 user: { values: { age: { int_value: profile.age }, state: { string_value: profile.state },
                                   registered: { bool_value: true }, premier: { bool_value: true } } } };
  if (coupon) body.coupon_codes = [coupon];
  if (at) body.time = at;
  const res = await fetch('/basket/price', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                             body: JSON.stringify(body) });
  const out = await res.json();
  document.getElementById('error').textContent = out.error || '';
  if (!res.ok) return;
  render(out.priced);
}

function render(priced) {
  const tbody = document.querySelector('#basket tbody');
  tbody.textContent = '';
  const names = {};
  (priced.lines || []).forEach(line => {
    const p = products.find(x => x.product_id === line.line_id);
    const tr = el('tr', { 'data-line': line.line_id });
    tr.appendChild(el('td', {}, p ? p.name : line.line_id));
    tr.appendChild(el('td', { class: 'n' }, String(basket[line.line_id] || '')));
    tr.appendChild(el('td', { class: 'n' }, money(+line.original_total_minor)));
    const off = +line.discount_total_minor + +line.order_discount_minor;
    tr.appendChild(el('td', { class: 'n discount' }, off ? '-' + money(off) : ''));
    tr.appendChild(el('td', { class: 'n' }, money(+line.adjusted_total_minor)));
    tbody.appendChild(tr);
    (line.units || []).forEach(u => (u.discounts || []).forEach(d => {
      if (d.role === 'award' && +d.amount_minor > 0) names[d.name] = (names[d.name] || 0) + +d.amount_minor;
    }));
  });
  (priced.order_adjustments || []).forEach(a => { names[a.name] = (names[a.name] || 0) + +a.amount_minor; });
  const list = document.getElementById('discounts');
  list.textContent = '';
  const ul = el('ul');
  Object.entries(names).forEach(([name, amount]) => ul.appendChild(el('li', { class: 'applied' }, name + ': -' + money(amount))));
  list.appendChild(ul);
  const discount = +priced.item_discount_minor + +priced.order_discount_minor +
                   (+priced.original_shipping_minor - +priced.shipping_minor);
  document.getElementById('totals').innerHTML = '';
  document.getElementById('totals').append(
    el('div', {}, 'Subtotal ' + money(+priced.subtotal_minor) + ' · shipping ' + money(+priced.shipping_minor)),
    el('div', { id: 'discount-total', 'data-minor': String(discount) }, 'You save ' + money(discount)),
    el('div', { id: 'total', 'data-minor': priced.total_minor }, 'Total ' + money(+priced.total_minor) + ' USD'));
  document.body.dataset.priced = String(Date.now());
}

function setup() {
  document.getElementById('user').textContent = user;
  const nav = document.getElementById('pages');
  ['Home', 'Sports', 'Garden', 'Kitchen', 'Checkout'].forEach(g => {
    const q = new URLSearchParams(location.search);
    q.set('page_group', g);
    nav.appendChild(el('a', { href: '/?' + q, class: g === pageGroup ? 'here' : '' }, g));
  });
  const ul = document.getElementById('products');
  products.forEach(p => {
    const li = el('li');
    li.append(el('span', {}, p.name + ' ' + money(p.price) + ' '));
    const b = el('button', { 'data-add': p.product_id }, 'Add');
    b.onclick = () => { basket[p.product_id] = (basket[p.product_id] || 0) + 1; save(); price(); };
    li.append(b);
    ul.appendChild(li);
  });
  document.getElementById('coupon').value = coupon;
  document.getElementById('apply-coupon').onclick = () => { coupon = document.getElementById('coupon').value.trim(); save(); price(); };
  document.getElementById('clear').onclick = () => { Object.keys(basket).forEach(k => delete basket[k]); coupon = ''; save(); price(); };
}
function save() {
  sessionStorage.setItem('basket', JSON.stringify(basket));
  sessionStorage.setItem('coupon', coupon);
}

setup();
loadAds().then(price).catch(e => { document.getElementById('error').textContent = String(e); });
