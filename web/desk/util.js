// Small formatting and model helpers shared by the screens.

const kNumber = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

// 1500 -> "1,500"; int64 strings ("1500") too; "" for no value.
export function num(v) {
  if (v === undefined || v === null || v === '') return '';
  const n = Number(v);
  return Number.isFinite(n) ? kNumber.format(n) : String(v);
}

// Minor units -> "12.34" in the currency's digits.
export function money(minor, currency = 'USD') {
  const digits = currencyDigits(currency);
  const n = Number(minor || 0) / 10 ** digits;
  return new Intl.NumberFormat('en-US', { style: 'currency', currency, minimumFractionDigits: digits })
    .format(n);
}

export function currencyDigits(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

// The campaign-level goal split, as SplitByWeight in lib/core/catalog_goaling.cc
// (largest remainder; ties go to the earlier weight), for showing the
// computed quantities while the weights are edited.
export function splitByWeight(quantity, weights) {
  const out = weights.map(() => 0);
  const q = Number(quantity || 0);
  const total = weights.reduce((t, w) => t + (w > 0 ? w : 0), 0);
  if (total <= 0 || q <= 0) return out;
  const remainders = [];
  let assigned = 0;
  weights.forEach((w, i) => {
    const exact = (q * (w > 0 ? w : 0)) / total;
    out[i] = Math.floor(exact + 1e-9);
    assigned += out[i];
    remainders.push([exact - out[i], i]);
  });
  remainders.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; assigned < q && k < remainders.length; ++k, ++assigned) out[remainders[k][1]]++;
  return out;
}

export const isPaidAd = (item) => !!item.ad && (item.ad.type || 'AD_TYPE_PAID') !== 'AD_TYPE_HOUSE';

export function itemKind(item) {
  if (item.ad) return (item.ad.type === 'AD_TYPE_HOUSE') ? 'house ad' : 'paid ad';
  if (item.discount) return 'discount';
  if (item.directMail) return 'direct mail';
  return '?';
}

// Each item's delivery goal (PaidAdGoals in herald/catalog.h): the ad's own
// quantity at ad level, its share of quantityOrdered by weight at campaign level.
export function paidAdGoals(campaign) {
  const items = campaign.items || [];
  const goals = items.map(() => 0);
  if (campaign.goaling !== 'GOALING_LEVEL_CAMPAIGN') {
    items.forEach((it, i) => { if (isPaidAd(it)) goals[i] = Number(it.ad.quantity || 0); });
    return goals;
  }
  const where = [];
  const weights = [];
  items.forEach((it, i) => { if (isPaidAd(it)) { where.push(i); weights.push(Number(it.ad.weight || 0)); } });
  splitByWeight(campaign.quantityOrdered, weights).forEach((g, k) => { goals[where[k]] = g; });
  return goals;
}

export function isActive(x) { return x.active === undefined || x.active === null || x.active === true; }

// Deep copy of JSON data.
export const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));

export function byName(a, b) {
  return String(a.name || a.id || '').localeCompare(String(b.name || b.id || ''), 'en', { sensitivity: 'base' });
}

export function findCampaign(catalog, id) {
  return (catalog.campaigns || []).find((c) => c.id === id);
}

export function customerName(catalog, id) {
  const c = (catalog.customers || []).find((x) => x.id === id);
  return c ? (c.name || c.id) : id;
}

// "2026-11-01T08:00" -> "2026-11-01"
export const day = (s) => String(s || '').slice(0, 10);

export function localTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
