// The Business Desk app: sign-in, the navigation and the screens, each
// reached by a #/ address (so the browser's back button and bookmarks
// work). Everything goes through the admin API (api.js); the current
// catalog version is loaded once per screen change and every change sends
// the version it was made on, so a change made on an old version is
// refused (409) and the screen shows the current one.

import { html, render, Component } from './lib.js';
import { api, setCsrfToken, setSignedOutHandler } from './api.js';
import { Home, CatalogSettings } from './screens/home.js';
import { CustomerList, CustomerEdit } from './screens/customers.js';
import { CampaignList, CampaignEdit } from './screens/campaigns.js';
import { ItemEdit } from './screens/items.js';
import { TargetGroupList, TargetGroupEdit } from './screens/targets.js';
import { ReferenceTables } from './screens/reference.js';
import { TraceScores } from './screens/trace.js';
import { Reports } from './screens/reports.js';
import { History } from './screens/history.js';
import { Users, Audit, Account } from './screens/users.js';
import { ListManager, ListView } from './screens/lists.js';
import { MailJobs } from './screens/mailjobs.js';

const kNav = [
  ['#/', 'Overview'],
  ['#/customers', 'Customers'],
  ['#/campaigns', 'Campaigns'],
  ['#/target-groups', 'Target groups'],
  ['#/reference', 'Reference tables'],
  ['#/settings', 'Catalog settings'],
  ['#/lists', 'List Manager'],
  ['#/mail-jobs', 'Mail jobs'],
  ['#/trace', 'TraceScores'],
  ['#/reports', 'Reports'],
  ['#/history', 'Catalog history'],
  ['#/users', 'Users', 'admin'],
  ['#/audit', 'Audit log'],
  ['#/account', 'Your account'],
];

// "#/campaigns/spring/items/ad-1" -> ['campaigns', 'spring', 'items', 'ad-1']
function parseRoute() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query), hash };
}

function screenFor(route, desk) {
  const [a, b, c, d, e] = route.parts;
  switch (a) {
    case undefined: return html`<${Home} desk=${desk} />`;
    case 'customers': return b ? html`<${CustomerEdit} desk=${desk} id=${b === 'new' ? '' : b} />` : html`<${CustomerList} desk=${desk} />`;
    case 'campaigns':
      if (!b) return html`<${CampaignList} desk=${desk} customer=${route.query.get('customer') || ''} />`;
      if (c === 'items') return html`<${ItemEdit} desk=${desk} campaignId=${b} id=${d === 'new' ? '' : d} kind=${d === 'new' ? (e || 'ad') : ''} />`;
      return html`<${CampaignEdit} desk=${desk} id=${b === 'new' ? '' : b} customer=${route.query.get('customer') || ''} />`;
    case 'target-groups': return b ? html`<${TargetGroupEdit} desk=${desk} id=${b === 'new' ? '' : b} />` : html`<${TargetGroupList} desk=${desk} />`;
    case 'reference': return html`<${ReferenceTables} desk=${desk} />`;
    case 'settings': return html`<${CatalogSettings} desk=${desk} />`;
    case 'lists': return b ? html`<${ListView} desk=${desk} name=${b} />` : html`<${ListManager} desk=${desk} />`;
    case 'mail-jobs': return html`<${MailJobs} desk=${desk} item=${route.query.get('item') || ''} />`;
    case 'trace': return html`<${TraceScores} desk=${desk} />`;
    case 'reports': return html`<${Reports} desk=${desk} query=${route.query} />`;
    case 'history': return html`<${History} desk=${desk} />`;
    case 'users': return html`<${Users} desk=${desk} />`;
    case 'audit': return html`<${Audit} desk=${desk} />`;
    case 'account': return html`<${Account} desk=${desk} />`;
    default: return html`<h1 tabindex="-1">Not found</h1><p>No screen at #/${route.hash}. <a href="#/">Overview</a></p>`;
  }
}

class App extends Component {
  constructor() {
    super();
    this.state = { checking: true, session: null, catalog: null, version: 0, route: parseRoute(), notice: null, loadError: '' };
    this.keepNotice = false;  // set when a save moves to the saved object's screen
    this.onHash = () => {
      this.setState({ route: parseRoute(), notice: this.keepNotice ? this.state.notice : null });
      this.keepNotice = false;
      if (this.state.session) this.loadCatalog();
    };
  }

  async componentDidMount() {
    window.addEventListener('hashchange', this.onHash);
    setSignedOutHandler(() => this.signedOut('Your session ended: sign in again.'));
    try {
      const session = await api('GET', '/api/v1/session');
      await this.signedIn(session);
    } catch {
      this.setState({ checking: false });
    }
  }

  componentDidUpdate(prev, prevState) {
    if (prevState.route.hash !== this.state.route.hash || (!prevState.session && this.state.session)) {
      const h1 = document.querySelector('main h1');
      if (h1) h1.focus();
    }
  }

  async signedIn(session) {
    setCsrfToken(session.csrfToken);
    this.setState({ session, checking: false });
    await this.loadCatalog();
  }

  signedOut(message) {
    setCsrfToken('');
    this.setState({ session: null, catalog: null, notice: message ? { kind: 'error', text: message } : null });
  }

  async signOut() {
    try { await api('DELETE', '/api/v1/session'); } catch { /* gone already */ }
    this.signedOut('');
  }

  async loadCatalog() {
    try {
      const r = await api('GET', '/api/v1/catalog');
      this.setState({ catalog: r.catalog || {}, version: Number(r.version || 0), goals: r.goals || null, loadError: '' });
    } catch (e) {
      this.setState({ loadError: e.message });
    }
  }

  notify(notice) { this.setState({ notice }); }

  // Runs a change (call(version) -> a SaveResult), says what it did, and
  // loads the new current version. Returns the answer, or null on failure.
  async save(call, doneText = '') {
    try {
      const r = await call(this.state.version);
      const details = [];
      for (const c of (r && r.changes) || []) details.push(c);
      for (const w of (r && r.warnings) || []) details.push(`warning: ${w.path ? `${w.path}: ` : ''}${w.message}`);
      let text = doneText;
      if (r && r.version !== undefined) {
        text = r.unchanged ? `Nothing to save: the catalog is the same as version ${r.version}.`
          : `Saved as version ${r.version}.${doneText ? ` ${doneText}` : ''}`;
      }
      this.notify({ kind: 'ok', text, details });
      await this.loadCatalog();
      return r || {};
    } catch (e) {
      this.showError(e);
      if (e.status === 409) await this.loadCatalog();
      return null;
    }
  }

  showError(e, prefix = '') {
    let text = e.message;
    if (e.status === 409) text = `Another version was saved after the one you edited (${e.message}). The screen now shows the current version: apply your change again.`;
    if (e.status === 403) text = `Refused: ${e.message}`;
    const details = (e.issues || []).map((i) => `${i.path ? `${i.path}: ` : ''}${i.message}${i.line ? ` (line ${i.line})` : ''}`);
    if (e.field && !details.length) details.push(`field: ${e.field}`);
    this.notify({ kind: 'error', text: prefix + text, details });
  }

  render(_, { checking, session, catalog, version, goals, route, notice, loadError }) {
    if (checking) return html`<main id="main"><p>Loading…</p></main>`;
    if (!session) return html`<${SignIn} notice=${notice} onSignedIn=${(s) => { this.setState({ notice: null }); this.signedIn(s); }} />`;
    const role = session.role;
    const desk = {
      session, role, catalog, version,
      goals,  // each paid ad's goal as the server computes it (GET /api/v1/catalog), when it says
      canEdit: role === 'editor' || role === 'admin',
      isAdmin: role === 'admin',
      reload: () => this.loadCatalog(),
      save: (call, text) => this.save(call, text),
      notify: (n) => this.notify(n),
      error: (e, prefix) => this.showError(e, prefix),
      go: (hash) => { this.keepNotice = true; window.location.hash = hash; },
    };
    const current = `#/${route.parts[0] || ''}`;
    return html`
      <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to the screen</a>
      <header class="top">
        <span class="brand">Herald Business Desk</span>
        <span class="catalog-name">${catalog ? `${catalog.name || 'catalog'}, version ${version}` : ''}</span>
        <span class="who">Signed in as <strong>${session.user}</strong> (${role})</span>
        <button type="button" onClick=${() => this.signOut()}>Sign out</button>
      </header>
      <div class="layout">
        <nav aria-label="Screens">
          <ul>
            ${kNav.filter(([, , only]) => !only || role === only).map(([href, label]) => html`
              <li><a href=${href} aria-current=${current === href ? 'page' : undefined}>${label}</a></li>`)}
          </ul>
        </nav>
        <main id="main" tabindex="-1">
          <${Notice} notice=${notice} onClose=${() => this.notify(null)} />
          ${!desk.canEdit ? html`<p class="readonly-note">You are a viewer: you can look at everything and use the tools, but not change the catalog.</p>` : null}
          ${loadError ? html`<p class="error" role="alert">The catalog could not be loaded: ${loadError}</p>` : null}
          ${catalog ? html`<div key=${route.hash}>${screenFor(route, desk)}</div>` : html`<p>Loading the catalog…</p>`}
        </main>
      </div>`;
  }
}

function Notice({ notice, onClose }) {
  return html`<div class="notices">
    <div role="status" class="notice-ok">${notice && notice.kind === 'ok' ? html`
      <div class="notice ok"><p>${notice.text}</p>
        ${notice.details && notice.details.length ? html`<ul>${notice.details.map((d) => html`<li>${d}</li>`)}</ul>` : null}
        <button type="button" onClick=${onClose}>Dismiss</button></div>` : null}</div>
    <div role="alert" class="notice-error">${notice && notice.kind === 'error' ? html`
      <div class="notice error"><p>${notice.text}</p>
        ${notice.details && notice.details.length ? html`<ul class="issues">${notice.details.map((d) => html`<li>${d}</li>`)}</ul>` : null}
        <button type="button" onClick=${onClose}>Dismiss</button></div>` : null}</div>
  </div>`;
}

class SignIn extends Component {
  constructor() {
    super();
    this.state = { user: '', password: '', error: '', busy: false };
  }
  async submit(e) {
    e.preventDefault();
    this.setState({ busy: true, error: '' });
    try {
      const session = await api('POST', '/api/v1/session', { body: { user: this.state.user, password: this.state.password } });
      this.props.onSignedIn(session);
    } catch (err) {
      let error = err.message;
      if (err.status === 401) error = 'Wrong user name or password.';
      if (err.status === 429) error = `Too many failed sign-ins: try again in ${err.retryAfter || 'a few'} seconds.`;
      this.setState({ error, busy: false });
    }
  }
  render({ notice }, { user, password, error, busy }) {
    return html`<main id="main" class="signin" tabindex="-1">
      <h1 tabindex="-1">Herald Business Desk</h1>
      ${notice && notice.text ? html`<p class="error" role="alert">${notice.text}</p>` : null}
      <form id="signin" onSubmit=${(e) => this.submit(e)}>
        <div class="field"><label for="signin-user">User name</label>
          <input id="signin-user" name="username" autocomplete="username" required value=${user}
            onInput=${(e) => this.setState({ user: e.currentTarget.value })} /></div>
        <div class="field"><label for="signin-password">Password</label>
          <input id="signin-password" name="password" type="password" autocomplete="current-password" required
            value=${password} onInput=${(e) => this.setState({ password: e.currentTarget.value })} /></div>
        <p class="error" role="alert">${error}</p>
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
    </main>`;
  }
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
