// The Business Desk app (web/desk) in headless Chromium against real
// `herald serve` processes: one with the desk listener, and a second one
// without it as "the selector in another process", both on one SQLite store
// with a 300 ms catalog refresh; the desk server's mail jobs write to a
// Maildir in the test's folder. Every scenario drives the app as a person
// would (typing, Enter, the keyboard) and checks what it shows against the
// admin API's own answers.
//
//   HERALD_BIN=build/bin/herald node --test test/desk/browser/desk.test.mjs
//
// Environment: HERALD_BIN (the herald program, required), HERALD_SOURCE_DIR
// (the repository; default: three folders up), HERALD_CHROMIUM (default
// /usr/bin/chromium). It fails, never skips, when Chromium or
// web/node_modules (scripts/setup_web.sh) is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(process.env.HERALD_SOURCE_DIR || path.join(here, '..', '..', '..'));
const herald = process.env.HERALD_BIN || '';
const chromium = process.env.HERALD_CHROMIUM || '/usr/bin/chromium';
const web = path.join(source, 'web');
const catalogFile = path.join(source, 'examples', 'storefront', 'catalog.textproto');

const ADMIN = { user: 'ann', password: 'ann-password-1234' };
const VIEWER = { user: 'vic', password: 'vic-password-1234' };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- processes -------------------------------------------------------------

const children = [];
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Runs herald to completion; rejects with its output when it fails.
function run(args, env = {}, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const child = spawn(herald, args, { cwd: source, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`herald ${args.join(' ')} failed (${code ?? signal}):\n${out}`));
    });
  });
}

// Starts a long-running herald whose output goes to `log`.
function start(args, log) {
  const fd = fs.openSync(log, 'a');
  const child = spawn(herald, args, { cwd: source, env: process.env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  children.push(child);
  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const done = await Promise.race([exited.then(() => true), sleep(10000).then(() => false)]);
  if (!done) { child.kill('SIGKILL'); await exited; }
}

// Polls `probe` (an async function returning a truthy value when done)
// until it is done or `ms` have passed; never a fixed wait.
async function until(what, probe, ms = 20000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(every);
  }
}

// ---- the admin API from node (the checks' own view) ------------------------

class ApiClient {
  constructor(base) { this.base = base; this.cookie = ''; this.csrf = ''; }
  async signIn({ user, password }) {
    const r = await fetch(`${this.base}/api/v1/session`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user, password }),
    });
    const body = await r.json();
    assert.equal(r.status, 200, `signing in as ${user}: ${JSON.stringify(body)}`);
    this.cookie = (r.headers.get('set-cookie') || '').split(';')[0];
    this.csrf = body.csrfToken;
    return body;
  }
  async call(method, route, body, headers = {}) {
    const r = await fetch(`${this.base}${route}`, {
      method,
      headers: {
        Cookie: this.cookie,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(method !== 'GET' ? { 'X-CSRF-Token': this.csrf } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { status: r.status, json, text };
  }
  async ok(method, route, body, headers) {
    const r = await this.call(method, route, body, headers);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${route}: ${r.status} ${r.text}`);
    return r.json;
  }
}

// ---- fixture ----------------------------------------------------------------

let tmp = '';
let maildir = '';  // the desk server's mail jobs write here (--mail-maildir)
let deskBase = '';
let selectorBase = '';
let desk = null;
let selector = null;
let browser = null;
let admin = null;
const logs = [];

before(async () => {
  // Everything the test needs must be here: a missing piece is a failure.
  assert.ok(herald && fs.existsSync(herald), `HERALD_BIN must name the built herald program (got "${herald}")`);
  assert.ok(fs.existsSync(chromium), `${chromium} is missing: install Debian's chromium (scripts/packages.txt)`);
  assert.ok(fs.existsSync(path.join(web, 'node_modules', 'puppeteer-core')) && fs.existsSync(path.join(web, 'node_modules', 'preact')),
    `${web}/node_modules is missing or incomplete: run scripts/setup_web.sh`);
  const require = createRequire(path.join(web, 'package.json'));
  const puppeteer = require('puppeteer-core');

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-desk-browser-'));
  const store = `sqlite:${path.join(tmp, 'h.db')}`;
  await run(['catalog', 'push', catalogFile, '--store', store, '--note', 'the example catalog']);
  // The first admin; the password only in the environment.
  await run(['serve', '--init-admin', ADMIN.user, '--store', store], { HERALD_ADMIN_PASSWORD: ADMIN.password });

  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  deskBase = `http://127.0.0.1:${p2}`;
  selectorBase = `http://127.0.0.1:${p3}`;
  logs.push(path.join(tmp, 'desk-server.log'), path.join(tmp, 'selector-server.log'));
  maildir = path.join(tmp, 'maildir');
  desk = start(['serve', '--store', store, '--listen', `127.0.0.1:${p1}`, '--desk-listen', `127.0.0.1:${p2}`,
    '--desk-assets', web, '--catalog-refresh-ms', '300', '--mail-maildir', maildir], logs[0]);
  selector = start(['serve', '--store', store, '--listen', `127.0.0.1:${p3}`, '--catalog-refresh-ms', '300'], logs[1]);
  for (const [name, url] of [['the desk server', `http://127.0.0.1:${p1}/readyz`], ['the desk listener', `${deskBase}/`],
    ['the second server', `${selectorBase}/readyz`]]) {
    await until(`${name} (${url})`, async () => {
      for (const c of [desk, selector]) if (c.exitCode !== null) throw new Error(`herald serve exited: ${serverLogs()}`);
      return (await fetch(url)).status === 200;
    }, 30000);
  }

  admin = new ApiClient(deskBase);
  await admin.signIn(ADMIN);
  await admin.ok('POST', '/api/v1/users', { name: VIEWER.user, role: 'viewer', password: VIEWER.password });

  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await Promise.all([stop(desk), stop(selector)]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function serverLogs() {
  return logs.map((f) => {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { text = '(no log)'; }
    return `--- ${path.basename(f)} (last lines)\n${text.split('\n').slice(-25).join('\n')}`;
  }).join('\n');
}

// A fresh browser profile (its own cookies) on a laptop-sized screen. Page
// errors and failed API calls are collected and fail the scenario.
async function newPage() {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1366, height: 768 });
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  page.context = context;
  return page;
}

// Runs one scenario with its own page; on failure, saves a screenshot next
// to the test's working directory and prints the servers' logs.
async function scenario(name, fn) {
  const page = await newPage();
  try {
    await fn(page);
    assert.deepEqual(page.problems, [], 'the page reported errors');
  } catch (e) {
    const shot = path.resolve(`desk-browser-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    const notice = await page.$eval('main', (m) => m.innerText.slice(0, 1500)).catch(() => '');
    e.message += `\nscreenshot: ${shot}\nthe page said:\n${notice}\n${serverLogs()}`;
    throw e;
  } finally {
    await page.context.close().catch(() => {});
  }
}

// Signs in through the form: the user name, Tab, the password, Enter.
async function signIn(page, who) {
  await page.goto(`${deskBase}/`);
  await page.waitForSelector('#signin-user');
  await page.focus('#signin-user');
  await page.keyboard.type(who.user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(who.password);
  await page.keyboard.press('Enter');
  await page.waitForSelector('header.top .who');
  await page.waitForSelector('main h1');
}

async function go(page, hash) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
  await page.waitForFunction((h) => window.location.hash === h && document.querySelector(`main h1`), {}, hash);
  await page.waitForNetworkIdle({ idleTime: 150, timeout: 10000 }).catch(() => {});
}

// Replaces a field's text as a person would: select all, type.
async function fill(page, selector, text) {
  await page.waitForSelector(selector);
  await page.focus(selector);
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  if (text !== '') await page.keyboard.type(String(text));
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent.trim());

async function savedNotice(page) {
  const notice = await page.waitForSelector('.notice.ok, .notice.error', { timeout: 15000 });
  const said = await notice.evaluate((n) => n.innerText);
  assert.ok(/Saved as version \d+/.test(said), `the save was not confirmed: ${said}`);
  await page.$eval('.notice.ok button', (b) => b.click());
  return Number(said.match(/version (\d+)/)[1]);
}

// Every control has a label (or, for a button, its text), and nothing runs
// off a laptop screen sideways.
async function assertLabelledAndNarrow(page, where) {
  const unlabeled = await page.$$eval('input, select, textarea, button', (els) => els
    .filter((e) => e.type !== 'hidden')
    .filter((e) => (e.tagName === 'BUTTON' ? !e.textContent.trim() && !e.getAttribute('aria-label')
      : !(e.labels && e.labels.length) && !e.getAttribute('aria-label')))
    .map((e) => e.outerHTML.slice(0, 120)));
  assert.deepEqual(unlabeled, [], `${where}: controls without a label`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 1366, `${where}: the page is ${wide} px wide`);
}

// A viewer's screen: no enabled control that changes anything.
async function assertReadOnly(page, where) {
  const enabled = await page.$$eval('button.change, a.button[href*="/new"]', (els) => els
    .filter((e) => !(e.disabled || e.closest('fieldset[disabled]'))).map((e) => e.textContent.trim()));
  assert.deepEqual(enabled, [], `${where}: enabled change controls`);
  const editable = await page.$$eval('form.edit input, form.edit select, form.edit textarea',
    (els) => els.filter((e) => !e.matches(':disabled')).map((e) => e.id));
  assert.deepEqual(editable, [], `${where}: editable fields`);
}

function isoDay(offsetDays) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return d.toISOString().slice(0, 10);
}

// ---- scenarios ----------------------------------------------------------------

test('(a) signing in through the form; a wrong password is refused', () => scenario('sign-in', async (page) => {
  await page.goto(`${deskBase}/`);
  await page.waitForSelector('#signin-user');
  // Labels name the fields; the form submits with Enter.
  assert.equal(await page.$eval('label[for="signin-user"]', (l) => l.textContent), 'User name');
  await page.type('#signin-user', ADMIN.user);
  await page.type('#signin-password', 'not-the-password');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /Wrong user name or password/.test(document.querySelector('#signin .error')?.textContent || ''));
  await fill(page, '#signin-password', ADMIN.password);
  await page.keyboard.press('Enter');
  await page.waitForSelector('header.top .who');
  assert.match(await text(page, 'header.top .who'), /Signed in as ann \(admin\)/);
  const version = (await admin.ok('GET', '/api/v1/catalog')).version;
  assert.match(await text(page, 'header.top .catalog-name'), new RegExp(`Contoso Outdoor, version ${version}$`));
  // The session cookie is HttpOnly: the page cannot read it.
  assert.equal(await page.evaluate(() => document.cookie.includes('herald_desk')), false);
  // Customers are listed alphabetically, as the API lists them.
  await go(page, '#/customers');
  await page.waitForSelector('#customers tbody tr');
  const shown = await page.$$eval('#customers tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
  const listed = (await admin.ok('GET', '/api/v1/customers')).customers.map((c) => c.id);
  assert.deepEqual(shown, listed);
}));

test('(b) a customer, a campaign and a paid ad made in the app are served by another process', () => scenario('new-ad', async (page) => {
  await signIn(page, ADMIN);
  await go(page, '#/customers/new');
  await fill(page, '#customer-id', 'globex');
  await fill(page, '#customer-name', 'Globex Corporation');
  await page.select('#customer-industry', 'outdoor');
  await fill(page, '#customer-url', 'https://globex.example.com/');
  await page.focus('#customer-name');
  await page.keyboard.press('Enter');  // Enter submits the form
  await savedNotice(page);
  await page.waitForFunction(() => window.location.hash === '#/customers/globex');

  // The customer's page offers a campaign for it.
  await page.waitForSelector('a[href="#/campaigns/new?customer=globex"]');
  await page.click('a[href="#/campaigns/new?customer=globex"]');
  await page.waitForSelector('#campaign-id');
  assert.equal(await page.$eval('#campaign-customerId', (s) => s.value), 'globex');
  await fill(page, '#campaign-id', 'globex-launch');
  await fill(page, '#campaign-name', 'Globex launch');
  await fill(page, '#campaign-start', isoDay(-2));
  await fill(page, '#campaign-end', isoDay(60));
  await page.keyboard.press('Enter');
  await savedNotice(page);
  await page.waitForFunction(() => window.location.hash === '#/campaigns/globex-launch');

  await page.waitForSelector('a[href="#/campaigns/globex-launch/items/new/ad"]');
  await page.click('a[href="#/campaigns/globex-launch/items/new/ad"]');
  await page.waitForSelector('#item-id');
  await fill(page, '#item-id', 'globex-banner');
  await fill(page, '#item-name', 'Globex banner');
  assert.equal(await page.$eval('#item-ad-type', (s) => s.value), 'AD_TYPE_PAID');
  await fill(page, '#item-ad-quantity', '1000');
  await page.select('#item-ad-size', 'Leaderboard');
  const sports = await page.$$eval('#item-form fieldset.checks label', (labels) =>
    labels.filter((l) => l.textContent.trim() === 'Sports').map((l) => l.htmlFor));
  assert.equal(sports.length, 1, 'the page group Sports is offered once');
  await page.focus(`#${sports[0]}`);
  await page.keyboard.press('Space');  // checkboxes work from the keyboard
  await fill(page, '#item-ad-display-imageUrl', 'https://cdn.example.com/globex.png');
  await fill(page, '#item-ad-display-clickUrl', 'https://globex.example.com/launch');
  await page.keyboard.press('Enter');
  const version = await savedNotice(page);
  await page.waitForFunction(() => window.location.hash === '#/campaigns/globex-launch/items/globex-banner');

  const stored = (await admin.ok('GET', '/api/v1/catalog'));
  assert.equal(Number(stored.version), version);
  const item = stored.catalog.campaigns.find((c) => c.id === 'globex-launch').items[0];
  assert.equal(item.id, 'globex-banner');
  assert.deepEqual(item.ad.pageGroups, ['Sports']);
  assert.equal(Number(item.ad.quantity), 1000);

  // The other process takes the new version and serves the ad.
  const t0 = Date.now();
  const winner = await until('the second server to serve globex-banner', async () => {
    const r = await fetch(`${selectorBase}/v1/ads:select`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pageGroups: ['Sports'], size: 'Leaderboard', count: 1, dryRun: true }),
    });
    const body = await r.json();
    return (body.winners || []).find((w) => w.itemId === 'globex-banner');
  }, 20000, 50);
  assert.equal(winner.campaignId, 'globex-launch');
  console.log(`# globex-banner served by the second process ${Date.now() - t0} ms after the save`);
}));

test('(c) the goaling switch: 1,000 and 500 at ad level become 1,500 at 1000:500; weights 3 and 1 give 1,125 and 375', () => scenario('goaling', async (page) => {
  const ad = (id, quantity) => ({ id, name: `Goal ad ${id}`, ad: { type: 'AD_TYPE_PAID', quantity, size: 'Billboard', pageGroups: ['Checkout'] } });
  let v = (await admin.ok('GET', '/api/v1/catalog')).version;
  await admin.ok('PUT', '/api/v1/campaigns/goal-test', { id: 'goal-test', name: 'Goal test', customerId: 'contoso',
    start: isoDay(-1), end: isoDay(30), goaling: 'GOALING_LEVEL_AD' }, { 'If-Match': `"${v}"` });
  await admin.ok('PUT', '/api/v1/campaigns/goal-test/items/goal-1', ad('goal-1', 1000));
  await admin.ok('PUT', '/api/v1/campaigns/goal-test/items/goal-2', ad('goal-2', 500));

  await signIn(page, ADMIN);
  await go(page, '#/campaigns/goal-test');
  await page.waitForSelector('#goal-summary[data-level="ad"]');
  const goals = () => page.$$eval('#goals tbody td.goal', (tds) => tds.map((t) => t.textContent.trim()));
  const inputs = () => page.$$eval('#goals tbody input', (xs) => xs.map((x) => x.value));
  assert.deepEqual(await goals(), ['1,000', '500']);

  await page.select('#goaling-level', 'campaign');
  await page.focus('#goaling-switch button[type="submit"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#goal-summary[data-level="campaign"]', { timeout: 15000 });
  // The switch's notice is dismissed, so that the goals' save below waits for its own.
  const switchedVersion = await savedNotice(page);
  assert.match(await text(page, '#goal-summary'), /1,500 requests ordered, split by weight 1,000 : 500/);
  assert.deepEqual(await inputs(), ['1000', '500']);
  assert.equal(await page.$eval('#goals-ordered', (x) => x.value), '1500');
  assert.deepEqual(await goals(), ['1,000', '500']);
  // The switch's answer: each ad's resulting quantity and weight.
  const result = await page.$$eval('#goaling-result tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(result, [['goal-1', '1,000', '1,000'], ['goal-2', '500', '500']]);

  await fill(page, '#goal-input-0', '3');
  await fill(page, '#goal-input-1', '1');
  assert.deepEqual(await goals(), ['1,125', '375'], 'the split is shown as the weights are typed');
  await page.keyboard.press('Enter');
  assert.ok(await savedNotice(page) > switchedVersion, 'the goals were saved as a new version');
  await page.waitForFunction(() => document.querySelector('#goal-summary').textContent.includes('3 : 1'));
  assert.deepEqual(await goals(), ['1,125', '375']);

  const saved = await admin.ok('GET', '/api/v1/catalog');
  const c = saved.catalog.campaigns.find((x) => x.id === 'goal-test');
  assert.equal(c.goaling, 'GOALING_LEVEL_CAMPAIGN');
  assert.equal(Number(c.quantityOrdered), 1500);
  assert.deepEqual(c.items.map((i) => i.ad.weight), [3, 1]);
  if (saved.goals) assert.deepEqual([saved.goals['goal-1'], saved.goals['goal-2']].map(Number), [1125, 375]);
}));

test('(d) a target-group expression with a typo is marked at the column the API gives', () => scenario('expression', async (page) => {
  await signIn(page, ADMIN);
  await go(page, '#/target-groups/new');
  const input = '#tg-entries-0-expression';
  await page.waitForSelector(input);
  const good = "user.age >= 21 && user.state == 'WA'";
  const broken = "user.age >= 21 && usr.state == 'WA'";  // "usr" at column 19
  const brokenColumn = broken.indexOf('usr') + 1;
  await page.focus(input);
  await page.keyboard.type(broken);
  const status = `${input}-status`;
  await page.waitForSelector(`${status}[data-state="error"]`, { timeout: 10000 });
  const shown = await page.$eval(status, (e) => ({
    line: Number(e.dataset.line), column: Number(e.dataset.column), text: e.innerText,
    marker: e.querySelector('.expr-marker').textContent,
  }));
  const api = (await admin.ok('POST', '/api/v1/expressions:check', { expression: broken, kind: 'target' }));
  assert.equal(api.ok, false);
  assert.equal(shown.line, api.line);
  assert.equal(shown.column, api.column);
  assert.equal(api.column, brokenColumn, `the API marks column ${api.column}; the typo is at ${brokenColumn}: ${api.message}`);
  // The caret sits under the column: the marker's second line is column - 1 spaces and '^'.
  const [markedLine, caretLine] = shown.marker.split('\n');
  assert.equal(markedLine, broken);
  assert.equal(caretLine.indexOf('^') + 1, api.column);
  assert.ok(shown.text.includes(api.message), `the message is shown: ${shown.text}`);
  assert.equal(await page.$eval(input, (x) => x.getAttribute('aria-invalid')), 'true');
  // "Go to the error" puts the cursor at the column.
  await page.$eval(`${status} button`, (b) => b.focus());
  await page.keyboard.press('Enter');
  const [focused, at] = await page.evaluate(() => [document.activeElement.id, document.activeElement.selectionStart]);
  assert.equal(focused, 'tg-entries-0-expression');
  assert.equal(at, brokenColumn - 1);
  // Fixed, it compiles.
  await fill(page, input, good);
  await page.waitForSelector(`${status}[data-state="ok"]`, { timeout: 10000 });
  assert.equal(await page.$eval(input, (x) => x.getAttribute('aria-invalid')), 'false');
}));

test('(e) a report chart shows the values of the report API', () => scenario('report', async (page) => {
  // Traffic on the second server, recorded in the store.
  for (let i = 0; i < 12; ++i) {
    const r = await fetch(`${selectorBase}/v1/ads:select`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pageGroups: ['Home'], size: 'Banner', count: 2, userId: `shopper-${i % 4}` }),
    });
    assert.equal(r.status, 200);
  }
  // The selector flushes its events in batches (every second): wait until
  // the report holds these requests and stays the same for two reads, so
  // that the page and this test read the same figures.
  let previous = null;
  const summary = await until('the requests to reach the report and settle', async () => {
    const t = await admin.ok('GET', '/api/v1/reports/campaign-item-summary?format=json');
    const total = t.rows.reduce((n, r) => n + Number(r.requests || 0), 0);
    const same = previous !== null && JSON.stringify(previous) === JSON.stringify(t);
    previous = t;
    return total >= 12 && same ? t : null;
  }, 20000, 1200);

  await signIn(page, ADMIN);
  await go(page, '#/reports');
  await page.waitForSelector('#report[data-report="campaign-item-summary"] canvas#report-chart');
  const chart = await page.evaluate(() => {
    const c = window.Chart.getChart(document.getElementById('report-chart'));
    return { type: c.config.type, labels: c.data.labels, datasets: c.data.datasets.map((d) => ({ label: d.label, data: d.data })) };
  });
  assert.equal(chart.type, 'bar');
  assert.deepEqual(chart.labels, summary.rows.map((r) => r.item));
  assert.deepEqual(chart.datasets.map((d) => d.label), ['Goal', 'Delivered']);
  assert.deepEqual(chart.datasets[0].data, summary.rows.map((r) => (r.goal === null ? null : Number(r.goal))));
  assert.deepEqual(chart.datasets[1].data, summary.rows.map((r) => (r.delivered === null ? null : Number(r.delivered))));
  assert.ok(chart.datasets[1].data.some((n) => n > 0), 'some ad was delivered');
  const tableRows = await page.$$eval('#report-table tbody tr', (rows) => rows.length);
  assert.equal(tableRows, summary.rows.length);

  // Another report, one campaign, chosen with the form.
  await page.select('#report-name', 'reach-frequency-day');
  await page.select('#report-campaign', 'spring-paint');
  await page.focus('#report-name');
  await page.$eval('#report-form button[type="submit"]', (b) => b.focus());
  await page.keyboard.press('Enter');
  await page.waitForSelector('#report[data-report="reach-frequency-day"]');
  const perDay = await admin.ok('GET', '/api/v1/reports/reach-frequency-day?campaign=spring-paint&format=json');
  const chart2 = await page.evaluate(() => {
    const c = window.Chart.getChart(document.getElementById('report-chart'));
    return { labels: c.data.labels, data: c.data.datasets.map((d) => d.data) };
  });
  assert.deepEqual(chart2.labels, [...new Set(perDay.rows.map((r) => r.date))]);
  assert.deepEqual(chart2.data.flat(), perDay.rows.map((r) => Number(r.reach)));

  // The CSV download is the same report as CSV.
  const href = await page.$eval('#report-csv', (a) => a.getAttribute('href'));
  assert.match(href, /format=csv/);
  const csv = await page.evaluate(async (u) => (await fetch(u)).text(), href);
  assert.equal(csv.split(/\r?\n/)[0].split(',').length, perDay.columns.length);

  // Delivery against goal: the expected pace ends at the goal.
  await page.select('#report-name', 'delivery');
  await page.$eval('#report-form button[type="submit"]', (b) => b.focus());
  await page.keyboard.press('Enter');
  await page.waitForSelector('#report[data-report="delivery"]');
  const pace = await page.evaluate(() => {
    const c = window.Chart.getChart(document.getElementById('report-chart'));
    return c.data.datasets.map((d) => ({ label: d.label, last: d.data[d.data.length - 1] }));
  });
  assert.deepEqual(pace.map((d) => d.label.split(' ')[0]), ['Delivered', 'Expected', 'Goal']);
  assert.equal(pace[1].last, 40000);
  assert.equal(pace[2].last, 40000);

  // Discount usage: two orders committed on the second server, with 2 and 1
  // telephones (10% off each, and free shipping over $50).
  for (const [orderId, quantity] of [['desk-order-1', 2], ['desk-order-2', 1]]) {
    const r = await fetch(`${selectorBase}/v1/orders:commit`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ basket: { currency: 'USD', orderId, customerId: 'alice', shippingMinor: 799,
        items: [{ id: 'l1', productId: 'phone', category: 'telephone', unitPriceMinor: 10000, quantity }] } }),
    });
    assert.equal(r.status, 200, await r.text());
  }
  const usage = await admin.ok('GET', '/api/v1/reports/discount-usage?format=json');
  const phones = usage.rows.find((r) => r.discount === '10 percent discount for telephones');
  assert.deepEqual([Number(phones.orders), Number(phones.units), phones.amount], [2, 3, '30.00']);
  await page.select('#report-name', 'discount-usage');
  await page.select('#report-campaign', '');
  await page.$eval('#report-form button[type="submit"]', (b) => b.focus());
  await page.keyboard.press('Enter');
  await page.waitForSelector('#report[data-report="discount-usage"] canvas#report-chart');
  const chart3 = await page.evaluate(() => {
    const c = window.Chart.getChart(document.getElementById('report-chart'));
    return { labels: c.data.labels, datasets: c.data.datasets.map((d) => ({ label: d.label, data: d.data })) };
  });
  assert.deepEqual(chart3.labels, usage.rows.map((r) => r.discount));
  assert.deepEqual(chart3.datasets[0], { label: 'Orders', data: usage.rows.map((r) => Number(r.orders)) });
  assert.equal(chart3.datasets[2].data[chart3.labels.indexOf('10 percent discount for telephones')], 30);
}));

test('(f) a viewer sees no enabled save controls, and a save forced from the page is refused', () => scenario('viewer', async (page) => {
  await signIn(page, VIEWER);
  assert.match(await text(page, 'header.top .who'), /vic \(viewer\)/);
  for (const hash of ['#/customers/fabrikam', '#/campaigns/spring-paint', '#/campaigns/spring-paint/items/blue-paint',
    '#/campaigns/wingtip-juice/items/juice-bogo', '#/target-groups/adults-in-wa', '#/reference', '#/settings', '#/history', '#/customers',
    '#/lists', '#/mail-jobs']) {
    await go(page, hash);
    await assertReadOnly(page, hash);
  }
  assert.equal(await page.$('nav a[href="#/users"]'), null, 'no Users screen for a viewer');

  const before = (await admin.ok('GET', '/api/v1/catalog')).version;
  const forced = await page.evaluate(async () => {
    const session = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/customers/fabrikam', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken },
      body: JSON.stringify({ id: 'fabrikam', name: 'Taken over' }),
    });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(forced.status, 403, JSON.stringify(forced.body));
  assert.equal(forced.body.code, 'permission_denied');
  assert.equal((await admin.ok('GET', '/api/v1/catalog')).version, before);
  // The tools stay open to a viewer.
  const check = await page.evaluate(async () => {
    const session = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/expressions:check', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken },
      body: JSON.stringify({ expression: 'user.age > 3', kind: 'target' }),
    });
    return r.status;
  });
  assert.equal(check, 200);
}));

test('(g) a change without the CSRF token is refused and saves nothing', () => scenario('csrf', async (page) => {
  await signIn(page, ADMIN);
  const before = (await admin.ok('GET', '/api/v1/catalog')).version;
  const forged = await page.evaluate(async () => {
    const answers = [];
    for (const token of [null, 'not-the-token']) {
      const headers = { 'Content-Type': 'application/json' };
      if (token) headers['X-CSRF-Token'] = token;
      const r = await fetch('/api/v1/customers/fabrikam', {
        method: 'PUT', credentials: 'include', headers,
        body: JSON.stringify({ id: 'fabrikam', name: 'Forged' }),
      });
      answers.push({ status: r.status, body: await r.json() });
    }
    return answers;
  });
  assert.equal(forged[0].status, 403, JSON.stringify(forged[0].body));
  assert.equal(forged[0].body.code, 'csrf_token_missing');
  assert.equal(forged[1].status, 403, JSON.stringify(forged[1].body));
  assert.equal(forged[1].body.code, 'csrf_token_wrong');
  const now = await admin.ok('GET', '/api/v1/catalog');
  assert.equal(now.version, before);
  assert.equal(now.catalog.customers.find((c) => c.id === 'fabrikam').name, 'Fabrikam Paints');
}));

test('(h) every control has a label and the screens are reached from the keyboard', () => scenario('keyboard', async (page) => {
  await signIn(page, ADMIN);
  for (const hash of ['#/', '#/customers/fabrikam', '#/campaigns/spring-paint', '#/campaigns/spring-paint/items/blue-paint',
    '#/campaigns/wingtip-juice/items/juice-bogo', '#/campaigns/store-discounts/items/newsletter', '#/target-groups/adults-in-wa',
    '#/reference', '#/settings', '#/lists', '#/mail-jobs', '#/trace', '#/reports', '#/history', '#/users', '#/audit', '#/account']) {
    await go(page, hash);
    await assertLabelledAndNarrow(page, hash);
  }
  // The navigation is reached with Tab and followed with Enter.
  await go(page, '#/');
  await page.focus('nav a[href="#/trace"]');
  await page.keyboard.press('Enter');
  // The screen renders after its data arrives, so focus moves a moment after
  // the hash: wait for both (a screen that never takes focus times out here).
  await page.waitForFunction(() => window.location.hash === '#/trace' && document.activeElement.tagName === 'H1');
  assert.equal(await text(page, 'main h1'), await page.evaluate(() => document.activeElement.textContent.trim()), 'focus moves to the new screen');
  // TraceScores from the keyboard: the form submits with Enter.
  await page.focus('#trace-user');
  await page.keyboard.type('keyboard-user');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#trace-result ul.candidates li');
  const candidates = await page.$$eval('#trace-result ul.candidates li', (lis) => lis.length);
  assert.ok(candidates > 1, 'the trace lists the candidates');
}));

test('(i) import a recipient list, subtract an opt-out list and send to a Maildir', () => scenario('list-manager', async (page) => {
  page.on('dialog', (d) => d.accept());  // "Delete the list ...?" is confirmed
  // Twelve recipients; the address column is "E-Mail Address" (not "email"),
  // some domains in capitals (stored lowercased), plus an invalid address
  // (line 6) and a repeat of the second address in other capitals (line 15).
  const firstNames = ['Ada', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun', 'Kim', 'Lev'];
  const cities = ['Seattle', 'Tacoma', 'Spokane', 'Olympia'];
  const people = firstNames.map((first, i) => ({
    no: `C${String(101 + i)}`, first, city: cities[i % cities.length],
    written: `${first.toLowerCase()}.${i + 1}@${i % 2 ? 'Shop.Example' : 'shop.example'}`,
    email: `${first.toLowerCase()}.${i + 1}@shop.example`,
  }));
  const line = (p) => `${p.no};${p.first};${p.written};${p.city}`;
  const csv = ['customer_no;first_name;E-Mail Address;city',
    ...people.slice(0, 4).map(line),
    'C900;Nobody;not-an-address;Nowhere',
    ...people.slice(4).map(line),
    `C901;Ben again;ben.2@SHOP.EXAMPLE;Tacoma`].join('\n') + '\n';
  const csvFile = path.join(tmp, 'spring-customers.csv');
  fs.writeFileSync(csvFile, csv);
  const optedOut = [people[1], people[6], people[10]];
  const remaining = people.filter((p) => !optedOut.includes(p));

  await signIn(page, ADMIN);
  // The List Manager from the navigation, with the keyboard.
  await page.focus('nav a[href="#/lists"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.location.hash === '#/lists' && document.activeElement.tagName === 'H1');
  assert.equal(await text(page, 'main h1'), 'List Manager');

  // Import: the delimiter, then the file (read by the page with FileReader).
  await page.select('#import-delimiter', ';');
  await (await page.$('#import-file')).uploadFile(csvFile);
  await page.waitForSelector('#import-preview');
  assert.equal(await page.$eval('#import-csv', (t) => t.value), csv, 'the file is read into the CSV text');
  // The mapping: the address column guessed, the others keep their names.
  assert.equal(await page.$eval('#import-email-column', (s) => s.value), 'E-Mail Address');
  assert.match(await page.$eval('#import-email-column', (s) => s.selectedOptions[0].textContent), /guessed/);
  const mapping = () => page.$$eval('#import-mapping tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  assert.deepEqual(await mapping(), [['customer_no', 'customer_no'], ['first_name', 'first_name'], ['E-Mail Address', 'email'], ['city', 'city']]);
  const counts = () => page.$$eval('#import-counts dd', (dds) => Object.fromEntries(dds.map((d) => [d.id.replace('import-count-', ''), Number(d.dataset.value)])));
  assert.deepEqual(await counts(), { rows: 14, valid: 12, invalid: 1, duplicates: 1 });
  const api = await admin.ok('POST', '/api/v1/lists:preview', { kind: 'recipients', csv, delimiter: ';' });
  assert.deepEqual([api.rows, api.valid, api.invalidAddresses, api.duplicates].map(Number), [14, 12, 1, 1]);
  assert.equal(api.emailColumn, 'E-Mail Address');
  const problemLines = await page.$$eval('#import-problems li', (lis) => lis.map((l) => Number(l.dataset.line)));
  assert.deepEqual(problemLines, api.problems.map((p) => Number(p.line)));
  assert.ok(problemLines.includes(6) && problemLines.includes(15), `the problems' lines: ${problemLines}`);
  assert.equal(await page.$$eval('#import-sample tbody tr', (rows) => rows.length), 10);
  assert.deepEqual(await page.$$eval('#import-sample tbody tr:nth-child(2) td', (tds) => tds.map((t) => t.textContent)),
    [people[1].no, people[1].first, people[1].email, people[1].city], 'rows as stored: the domain lowercased');

  // Mapping the id column previews again.
  await page.select('#import-id-column', 'customer_no');
  await page.waitForSelector('#import-preview[data-id-column="customer_no"][aria-busy="false"]');
  assert.deepEqual((await mapping())[0], ['customer_no', 'id']);
  assert.deepEqual(await page.$$eval('#import-sample thead th', (ths) => ths.map((t) => t.textContent)), ['id', 'first_name', 'email', 'city']);
  await assertLabelledAndNarrow(page, 'the import preview');

  // Save: a name, Enter.
  await fill(page, '#import-description', 'spring customers, from crm-export');
  await fill(page, '#import-name', 'spring-customers');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#import-result');
  const result = await page.$$eval('#import-result dd', (dds) => dds.map((d) => Number(d.dataset.value)));
  assert.deepEqual(result, [12, 1, 1], 'imported, invalid, duplicates');
  await page.waitForSelector('#lists tr[data-list="spring-customers"]');
  assert.deepEqual(await page.$$eval('#lists tr[data-list="spring-customers"] > *', (cs) => cs.slice(0, 4).map((c) => c.textContent.trim())),
    ['spring-customers', 'recipients', '12', 'id, first_name, email, city']);

  // An opt-out list from two pasted addresses; the third is added on its page.
  await fill(page, '#optout-name', 'spring-opt-outs');
  await page.focus('#optout-addresses');
  await page.keyboard.type(`${optedOut[0].written}\n${optedOut[1].written}`);
  await page.focus('#optout-name');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#optout-result');
  assert.equal(await page.$eval('#optout-result-imported', (d) => Number(d.dataset.value)), 2);
  await page.waitForSelector('#lists tr[data-list="spring-opt-outs"] a');
  await page.focus('#lists tr[data-list="spring-opt-outs"] a');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#list-info[data-rows="2"]');
  await page.focus('#add-addresses');
  await page.keyboard.type(`${optedOut[2].email.split('@')[0]}@SHOP.EXAMPLE\nnot-valid`);  // stored lowercased
  await page.keyboard.press('Tab');  // to "Add to spring-opt-outs"
  await page.keyboard.press('Enter');
  await page.waitForSelector('#add-result');
  assert.equal(await page.$eval('#add-result', (p) => Number(p.dataset.added)), 1);
  assert.match(await text(page, '#add-result'), /invalid: not-valid/);
  await page.waitForSelector('#list-info[data-rows="3"]');
  assert.deepEqual((await page.$$eval('#list-rows tbody td:nth-child(2)', (tds) => tds.map((t) => t.textContent))).sort(),
    optedOut.map((p) => p.email).sort());
  await assertLabelledAndNarrow(page, 'an opt-out list');

  // A direct-mail item made in the app, with both lists.
  await go(page, '#/campaigns/store-discounts');
  await page.click('a[href="#/campaigns/store-discounts/items/new/directMail"]');
  await page.waitForSelector('#item-id');
  await fill(page, '#item-id', 'spring-mail');
  await fill(page, '#item-name', 'Spring mail');
  await page.select('#item-directMail-recipients-kind', 'storeList');
  await page.waitForSelector('#item-directMail-recipients-storeList option[value="spring-customers"]');
  await page.select('#item-directMail-recipients-storeList', 'spring-customers');
  await page.select('#item-directMail-optOutStoreList', 'spring-opt-outs');
  await page.select('#item-directMail-message-kind', 'template');
  await fill(page, '#item-directMail-message-template-subject', 'Spring news for {{first_name}}');
  await fill(page, '#item-directMail-message-template-text', 'Hello {{first_name}} in {{city}}, customer {{id}}.');
  await fill(page, '#item-directMail-from', 'Contoso Outdoor <news@contoso.example.com>');
  await page.focus('#item-name');
  await page.keyboard.press('Enter');
  await savedNotice(page);
  await page.waitForFunction(() => window.location.hash === '#/campaigns/store-discounts/items/spring-mail');
  const saved = (await admin.ok('GET', '/api/v1/catalog')).catalog.campaigns.find((c) => c.id === 'store-discounts')
    .items.find((i) => i.id === 'spring-mail');
  assert.equal(saved.directMail.recipients.storeList, 'spring-customers');
  assert.equal(saved.directMail.optOutStoreList, 'spring-opt-outs');

  // Its audience: 12 recipients, 3 opted out, 9 will receive.
  await page.waitForSelector('#audience[aria-busy="false"] #audience-table');
  const audience = await admin.ok('GET', '/api/v1/mail-items/spring-mail/audience');
  assert.deepEqual([audience.recipients, audience.optedOutSite, audience.optedOutItem, audience.optedOut, audience.willReceive].map(Number),
    [12, 0, 3, 3, 9]);
  assert.deepEqual(await page.$$eval(['#audience-recipients', '#audience-opted-out-site', '#audience-opted-out-item', '#audience-opted-out',
    '#audience-will-receive'].join(','), (tds) => tds.map((t) => Number(t.textContent.replace(/[^0-9]/g, '')))), [12, 0, 3, 3, 9]);
  await assertLabelledAndNarrow(page, 'the direct-mail item');

  // A list in use is not deleted: the 409's message names the item.
  await go(page, '#/lists/spring-opt-outs');
  await page.waitForSelector('#delete-list');
  await page.focus('#delete-list');
  await page.keyboard.press('Enter');
  const refused = await page.waitForSelector('.notice.error', { timeout: 10000 });
  assert.match(await refused.evaluate((n) => n.innerText), /spring-mail/);
  assert.equal((await admin.call('GET', '/api/v1/lists/spring-opt-outs')).status, 200);
  await page.$eval('.notice.error button', (b) => b.click());

  // The mail job, started on the Mail jobs screen and followed to the end.
  await page.focus('nav a[href="#/mail-jobs"]');
  await page.keyboard.press('Enter');
  const row = 'tr[data-item="spring-mail"]:not(.job-detail)';
  await page.waitForSelector(`${row}[data-state="none"]`);
  let polls = 0;
  page.on('request', (r) => { if (r.method() === 'GET' && r.url().endsWith('/api/v1/mail-jobs/spring-mail')) polls++; });
  await page.focus(`${row} .job-actions button.primary`);
  assert.match(await page.evaluate(() => document.activeElement.textContent), /^Start/);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`${row}[data-state="completed"][data-running="false"]`, { timeout: 60000 });
  const progress = await page.$eval(`${row} progress`, (p) => ({ value: p.value, max: p.max }));
  const shown = await page.$eval(`${row} .job-counts`, (s) => Object.fromEntries(Object.entries(s.dataset).map(([k, v]) => [k, Number(v)])));
  const job = await admin.ok('GET', '/api/v1/mail-jobs/spring-mail');
  assert.equal(job.state, 'completed');
  assert.deepEqual(shown, { total: Number(job.total), sent: Number(job.sent), failed: Number(job.failed), skipped: Number(job.skipped), pending: Number(job.pending) });
  assert.equal(shown.sent, 9);
  assert.equal(shown.failed, 0);
  assert.equal(shown.pending, 0);
  assert.equal(progress.value, progress.max, 'the progress bar is full');
  assert.equal(progress.max, shown.total);
  assert.ok(polls >= 1, 'the running job was polled');
  await page.waitForSelector('#job-report-spring-mail');
  await assertLabelledAndNarrow(page, 'the mail jobs');

  // The Maildir: one message per remaining recipient, personalized; none to
  // an opted-out or invalid address.
  const files = ['new', 'cur'].flatMap((sub) => {
    const dir = path.join(maildir, sub);
    return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
  });
  const messages = files.map((f) => fs.readFileSync(f, 'utf8'));
  const to = messages.map((m) => (m.match(/^Delivered-To: (.*)$/m) || [])[1]);
  assert.deepEqual([...to].sort(), remaining.map((p) => p.email).sort(), 'one message per remaining recipient');
  for (const p of people) {
    const mine = messages.filter((m, i) => to[i] === p.email);
    if (optedOut.includes(p)) { assert.equal(mine.length, 0, `${p.email} opted out`); continue; }
    assert.equal(mine.length, 1, p.email);
    const body = mine[0].replace(/=\r?\n/g, '');  // quoted-printable soft breaks
    assert.ok(body.includes(`Hello ${p.first} in ${p.city}, customer ${p.no}.`), `${p.email}'s message is personalized:\n${body}`);
    assert.match(mine[0], new RegExp(`^To: .*${p.email.replace(/[.]/g, '\\.')}`, 'mi'));
  }
  assert.ok(!messages.some((m) => /not-an-address|C900|C901/.test(m)), 'nothing to the invalid or repeated rows');

  // A viewer sees the lists and the jobs, with nothing to change them.
  const viewer = await newPage();
  try {
    await signIn(viewer, VIEWER);
    for (const [hash, loaded] of [['#/lists', '#lists'], ['#/lists/spring-customers', '#list-rows'], ['#/lists/spring-opt-outs', '#add-form'],
      ['#/mail-jobs', '#mail-jobs'], ['#/campaigns/store-discounts/items/spring-mail', '#audience-table']]) {
      await go(viewer, hash);
      await viewer.waitForSelector(loaded);
      await assertReadOnly(viewer, `viewer ${hash}`);
      if (hash === '#/lists/spring-customers') {
        assert.equal(await viewer.$$eval('#list-rows tbody tr', (rows) => rows.length), 12, 'the rows are shown');
      }
    }
    assert.deepEqual(viewer.problems, [], 'the viewer\'s page reported errors');
  } finally {
    await viewer.context.close().catch(() => {});
  }
}));
