// The alert console: open alerts, most severe then newest first, filtered on the server and kept
// current by the live stream; acknowledge (one or many) with a note, assign, comment, and the
// audit trail of each alert. Viewers see the same list without the buttons that change things.
import { api, ApiError } from './api.js';
import { ask } from './dialog.js';
import { fill, h, toast } from './dom.js';
import { label, onLanguage, t } from './i18n.js';
import { ALERT_STATES, alertOrder, KINDS, OPEN_STATES, SEVERITIES, SEVERITY_RANK } from './status.js';
import { canOperate, hearing, on, selectSite, setScope, state } from './store.js';
import { since, timeEl } from './time.js';
import { AlertDetail, alertValue } from './alert_detail.js';

const DEFAULT_FILTERS = Object.freeze({ state: 'open', severity: '', kind: '', district: '', ward: '', unacknowledged: false, text: '' });

/** Does an alert pass the console's filters? (the same rules the API applies, for live updates) */
export function matches(alert, f) {
  const states = f.state === 'open' ? OPEN_STATES : [f.state];
  if (!states.includes(alert.state)) return false;
  if (f.severity && SEVERITY_RANK[alert.severity] < SEVERITY_RANK[f.severity]) return false;
  if (f.kind && alert.kind !== f.kind) return false;
  if (f.district && alert.district !== f.district) return false;
  if (f.ward && alert.ward !== f.ward) return false;
  if (f.unacknowledged && alert.acked_at) return false;
  if (f.text) {
    const hay = `${alert.site_name || ''} ${alert.subject || ''} ${alert.rule} ${label('rule', alert.rule)}`.toLowerCase();
    if (!hay.includes(f.text.toLowerCase())) return false;
  }
  return true;
}

function severitiesAtLeast(min) {
  return min ? SEVERITIES.filter((s) => SEVERITY_RANK[s] >= SEVERITY_RANK[min]) : [];
}

export class AlertConsole {
  constructor(el) {
    this.el = el;
    this.filters = { ...DEFAULT_FILTERS };
    this.items = new Map();
    this.selected = new Set();
    this.cursor = null;
    this.openId = null;
    this.fresh = new Set();
    this.detail = new AlertDetail((alert) => this.replace(alert));
    this.build();
    on('alert', ({ alert, removed }) => this.live(alert, removed));
    on('areas', () => this.fillPlaces());
    on('scope', (scope) => this.setPlace(scope ? scope.district : '', scope ? scope.ward : ''));
    onLanguage(() => { this.build(); this.render(); });
  }

  build() {
    const f = this.filters;
    const select = (name, options, value) => h('select', {
      name, 'aria-label': t(`filter_${name}`),
      on: { change: (e) => this.setFilter(name, e.target.value) },
    }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
    this.stateSel = select('state', [['open', t('state_open')], ...ALERT_STATES.map((s) => [s, label('state', s)])], f.state);
    this.sevSel = select('severity', [['', t('all_severities')], ...SEVERITIES.map((s) => [s, t('at_least', { s: label('severity', s) })])], f.severity);
    this.kindSel = select('kind', [['', t('all_kinds')], ...KINDS.map((k) => [k, label('alert_kind', k)])], f.kind);
    this.districtSel = select('district', [['', t('all_districts')]], f.district);
    this.wardSel = select('ward', [['', t('all_wards')]], f.ward);
    const unacked = h('input', { type: 'checkbox', id: 'f-unacked', checked: f.unacknowledged, on: { change: (e) => this.setFilter('unacknowledged', e.target.checked) } });
    this.search = h('input', {
      type: 'search', name: 'text', placeholder: t('search_alerts'), 'aria-label': t('search_alerts'), value: f.text, 'aria-keyshortcuts': '/',
      on: { input: (e) => { this.filters.text = e.target.value; this.render(); } },
    });
    this.filterBar = h('div.filters', { role: 'search' }, this.stateSel, this.sevSel, this.kindSel, this.districtSel, this.wardSel,
      h('label.check', { for: 'f-unacked' }, unacked, t('unacknowledged_only')), h('div.full', this.search));
    this.selectAll = h('input', { type: 'checkbox', 'aria-label': t('select_all'), on: { change: (e) => this.toggleAll(e.target.checked) } });
    this.bulkCount = h('span.count');
    this.bulkAck = h('button.btn.btn--primary.btn--small', { type: 'button', on: { click: () => this.ackSelected() } }, t('ack_selected'));
    this.bulk = h('div.bulkbar', canOperate() ? this.selectAll : null, this.bulkCount, canOperate() ? this.bulkAck : null);
    this.list = h('ul.alert-list', { 'aria-label': t('tab_alerts'), on: { keydown: (e) => this.onKey(e) } });
    this.moreBox = h('div.more');
    fill(this.el, this.filterBar, this.bulk, this.list, this.moreBox);
    this.fillPlaces();
  }

  fillPlaces() {
    if (!state.areas || !this.districtSel) return;
    const districts = state.areas.districts.map((d) => d.district).filter(Boolean).sort((a, b) => a.localeCompare(b, 'vi'));
    fill(this.districtSel, h('option', { value: '' }, t('all_districts')),
      districts.map((d) => h('option', { value: d, selected: d === this.filters.district }, d)));
    const wards = state.areas.wards.filter((w) => w.ward && (!this.filters.district || w.district === this.filters.district))
      .map((w) => w.ward).sort((a, b) => a.localeCompare(b, 'vi'));
    fill(this.wardSel, h('option', { value: '' }, t('all_wards')),
      [...new Set(wards)].map((w) => h('option', { value: w, selected: w === this.filters.ward }, w)));
  }

  setPlace(district, ward) {
    if ((district || '') === this.filters.district && (ward || '') === this.filters.ward) return;
    this.filters.district = district || '';
    this.filters.ward = ward || '';
    this.fillPlaces();
    this.reload();
  }

  setFilter(name, value) {
    this.filters[name] = value;
    if (name === 'district') { this.filters.ward = ''; this.fillPlaces(); setScopeFromFilter(this.filters); }
    if (name === 'ward') setScopeFromFilter(this.filters);
    if (name !== 'text') this.reload();
  }

  params(cursor) {
    const f = this.filters;
    return {
      state: f.state === 'open' ? OPEN_STATES : f.state, severity: severitiesAtLeast(f.severity), kind: f.kind,
      district: f.district, ward: f.ward, unacknowledged: f.unacknowledged ? 'true' : '', limit: 200, cursor,
    };
  }

  async reload() {
    const token = (this.token = (this.token || 0) + 1);
    try {
      const [page, heard] = await hearing('alert', () => api.alerts(this.params()));
      if (token !== this.token) return;
      this.items = new Map(page.items.map((a) => [a.alert_id, a]));
      for (const { alert, removed } of heard) this.keep(alert, removed); // news the page was read too early for
      this.cursor = page.next_cursor;
      this.selected.clear();
      this.render();
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) toast(`${t('load_failed')}: ${err.message}`, 'error');
    }
  }

  async more() {
    const page = await api.alerts(this.params(this.cursor));
    for (const a of page.items) this.items.set(a.alert_id, a);
    this.cursor = page.next_cursor;
    this.render();
  }

  live(alert, removed) {
    if (!removed && !this.items.has(alert.alert_id) && matches(alert, this.filters)) this.fresh.add(alert.alert_id);
    this.keep(alert, removed);
    if (this.openId === alert.alert_id) this.detail.refresh(alert);
    this.render();
  }

  /** The stream's word on one alert: in the list while it passes the filters. */
  keep(alert, removed) {
    if (!removed && matches(alert, this.filters)) {
      this.items.set(alert.alert_id, alert);
    } else {
      this.items.delete(alert.alert_id);
      this.selected.delete(alert.alert_id);
    }
  }

  replace(alert) {
    if (matches(alert, this.filters)) this.items.set(alert.alert_id, alert); else this.items.delete(alert.alert_id);
    this.render();
  }

  visible() {
    return [...this.items.values()].filter((a) => matches(a, this.filters)).sort(alertOrder);
  }

  render() {
    if (!this.list) return;
    const rows = this.visible();
    const focusedId = document.activeElement && document.activeElement.dataset ? Number(document.activeElement.dataset.alertId) : null;
    fill(this.list, rows.length ? rows.map((a) => this.row(a)) : h('li.empty', t('no_alerts')));
    if (this.openId && rows.some((a) => a.alert_id === this.openId)) {
      const row = this.list.querySelector(`[data-alert-id="${this.openId}"]`);
      row.after(this.detail.el);
    }
    if (focusedId) {
      const again = this.list.querySelector(`[data-alert-id="${focusedId}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    const unacked = rows.filter((a) => !a.acked_at).length;
    fill(this.bulkCount, this.selected.size
      ? t('n_selected', { n: this.selected.size })
      : t('n_alerts', { n: rows.length, u: unacked }));
    this.bulkAck.disabled = this.selected.size === 0;
    this.selectAll.checked = rows.length > 0 && rows.every((a) => this.selected.has(a.alert_id));
    fill(this.moreBox, this.cursor ? h('button.btn.btn--small', { type: 'button', on: { click: () => this.more() } }, t('load_more')) : null);
    this.fresh.clear();
  }

  row(a) {
    const operator = canOperate();
    const check = operator ? h('input', {
      type: 'checkbox', checked: this.selected.has(a.alert_id), 'aria-label': t('select_alert'),
      on: { click: (e) => e.stopPropagation(), change: (e) => this.toggle(a.alert_id, e.target.checked) },
    }) : h('span');
    const when = a.fired_at || a.pending_since;
    const ackBtn = operator && OPEN_STATES.includes(a.state) && !a.acked_at
      ? h('button.btn.btn--small', { type: 'button', dataset: { action: 'ack' }, on: { click: (e) => { e.stopPropagation(); this.ack(a); } } }, t('ack'))
      : null;
    const li = h(`li.alert-row${this.fresh.has(a.alert_id) ? '.is-new' : ''}`, {
      tabindex: 0, dataset: { alertId: a.alert_id, state: a.state, severity: a.severity },
      'aria-current': this.openId === a.alert_id ? 'true' : null,
      'aria-expanded': this.openId === a.alert_id ? 'true' : 'false',
      on: { click: () => this.toggleDetail(a) },
    },
    h(`span.stripe.sev-${a.severity}`),
    check,
    h('div',
      h('div.title', h(`span.sev.sev-${a.severity}`, label('severity', a.severity)), label('rule', a.rule), ' · ', a.site_name || a.subject),
    ),
    h('div.acts', h('div.when', timeEl(when), h('br'), since(when)), ackBtn),
    h('div.sub',
      h(`span.state.state-${a.state}`, label('state', a.state)),
      h('span', [a.ward, a.district].filter(Boolean).join(', ') || '—'),
      alertValue(a) ? h('span', alertValue(a)) : null,
      a.acked_at ? h('span.acked', '✓ ', a.acked_by || '', a.ack_note ? ` — “${a.ack_note}”` : '') : null,
      a.assignee ? h('span', '→ ', a.assignee) : null,
      a.silenced ? h('span.chip', t('silenced')) : null));
    return li;
  }

  toggle(id, on) {
    if (on) this.selected.add(id); else this.selected.delete(id);
    this.render();
  }

  toggleAll(on) {
    this.selected = new Set(on ? this.visible().filter((a) => !a.acked_at && OPEN_STATES.includes(a.state)).map((a) => a.alert_id) : []);
    this.render();
  }

  toggleDetail(a) {
    this.openId = this.openId === a.alert_id ? null : a.alert_id;
    if (this.openId) {
      this.detail.show(a);
      if (a.device_id && state.sites.has(a.device_id)) selectSite(a.device_id);
    }
    this.render();
  }

  async ack(a) {
    const values = await ask({
      title: t('ack_title'), intro: `${label('rule', a.rule)} · ${a.site_name || a.subject}`,
      fields: [{ name: 'note', label: t('ack_note'), type: 'textarea' }], submit: t('ack'),
    });
    if (!values) return;
    try {
      this.replace(await api.ack(a.alert_id, values.note));
      toast(t('acked_one'));
    } catch (err) {
      toast(`${t('action_failed')}: ${err.message}`, 'error');
    }
  }

  async ackSelected() {
    const ids = [...this.selected];
    if (!ids.length) return;
    const values = await ask({
      title: t('bulk_ack_title', { n: ids.length }), fields: [{ name: 'note', label: t('ack_note'), type: 'textarea' }], submit: t('ack'),
    });
    if (!values) return;
    try {
      const result = await api.bulkAck(ids, values.note);
      this.selected.clear();
      toast(t('bulk_acked', { n: result.acknowledged.length, s: result.skipped.length }));
      await this.reload();
    } catch (err) {
      toast(`${t('action_failed')}: ${err.message}`, 'error');
    }
  }

  onKey(e) {
    const row = e.target.closest('.alert-row');
    if (!row || e.target !== row) return;
    const id = Number(row.dataset.alertId);
    const a = this.items.get(id);
    const rows = [...this.list.querySelectorAll('.alert-row')];
    const i = rows.indexOf(row);
    if (e.key === 'ArrowDown' || e.key === 'j') { e.preventDefault(); (rows[i + 1] || row).focus(); }
    else if (e.key === 'ArrowUp' || e.key === 'k') { e.preventDefault(); (rows[i - 1] || row).focus(); }
    else if (e.key === 'Enter') { e.preventDefault(); this.toggleDetail(a); }
    else if (e.key === 'x' && canOperate()) { e.preventDefault(); this.toggle(id, !this.selected.has(id)); }
    else if (e.key === 'a' && canOperate() && a && !a.acked_at) { e.preventDefault(); this.ack(a); }
  }

  focusFirst() {
    const first = this.list.querySelector('.alert-row');
    if (first) first.focus();
  }

  focusSearch() { this.search.focus(); }
}

function setScopeFromFilter(f) {
  if (!state.areas) return;
  if (!f.district) { setScope(null); return; }
  const area = f.ward
    ? state.areas.wards.find((w) => w.district === f.district && w.ward === f.ward)
    : state.areas.districts.find((d) => d.district === f.district);
  setScope({ district: f.district, ward: f.ward || '', bbox: area ? area.bbox : null, fromConsole: true });
}
