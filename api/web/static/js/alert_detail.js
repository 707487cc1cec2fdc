// One alert opened in the console: what it is, who owns it, and its audit trail (every state
// change with who and why, and the comments), with the operator's actions.
import { api } from './api.js';
import { ask } from './dialog.js';
import { fill, h, toast } from './dom.js';
import { label, number, percent, t } from './i18n.js';
import { OPEN_STATES } from './status.js';
import { canOperate, selectSite, state } from './store.js';
import { timeEl } from './time.js';

const TIME_DETAILS = /(^|_)(onset|at|since|until|time)$/;

/** An alert's value as people read it: a probability for forecast alerts, else the measured value. */
export function alertValue(a) {
  if (a.value === null || a.value === undefined) return null;
  return a.kind === 'forecast_exceedance' ? `P ${percent(a.value)}` : number(a.value, 2);
}

/** One entry of an alert's details: times (Unix seconds) as Ho Chi Minh City time, probabilities as %. */
function detailValue(key, value) {
  if (typeof value !== 'number') return String(value);
  if (TIME_DETAILS.test(key) && value > 1e9) return timeEl(new Date(value * 1000).toISOString());
  if (key.includes('probability')) return percent(value);
  return number(value, 3);
}

export class AlertDetail {
  constructor(onChanged) {
    this.el = h('li.detail', { 'aria-live': 'polite' });
    this.onChanged = onChanged;
    this.alert = null;
  }

  async show(alert) {
    this.alert = alert;
    this.trail = null;
    this.render();
    await this.loadTrail();
  }

  async refresh(alert) {
    this.alert = alert;
    this.render();
    await this.loadTrail();
  }

  async loadTrail() {
    const id = this.alert.alert_id;
    try {
      const detail = await api.alert(id);
      if (!this.alert || this.alert.alert_id !== id) return;
      this.trail = [
        ...detail.events.map((e) => ({ at: e.at, who: e.actor, what: label('state', e.to_state), note: e.note, kind: 'event' })),
        ...detail.comments.map((c) => ({ at: c.at, who: c.author, what: t('trail_comment'), note: c.text, kind: 'comment' })),
      ].sort((a, b) => (a.at < b.at ? -1 : 1));
      this.render();
    } catch (err) {
      this.trail = [];
      this.render();
    }
  }

  render() {
    const a = this.alert;
    if (!a) return;
    const operator = canOperate();
    const open = OPEN_STATES.includes(a.state);
    const actions = h('div.actions',
      a.device_id && state.sites.has(a.device_id)
        ? h('button.btn.btn--small', { type: 'button', on: { click: () => selectSite(a.device_id) } }, t('show_on_map')) : null,
      operator && open && !a.acked_at ? h('button.btn.btn--small.btn--primary', { type: 'button', dataset: { action: 'ack' }, on: { click: () => this.ack() } }, t('ack')) : null,
      operator && open ? h('button.btn.btn--small', { type: 'button', dataset: { action: 'assign' }, on: { click: () => this.assign() } }, t('assign')) : null,
      operator ? h('button.btn.btn--small', { type: 'button', dataset: { action: 'comment' }, on: { click: () => this.comment() } }, t('comment')) : null);
    const details = Object.entries(a.details || {}).filter(([, v]) => v !== null && typeof v !== 'object').slice(0, 6);
    fill(this.el,
      h('h3', label('rule', a.rule), ' · ', a.site_name || a.subject),
      h('dl',
        h('dt', t('severity')), h('dd', h(`span.sev.sev-${a.severity}`, label('severity', a.severity))),
        h('dt', t('state')), h('dd', h(`span.state.state-${a.state}`, label('state', a.state))),
        h('dt', t('where')), h('dd', [a.ward, a.district].filter(Boolean).join(', ') || '—'),
        h('dt', t('subject')), h('dd', a.subject),
        h('dt', t('fired_at')), h('dd', a.fired_at ? timeEl(a.fired_at) : `${t('pending_since')} `, a.fired_at ? null : timeEl(a.pending_since)),
        alertValue(a) ? [h('dt', t('value_label')), h('dd', alertValue(a))] : null,
        h('dt', t('acknowledged')), h('dd', a.acked_at ? [timeEl(a.acked_at), ` ${a.acked_by || ''}`, a.ack_note ? ` — “${a.ack_note}”` : ''] : t('not_yet')),
        h('dt', t('assignee')), h('dd', a.assignee || '—'),
        details.map(([k, v]) => [h('dt', label('detail', k)), h('dd', detailValue(k, v))])),
      actions,
      h('h4.section-title', t('audit_trail')),
      this.trail === null ? h('p.chart-note', t('loading'))
        : h('ol.trail', this.trail.map((e) => h('li', timeEl(e.at), h('b', e.what), ' · ', e.who,
          e.note ? [' — ', h('span.note', `“${e.note}”`)] : null))));
  }

  async ack() {
    const values = await ask({ title: t('ack_title'), intro: `${label('rule', this.alert.rule)} · ${this.alert.site_name || this.alert.subject}`,
      fields: [{ name: 'note', label: t('ack_note'), type: 'textarea' }], submit: t('ack') });
    if (values) await this.act(() => api.ack(this.alert.alert_id, values.note), t('acked_one'));
  }

  async assign() {
    const values = await ask({ title: t('assign_title'), fields: [{ name: 'assignee', label: t('assignee_hint'), value: this.alert.assignee || state.me.username }], submit: t('assign') });
    if (values) await this.act(() => api.assign(this.alert.alert_id, values.assignee || null), t('assigned'));
  }

  async comment() {
    const values = await ask({ title: t('comment'), fields: [{ name: 'text', label: t('comment_text'), type: 'textarea', required: true }], submit: t('comment') });
    if (values && values.text) await this.act(async () => { await api.comment(this.alert.alert_id, values.text); return api.alert(this.alert.alert_id); }, t('comment_added'));
  }

  async act(call, done) {
    try {
      const alert = await call();
      this.alert = alert;
      this.onChanged(alert);
      toast(done);
      await this.loadTrail();
    } catch (err) {
      toast(`${t('action_failed')}: ${err.message}`, 'error');
    }
  }
}
