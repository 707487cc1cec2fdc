// Device health: the edge boxes that are offline or stale, whose store-and-forward backlog is
// growing, or whose clock is not synchronised; live from the stream, each one a click from the map.
import { api } from './api.js';
import { fill, h } from './dom.js';
import { label, number, onLanguage, t } from './i18n.js';
import { hearing, on, selectSite, setDevices, state } from './store.js';
import { since, timeEl } from './time.js';

const FILTERS = Object.freeze(['problems', 'offline', 'stale', 'backlog', 'clock', 'all']);

/** The health problems of one device row, in the order the table shows them. */
export function problems(d) {
  const out = [];
  if (d.state === 'offline') out.push('offline');
  if (d.state === 'stale') out.push('stale');
  if (d.backlog_growing) out.push('backlog');
  if (d.clock && d.clock !== 'synced') out.push('clock');
  return out;
}

export class DevicesView {
  constructor(el, badge) {
    this.el = el;
    this.badge = badge;
    this.filter = 'problems';
    on('devices', () => this.render());
    on('device', () => this.render());
    onLanguage(() => this.render());
  }

  async load() {
    setDevices(...await hearing('device', () => api.devices()));
  }

  render() {
    const all = [...state.devices.values()];
    const troubled = all.filter((d) => problems(d).length);
    this.badge.hidden = troubled.length === 0;
    this.badge.textContent = String(troubled.length);
    const shown = all.filter((d) => (this.filter === 'all' ? true : this.filter === 'problems' ? problems(d).length : problems(d).includes(this.filter)))
      .sort((a, b) => problems(b).length - problems(a).length || String(a.device_id).localeCompare(String(b.device_id)));
    const chips = h('div.toolbar', { role: 'group', 'aria-label': t('device_filter') }, FILTERS.map((f) => h('button.btn.btn--small', {
      type: 'button', 'aria-pressed': String(this.filter === f),
      class: `btn btn--small${this.filter === f ? ' btn--primary' : ''}`,
      on: { click: () => { this.filter = f; this.render(); } },
    }, t(`dev_${f}`), ' ', h('span.badge.badge--muted', String(f === 'all' ? all.length : f === 'problems' ? troubled.length : all.filter((d) => problems(d).includes(f)).length)))));
    const rows = shown.slice(0, 500).map((d) => h('tr', { dataset: { deviceId: d.device_id } },
      h('td', h('button.link', { type: 'button', on: { click: () => selectSite(d.device_id) } }, d.name || d.device_id),
        h('div.chart-note', [d.ward, d.district].filter(Boolean).join(', '))),
      h('td', h('div.flags', problems(d).length ? problems(d).map((p) => h('span.chip', { style: p === 'offline' ? 'color: var(--danger)' : 'color: var(--watch)' }, t(`dev_${p}`)))
        : h('span.chip', { style: 'color: var(--ok)' }, label('device_state', d.state)))),
      h('td', d.last_seen ? [timeEl(d.last_seen), h('div.chart-note', since(d.last_seen))] : '—'),
      h('td.num', d.backlog === null || d.backlog === undefined ? '—' : [number(d.backlog, 0), d.backlog_growing ? ' ↑' : '']),
      h('td', label('clock', d.clock), d.clock_offset_s !== null && d.clock_offset_s !== undefined ? h('div.chart-note', `${number(d.clock_offset_s, 1)} s`) : null)));
    fill(this.el, chips,
      shown.length ? h('table.grid', h('caption.visually-hidden', t('tab_devices')),
        h('thead', h('tr', h('th', t('device')), h('th', t('health')), h('th', t('last_seen')), h('th.num', t('backlog')), h('th', t('clock')))),
        h('tbody', rows)) : h('p.empty', t('no_device_problems')),
      shown.length > 500 ? h('p.chart-note', t('first_n', { n: 500 })) : null);
  }
}
