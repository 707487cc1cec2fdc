// Silences: who muted what, why and until when; operators make one from label matchers and see
// first which alerts it would match (the API's preview writes nothing), then save or expire it.
import { api } from './api.js';
import { fill, h, toast } from './dom.js';
import { label, onLanguage, t } from './i18n.js';
import { canOperate } from './store.js';
import { full, timeEl } from './time.js';

export const LABELS = Object.freeze(['district', 'ward', 'rule', 'kind', 'severity', 'device_id', 'subject']);

export class SilencesView {
  constructor(el) {
    this.el = el;
    this.items = [];
    this.showExpired = false;
    this.matchers = [{ label: 'district', pattern: '' }];
    this.hours = 2;
    this.comment = '';
    this.preview = null;
    onLanguage(() => this.render());
  }

  async load() {
    this.items = await api.silences(this.showExpired ? undefined : 'true');
    this.render();
  }

  body() {
    const now = new Date();
    const ends = new Date(now.getTime() + this.hours * 3600e3);
    const matchers = Object.fromEntries(this.matchers.filter((m) => m.pattern.trim()).map((m) => [m.label, m.pattern.trim()]));
    return { matchers, starts_at: now.toISOString(), ends_at: ends.toISOString(), comment: this.comment };
  }

  async runPreview() {
    const body = this.body();
    if (!Object.keys(body.matchers).length) { toast(t('silence_need_matcher'), 'error'); return; }
    try {
      this.preview = (await api.previewSilence({ matchers: body.matchers, starts_at: body.starts_at, ends_at: body.ends_at })).alerts;
    } catch (err) { toast(`${t('action_failed')}: ${err.message}`, 'error'); return; }
    this.render();
  }

  async create() {
    const body = this.body();
    if (!Object.keys(body.matchers).length || !body.comment.trim()) { toast(t('silence_need_all'), 'error'); return; }
    try {
      await api.createSilence(body);
      toast(t('silence_created'));
      this.preview = null;
      this.comment = '';
      await this.load();
    } catch (err) { toast(`${t('action_failed')}: ${err.message}`, 'error'); }
  }

  async expire(id) {
    try { await api.expireSilence(id); toast(t('silence_expired')); await this.load(); } catch (err) { toast(`${t('action_failed')}: ${err.message}`, 'error'); }
  }

  form() {
    const rows = this.matchers.map((m, i) => h('div.full', { style: 'display:flex; gap:6px' },
      h('select', { 'aria-label': t('matcher_label'), on: { change: (e) => { m.label = e.target.value; } } },
        LABELS.map((l) => h('option', { value: l, selected: l === m.label }, t(`label_${l}`)))),
      h('input', { value: m.pattern, placeholder: t('matcher_pattern'), 'aria-label': t('matcher_pattern'), style: 'flex:1',
        on: { input: (e) => { m.pattern = e.target.value; } } }),
      this.matchers.length > 1 ? h('button.icon-btn', { type: 'button', 'aria-label': t('remove'), on: { click: () => { this.matchers.splice(i, 1); this.render(); } } }, '✕') : null));
    return h('div.form-grid',
      h('h3.section-title.full', t('new_silence')),
      rows,
      h('div.full', h('button.btn.btn--small.btn--ghost', { type: 'button', on: { click: () => { this.matchers.push({ label: 'rule', pattern: '' }); this.render(); } } }, '+ ', t('add_matcher'))),
      h('label', t('duration_h'), h('input', { type: 'number', min: 0.25, max: 168, step: 0.25, value: this.hours, on: { input: (e) => { this.hours = Number(e.target.value) || 1; } } })),
      h('label', t('silence_comment'), h('input', { value: this.comment, required: true, on: { input: (e) => { this.comment = e.target.value; } } })),
      h('div.full', { style: 'display:flex; gap:6px' },
        h('button.btn.btn--small', { type: 'button', dataset: { action: 'preview' }, on: { click: () => this.runPreview() } }, t('preview')),
        h('button.btn.btn--small.btn--primary', { type: 'button', dataset: { action: 'create' }, on: { click: () => this.create() } }, t('create_silence'))),
      this.preview === null ? null : h('div.preview', { 'aria-live': 'polite' },
        h('b', t('preview_matches', { n: this.preview.length })),
        h('ul', this.preview.slice(0, 50).map((a) => h('li', label('severity', a.severity), ' · ', label('rule', a.rule), ' · ', a.site_name || a.subject, ' · ', label('state', a.state))))));
  }

  render() {
    const list = this.items.length ? this.items.map((s) => h('div.silence', { dataset: { silenceId: s.silence_id } },
      h('div', Object.entries(s.matchers).map(([k, v]) => [h('code', `${k}=${v}`), ' ']),
        s.active ? h('span.chip', { style: 'color: var(--ok)' }, t('active')) : h('span.chip', t('inactive'))),
      h('div', `“${s.comment}”`),
      h('div.meta', t('silence_by', { who: s.created_by }), ' · ', timeEl(s.starts_at, full(s.starts_at)), ' → ', timeEl(s.ends_at, full(s.ends_at)),
        s.expired_by ? ` · ${t('expired_by', { who: s.expired_by })}` : ''),
      canOperate() && s.active ? h('div', h('button.btn.btn--small', { type: 'button', on: { click: () => this.expire(s.silence_id) } }, t('expire_now'))) : null))
      : h('p.empty', t('no_silences'));
    fill(this.el,
      canOperate() ? this.form() : null,
      h('div.toolbar', h('label.check', h('input', { type: 'checkbox', checked: this.showExpired, on: { change: (e) => { this.showExpired = e.target.checked; this.load(); } } }), ' ', t('show_expired'))),
      list);
  }
}
