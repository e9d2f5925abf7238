// Mail jobs (docs/business-desk.md, "List Manager and mail jobs"): one row
// per direct-mail item of the current catalog (GET /api/v1/mail-jobs), its
// job's state and progress from the job's ledger, and Start / Pause /
// Resume / Abort (POST /api/v1/mail-jobs/{item}:start|:pause|:abort; Resume
// is :start). While a job runs its row is polled every second
// (GET /api/v1/mail-jobs/{item}).

import { html, Component } from '../lib.js';
import { api, seg } from '../api.js';
import { num } from '../util.js';
import { listError } from './lists.js';

const kPollMs = 1000;

const isRunning = (j) => !!j.running || j.state === 'running';
const done = (j) => Number(j.sent || 0) + Number(j.failed || 0) + Number(j.skipped || 0);

// The campaign an item is in (for its link), or ''.
function campaignOf(catalog, item) {
  const c = (catalog.campaigns || []).find((k) => (k.items || []).some((i) => i.id === item));
  return c ? c.id : '';
}

export class MailJobs extends Component {
  constructor() {
    super();
    this.state = { jobs: null, error: '', busy: {}, errors: {} };
    this.timer = 0;
    this.alive = true;
  }
  componentDidMount() { this.load(); }
  componentWillUnmount() { this.alive = false; clearTimeout(this.timer); }

  async load() {
    let jobs = this.jobs();
    try {
      const r = await api('GET', '/api/v1/mail-jobs');
      if (!this.alive) return;
      jobs = r.jobs || [];
      this.latest = jobs;
      this.setState({ jobs, error: '' });
    } catch (e) {
      if (!this.alive) return;
      this.setState({ jobs, error: e.message });
    }
    this.schedule(jobs);
  }
  // The jobs as last set (this.state lags behind a setState until the next render).
  jobs() { return this.latest || this.state.jobs || []; }

  // Polls each running job once a second, until none runs.
  schedule(jobs = this.jobs()) {
    clearTimeout(this.timer);
    if (!this.alive || !jobs.some(isRunning)) return;
    this.timer = setTimeout(() => this.poll(), kPollMs);
  }
  async poll() {
    const running = this.jobs().filter(isRunning);
    const answers = await Promise.all(running.map((j) => api('GET', `/api/v1/mail-jobs/${seg(j.item)}`).catch(() => null)));
    if (!this.alive) return;
    this.schedule(this.replace(answers.filter(Boolean)));
  }
  // Puts the jobs' new statuses in place; returns the jobs.
  replace(statuses) {
    const byItem = new Map(statuses.map((s) => [s.item, s]));
    const jobs = this.jobs().map((j) => byItem.get(j.item) || j);
    this.latest = jobs;
    this.setState({ jobs });
    return jobs;
  }

  async act(job, verb) {
    const { desk } = this.props;
    if (verb === 'abort' && !window.confirm(`Abort the mail job of ${job.item}? Nobody else is mailed until it is started again.`)) return;
    this.setState({ busy: { ...this.state.busy, [job.item]: true }, errors: { ...this.state.errors, [job.item]: '' } });
    try {
      // No body, but sent as JSON: the desk refuses a change of another Content-Type (415).
      const status = await api('POST', `/api/v1/mail-jobs/${seg(job.item)}:${verb}`, { body: {} });
      if (!this.alive) return;
      if (status && status.item) this.replace([status]);
      const said = { start: 'started', pause: 'asked to pause: its workers stop after their batch', abort: 'aborted' }[verb];
      desk.notify({ kind: 'ok', text: `The mail job of ${job.item} is ${verb === 'start' && job.state === 'paused' ? 'resumed' : said}.` });
    } catch (e) {
      if (!this.alive) return;
      this.setState({ errors: { ...this.state.errors, [job.item]: e.message } });
      listError(desk, e, `The mail job of ${job.item} was not ${verb === 'start' ? 'started' : verb === 'pause' ? 'paused' : 'aborted'}: `);
    }
    this.setState({ busy: { ...this.state.busy, [job.item]: false } });
    this.schedule();
  }

  render({ desk, item: focusItem }, { jobs, error, busy, errors }) {
    const readOnly = !desk.canEdit;
    return html`<h1 tabindex="-1">Mail jobs</h1>
      <p>One job per direct-mail item of the current catalog. A job sends to the item's recipients after its opt-out lists,
        from this server, and its ledger never mails anyone twice: Pause or Abort stop it after the batches in flight,
        and Start (or Resume) goes on where it stopped. Progress comes from the ledger, so every server shows the same.</p>
      ${error ? html`<p class="error" role="alert">The jobs could not be loaded: ${error}</p>` : null}
      ${jobs === null ? html`<p>Loading…</p>` : jobs.length === 0 ? html`<p class="muted">The catalog has no direct-mail items.</p>` : html`
      <table id="mail-jobs">
        <thead><tr><th scope="col">Item</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Job</th></tr></thead>
        <tbody>${jobs.map((j) => {
          const campaign = campaignOf(desk.catalog, j.item);
          const total = Number(j.total || 0);
          const finished = done(j);
          const running = isRunning(j);
          const paused = j.state === 'paused' || j.state === 'stopped';
          const canStart = !running;
          const canPause = running;
          const canAbort = running || paused || j.state === 'created';
          const hidden = html`<span class="visually-hidden"> the mail job of ${j.item}</span>`;
          const b = !!busy[j.item];
          return html`<tr key=${j.item} data-item=${j.item} data-state=${j.state || 'none'} data-running=${running ? 'true' : 'false'}
              class=${focusItem === j.item ? 'mine' : ''}>
            <th scope="row">${campaign ? html`<a href=${`#/campaigns/${seg(campaign)}/items/${seg(j.item)}`}>${j.name || j.item}</a>` : (j.name || j.item)}
              ${j.name && j.name !== j.item ? html`<br /><span class="muted">${j.item}</span>` : null}</th>
            <td class="state"><strong>${j.state || 'none'}</strong>${running ? html`<br /><span class="muted">running on this server</span>` : null}
              ${j.transport ? html`<br /><span class="muted">via ${j.transport}</span>` : null}</td>
            <td class="progress-cell">
              <progress id=${`job-progress-${j.item}`} max=${total || 1} value=${total ? finished : 0}
                aria-label=${`Progress of ${j.item}`}>${total ? Math.round((100 * finished) / total) : 0}%</progress>
              <span class="job-counts" data-total=${total} data-sent=${Number(j.sent || 0)} data-failed=${Number(j.failed || 0)}
                data-skipped=${Number(j.skipped || 0)} data-pending=${Number(j.pending || 0)}>
                ${num(finished)} of ${num(total)}: ${num(j.sent || 0)} sent, ${num(j.failed || 0)} failed, ${num(j.skipped || 0)} skipped, ${num(j.pending || 0)} pending</span>
            </td>
            <td class="job-actions">
              <button type="button" class="change primary" disabled=${readOnly || b || !canStart} onClick=${() => this.act(j, 'start')}>
                ${paused ? 'Resume' : 'Start'}${hidden}</button>
              <button type="button" class="change" disabled=${readOnly || b || !canPause} onClick=${() => this.act(j, 'pause')}>Pause${hidden}</button>
              <button type="button" class="change danger" disabled=${readOnly || b || !canAbort} onClick=${() => this.act(j, 'abort')}>Abort${hidden}</button>
            </td>
          </tr>
          ${j.error || errors[j.item] || j.report ? html`<tr class="job-detail" key=${`${j.item}-detail`} data-item=${j.item}>
            <td colspan="4">
              ${j.error ? html`<p class="error job-error">The last run failed: ${j.error}</p>` : null}
              ${errors[j.item] && errors[j.item] !== j.error ? html`<p class="error">${errors[j.item]}</p>` : null}
              ${j.report ? html`<${Report} item=${j.item} report=${j.report} />` : null}
            </td></tr>` : null}`;
        })}</tbody>
      </table>`}
      <p><button type="button" onClick=${() => this.load()}>Refresh</button></p>`;
  }
}

// The last finished run's MailReport, whatever the spelling of its keys
// (sent_this_run or sentThisRun): scalars as a list, maps as sub-lists.
function Report({ item, report }) {
  const words = (k) => k.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  const entries = Object.entries(report).filter(([k, v]) => v !== '' && v !== null && v !== undefined && k !== 'trace');
  return html`<details class="job-report" id=${`job-report-${item}`}>
    <summary>The last run's report${report.state ? ` (${report.state})` : ''}</summary>
    <dl class="totals">
      ${entries.map(([k, v]) => (typeof v === 'object'
        ? html`<dt>${words(k)}</dt><dd>${Object.keys(v).length ? html`<ul class="plain">${Object.entries(v).map(([r, n]) => html`<li>${r}: ${num(n)}</li>`)}</ul>` : 'none'}</dd>`
        : html`<dt>${words(k)}</dt><dd>${typeof v === 'number' ? num(v) : String(v)}</dd>`))}
    </dl>
  </details>`;
}
