// City and ward level: per district (and its wards) the open alerts, sites at risk in the next
// 3 h and stale devices, worst first; choosing one drills the map and the console into it.
import { fill, h } from './dom.js';
import { number, onLanguage, t } from './i18n.js';
import { on, setScope, state } from './store.js';

const risk = (s) => s.open_alerts * 1000 + s.sites_at_risk_3h * 10 + s.stale_devices + s.offline_devices;
const cell = (n, hotAt = 1) => h(`td.num${n >= hotAt && n > 0 ? '.hot' : n === 0 ? '.cold' : ''}`, number(n, 0));

export class AreasView {
  constructor(el) {
    this.el = el;
    this.expanded = new Set();
    on('areas', () => this.render());
    on('scope', () => this.render());
    onLanguage(() => this.render());
  }

  drill(district, ward, bbox) {
    setScope(district ? { district, ward: ward || '', bbox } : null);
  }

  render() {
    const areas = state.areas;
    if (!areas) { fill(this.el, h('p.empty', t('loading'))); return; }
    const c = areas.city;
    const head = h('tr', h('th', t('area')), h('th.num', t('col_sites')), h('th.num', t('col_open_alerts')),
      h('th.num', t('col_at_risk')), h('th.num', t('col_stale')));
    const rows = [];
    rows.push(h('tr', h('td', h('button.link', { type: 'button', on: { click: () => this.drill(null) } }, t('whole_city'))),
      h('td.num', number(c.sites, 0)), cell(c.open_alerts), cell(c.sites_at_risk_3h), cell(c.stale_devices + c.offline_devices)));
    const districts = [...areas.districts].sort((a, b) => risk(b) - risk(a) || String(a.district).localeCompare(String(b.district), 'vi'));
    for (const d of districts) {
      const name = d.district || t('unplaced');
      const open = this.expanded.has(name);
      const scoped = state.scope && state.scope.district === d.district;
      rows.push(h(`tr${scoped ? '.is-scoped' : ''}`, { dataset: { district: name } },
        h('td.area',
          h('button.icon-btn', { type: 'button', 'aria-expanded': String(open), 'aria-label': t(open ? 'collapse' : 'expand', { name }),
            on: { click: () => { if (open) this.expanded.delete(name); else this.expanded.add(name); this.render(); } } }, open ? '▾' : '▸'),
          h('button.link', { type: 'button', on: { click: () => this.drill(d.district, '', d.bbox) } }, name)),
        h('td.num', number(d.sites, 0)), cell(d.open_alerts), cell(d.sites_at_risk_3h), cell(d.stale_devices + d.offline_devices)));
      if (!open) continue;
      const wards = areas.wards.filter((w) => w.district === d.district).sort((a, b) => risk(b) - risk(a));
      for (const w of wards) {
        rows.push(h('tr.sub', { dataset: { ward: w.ward || '' } },
          h('td.area', h('button.link', { type: 'button', on: { click: () => this.drill(d.district, w.ward, w.bbox) } }, w.ward || t('unplaced'))),
          h('td.num', number(w.sites, 0)), cell(w.open_alerts), cell(w.sites_at_risk_3h), cell(w.stale_devices + w.offline_devices)));
      }
    }
    fill(this.el,
      h('div.toolbar', h('span.grow.chart-note', t('areas_note'))),
      h('table.grid', h('caption.visually-hidden', t('tab_areas')), h('thead', head), h('tbody', rows)));
  }
}
