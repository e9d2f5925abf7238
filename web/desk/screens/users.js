// Users (admins only: /api/v1/users), the audit log (/api/v1/audit) and
// one's own password (/api/v1/session:password).

import { html, Component } from '../lib.js';
import { api, seg } from '../api.js';
import { localTime } from '../util.js';

const kRoles = ['viewer', 'editor', 'admin'];

export class Users extends Component {
  constructor() {
    super();
    this.state = { users: null, name: '', role: 'viewer', password: '', passwords: {}, roles: {} };
  }
  componentDidMount() { this.load(); }
  async load() {
    try {
      const r = await api('GET', '/api/v1/users');
      this.setState({ users: r.users || [] });
    } catch (e) {
      this.props.desk.error(e);
    }
  }
  async run(call, text) {
    try {
      await call();
      this.props.desk.notify({ kind: 'ok', text });
      await this.load();
      return true;
    } catch (e) {
      this.props.desk.error(e);
      return false;
    }
  }
  async create() {
    const { name, role, password } = this.state;
    if (await this.run(() => api('POST', '/api/v1/users', { body: { name, role, password } }), `User ${name} added as ${role}.`)) {
      this.setState({ name: '', password: '' });
    }
  }
  render({ desk }, { users, name, role, password, passwords, roles }) {
    if (!desk.isAdmin) return html`<h1 tabindex="-1">Users</h1><p>Only admins manage users.</p>`;
    return html`<h1 tabindex="-1">Users</h1>
      <form id="new-user" onSubmit=${(e) => { e.preventDefault(); this.create(); }}>
        <fieldset class="group"><legend>New user</legend><div class="fields">
          <div class="field"><label for="new-user-name">Name</label>
            <input id="new-user-name" required value=${name} autocomplete="off" onInput=${(e) => this.setState({ name: e.currentTarget.value })} /></div>
          <div class="field"><label for="new-user-role">Role</label>
            <select id="new-user-role" value=${role} onChange=${(e) => this.setState({ role: e.currentTarget.value })}>
              ${kRoles.map((r) => html`<option value=${r}>${r}</option>`)}</select></div>
          <div class="field"><label for="new-user-password">Password</label>
            <input id="new-user-password" type="password" required minlength="10" autocomplete="new-password" value=${password}
              aria-describedby="new-user-password-help" onInput=${(e) => this.setState({ password: e.currentTarget.value })} />
            <small class="help" id="new-user-password-help">at least 10 characters</small></div>
        </div>
        <button type="submit" class="change primary">Add user</button></fieldset>
      </form>
      ${users ? html`<table id="users">
        <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Added</th><th scope="col">Password</th><th scope="col">Remove</th></tr></thead>
        <tbody>${users.map((u) => html`<tr key=${u.name} data-user=${u.name}>
          <th scope="row">${u.name}</th>
          <td><form class="inline" onSubmit=${(e) => { e.preventDefault(); this.run(() => api('PATCH', `/api/v1/users/${seg(u.name)}`, { body: { role: roles[u.name] || u.role } }), `${u.name} is now ${roles[u.name] || u.role}.`); }}>
            <label class="visually-hidden" for=${`role-${u.name}`}>Role of ${u.name}</label>
            <select id=${`role-${u.name}`} value=${roles[u.name] || u.role} onChange=${(e) => this.setState({ roles: { ...roles, [u.name]: e.currentTarget.value } })}>
              ${kRoles.map((r) => html`<option value=${r}>${r}</option>`)}</select>
            <button type="submit" class="change">Change role</button></form></td>
          <td>${u.disabled ? 'disabled' : 'active'}
            <button type="button" class="change" onClick=${() => this.run(() => api('PATCH', `/api/v1/users/${seg(u.name)}`, { body: { disabled: !u.disabled } }),
              `${u.name} is ${u.disabled ? 'enabled' : 'disabled'}.`)}>${u.disabled ? `Enable ${u.name}` : `Disable ${u.name}`}</button></td>
          <td>${localTime(u.created)}</td>
          <td><form class="inline" onSubmit=${(e) => { e.preventDefault(); this.run(() => api('PATCH', `/api/v1/users/${seg(u.name)}`, { body: { password: passwords[u.name] || '' } }), `New password set for ${u.name}; their sessions are signed out.`).then((ok) => ok && this.setState({ passwords: { ...passwords, [u.name]: '' } })); }}>
            <label class="visually-hidden" for=${`pw-${u.name}`}>New password for ${u.name}</label>
            <input id=${`pw-${u.name}`} type="password" minlength="10" autocomplete="new-password" required value=${passwords[u.name] || ''}
              onInput=${(e) => this.setState({ passwords: { ...passwords, [u.name]: e.currentTarget.value } })} />
            <button type="submit" class="change">Set password</button></form></td>
          <td><button type="button" class="change danger" disabled=${u.name === desk.session.user}
            onClick=${() => window.confirm(`Remove user ${u.name}?`) && this.run(() => api('DELETE', `/api/v1/users/${seg(u.name)}`), `${u.name} removed.`)}>Remove ${u.name}</button></td>
        </tr>`)}</tbody></table>` : html`<p>Loading…</p>`}`;
  }
}

export class Audit extends Component {
  constructor() {
    super();
    this.state = { entries: [], more: true, loading: false };
  }
  componentDidMount() { this.more(); }
  async more() {
    const { entries } = this.state;
    this.setState({ loading: true });
    try {
      const before = entries.length ? entries[entries.length - 1].sequence : '';
      const r = await api('GET', '/api/v1/audit', { query: { before, limit: 50 } });
      const got = r.entries || [];
      this.setState({ entries: [...entries, ...got], more: got.length === 50, loading: false });
    } catch (e) {
      this.setState({ loading: false });
      this.props.desk.error(e);
    }
  }
  render(_, { entries, more, loading }) {
    return html`<h1 tabindex="-1">Audit log</h1>
      <p>Every change and sign-in, newest first.</p>
      <table id="audit">
        <thead><tr><th scope="col" class="num">#</th><th scope="col">When</th><th scope="col">User</th><th scope="col">Action</th>
          <th scope="col">Object</th><th scope="col">Detail</th></tr></thead>
        <tbody>${entries.map((e) => html`<tr key=${e.sequence}>
          <td class="num">${e.sequence}</td><td>${localTime(e.time)}</td><td>${e.user}</td><td>${e.action}</td>
          <td>${e.object}</td><td>${e.detail}</td></tr>`)}</tbody>
      </table>
      ${more ? html`<button type="button" disabled=${loading} onClick=${() => this.more()}>Older entries</button>` : html`<p class="muted">That is the whole log.</p>`}`;
  }
}

export class Account extends Component {
  constructor() {
    super();
    this.state = { current: '', next: '', again: '', error: '' };
  }
  async submit() {
    const { current, next, again } = this.state;
    if (next !== again) { this.setState({ error: 'The two new passwords differ.' }); return; }
    try {
      await api('POST', '/api/v1/session:password', { body: { current, new: next } });
      this.setState({ current: '', next: '', again: '', error: '' });
      this.props.desk.notify({ kind: 'ok', text: 'Password changed; your other sessions are signed out.' });
    } catch (e) {
      this.setState({ error: e.status === 401 ? 'The current password is wrong.' : e.message });
    }
  }
  render({ desk }, { current, next, again, error }) {
    return html`<h1 tabindex="-1">Your account</h1>
      <p>Signed in as ${desk.session.user} (${desk.session.role}); the session ends ${localTime(desk.session.expires)}.</p>
      <form id="password-form" onSubmit=${(e) => { e.preventDefault(); this.submit(); }}>
        <fieldset class="group"><legend>Change your password</legend><div class="fields">
          <div class="field"><label for="pw-current">Current password</label>
            <input id="pw-current" type="password" autocomplete="current-password" required value=${current} onInput=${(e) => this.setState({ current: e.currentTarget.value })} /></div>
          <div class="field"><label for="pw-new">New password</label>
            <input id="pw-new" type="password" autocomplete="new-password" minlength="10" required value=${next} onInput=${(e) => this.setState({ next: e.currentTarget.value })} /></div>
          <div class="field"><label for="pw-again">New password again</label>
            <input id="pw-again" type="password" autocomplete="new-password" minlength="10" required value=${again} onInput=${(e) => this.setState({ again: e.currentTarget.value })} /></div>
        </div>
        <p class="error" role="alert">${error}</p>
        <button type="submit">Change password</button></fieldset>
      </form>`;
  }
}
