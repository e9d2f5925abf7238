#!/usr/bin/env node
// A storefront's calls to `herald serve` from Node with its built-in fetch
// (Node 18 or later, no npm package): place ads, follow a click link, price a
// basket, commit the order, capture a response (docs/server.md).
//
// Usage: node herald_client.mjs [BASE_URL]     (default http://127.0.0.1:8080)
// Environment: HERALD_API_KEY, sent as `Authorization: Bearer KEY` when set
// (a `decisions` key; reading the report to confirm the click needs `reports`
// or `admin`: HERALD_REPORTS_API_KEY, else HERALD_API_KEY).
//
// It prints what it did, then one line `RESULT {json}` that the CI test reads.
// Exit status: 0 when every step got the answer it expects, 1 otherwise.

const base = (process.argv[2] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const apiKey = process.env.HERALD_API_KEY ?? '';
const reportsKey = process.env.HERALD_REPORTS_API_KEY ?? apiKey;

class ApiError extends Error {
  constructor(status, error) {
    super(`HTTP ${status} ${error.code}: ${error.message}`);
    this.status = status;
    this.error = error;
  }
}

// One request; resolves to {status, headers, body} (body parsed when JSON).
// The click's redirect is the answer we want to see, so none is followed.
async function call(method, path, body, key = apiKey) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(10000),
  });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').startsWith('application/json');
  const parsed = isJson && text ? JSON.parse(text) : text;
  if (response.status >= 400) {
    throw new ApiError(response.status, isJson ? parsed : { code: '', message: text, field: '' });
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

async function clicksRecorded() {
  const { body } = await call('GET', '/v1/reports/campaign-event-summary', undefined, reportsKey);
  return body.rows.filter((row) => row.event === 'click').reduce((n, row) => n + Number(row.events ?? 0), 0);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const run = String(Date.now());
  const result = {};

  const ready = await call('GET', '/readyz');
  console.log(`server: ${ready.body.status}`);

  const selected = await call('POST', '/v1/ads:select', {
    pageGroups: ['Home'], count: 3, userId: `node-${run}`, profile: { age: 34, state: 'WA' },
  });
  const winners = selected.body.winners ?? [];
  for (const ad of winners) {
    console.log(`ad: ${ad.itemId} (${ad.kind}, score ${ad.score.toFixed(3)}) -> ${ad.clickUrl.slice(0, 40)}...`);
  }
  result.winners = winners.map((ad) => ad.itemId);
  if (winners.length === 0) {
    console.log('no ads were placed');
    return 1;
  }

  // Following each ad's link: a 302 to the advertiser, and as many more
  // clicks in the store (events reach it within the server's flush interval).
  const before = await clicksRecorded();
  result.clicks = [];
  for (const ad of winners) {
    const click = await call('GET', ad.clickUrl);
    result.clicks.push({ item: ad.itemId, status: click.status, location: click.headers.get('location') });
    console.log(`click on ${ad.itemId}: ${click.status} to ${click.headers.get('location')}`);
  }
  const deadline = Date.now() + 10000;
  let after = await clicksRecorded();
  while (after < before + winners.length && Date.now() < deadline) {
    await sleep(200);
    after = await clicksRecorded();
  }
  result.clicks_recorded = after - before;
  console.log(`clicks recorded: ${before} -> ${after}`);

  const customer = `node-${run}`;
  // `time` fixes the pricing moment (08:00 in the catalog's zone, outside its
  // 5-9 pm happy hour) so the output is the same at any hour; a storefront
  // leaves it out to price at the server's clock.
  const basket = {
    currency: 'USD', customerId: customer, couponCodes: ['WELCOME5'], time: '2026-06-02T15:00:00Z',
    items: [{ productId: 'tent', category: 'Outdoor', unitPriceMinor: '4500', quantity: '1' }],
  };
  const priced = await call('POST', '/v1/baskets:price', { basket });
  result.priced_total_minor = priced.body.totalMinor;
  console.log(`basket priced: ${priced.body.totalMinor} minor units (subtotal ${priced.body.subtotalMinor})`);

  const committed = await call('POST', '/v1/orders:commit', { basket: { ...basket, orderId: `order-${run}` } });
  result.committed_total_minor = committed.body.priced.totalMinor;
  console.log(`order order-${run} committed: ${committed.body.priced.totalMinor}`);
  try {
    await call('POST', '/v1/orders:commit', { basket: { ...basket, orderId: `order2-${run}` } });
    result.second_commit = 'accepted';
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    result.second_commit = e.error.code;
    console.log(`second order with the same coupon refused: ${e.message}`);
  }

  const stored = await call('POST', '/v1/responses', {
    subject: { customerId: customer, email: `${customer}@example.com` },
    action: { issue: 'Sales', group: 'Gear', name: 'WinterJacket' },
    outcome: 'OUTCOME_ACCEPTED', channel: 'Web',
  });
  result.interaction_id = stored.body.interactionId;
  console.log(`response captured: ${stored.body.interactionId} (sequence ${stored.body.sequence})`);

  try {
    await call('POST', '/v1/ads:select', { count: 'abc' });
    result.bad_request = 'accepted';
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    result.bad_request = { status: e.status, field: e.error.field };
    console.log(`bad request refused: ${e.message} (field ${e.error.field})`);
  }

  console.log(`RESULT ${JSON.stringify(result)}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`herald_client.mjs: ${e.message}`);
    process.exit(1);
  },
);
