// The site panel: who the site is, its worst state and device health, and per sensor the last
// 24 h with the latest forecast (chart.js). The map's list of sites holds only what the map draws,
// so the panel reads the whole site (/api/v1/sites/{id}) when it opens. Live: it redraws when the
// site changes (the stream sends the whole site) or a new forecast is issued for one of its sensors. chart.js and uPlot are imported when a panel first
// opens, not on the page's first load, which draws no chart.
import { api } from './api.js';
import { fill, h, svg } from './dom.js';
import { label, number, onLanguage, percent, t } from './i18n.js';
import { FORECAST_KINDS, shapeSvg } from './status.js';
import { on, selectSite, state } from './store.js';
import { ago, timeEl } from './time.js';

const DAY_S = 86400;

export class SitePanel {
  constructor(el) {
    this.el = el;
    this.charts = [];
    this.loading = 0;
    this.hours = 24; // observed window shown: 24 h, or 6 h to look closer at the forecast
    this.results = [];
    on('select', (id) => (id ? this.open(id) : this.close()));
    on('focus-panel', () => this.el.focus({ preventScroll: true }));
    on('site', (f) => { if (String(f.id) === this.id) { this.site = f; this.renderHead(); } });
    on('forecast', (issue) => {
      const site = this.id && this.site;
      if (!site) return;
      const mine = new Set(site.properties.sensors.map((s) => s.sensor_id));
      if (!issue.sensors || issue.sensors.some((s) => mine.has(s))) this.loadCharts();
    });
    onLanguage(() => { if (this.id) this.render(); });
    el.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); selectSite(null); } });
  }

  open(id) {
    const returning = this.id === String(id);
    this.id = String(id);
    this.el.hidden = false;
    if (returning) return;
    this.site = null;
    this.render();
    api.site(this.id).then((site) => {
      if (String(site.id) !== this.id) return; // another site was opened meanwhile
      if (!this.site) this.site = site; // unless the stream brought a newer one meanwhile
      this.renderHead();
      this.loadCharts();
    }).catch(() => null);
  }

  close() {
    if (this.el.contains(document.activeElement)) document.getElementById('main').focus({ preventScroll: true });
    this.id = null;
    this.site = null;
    this.destroyCharts();
    this.el.hidden = true;
  }

  destroyCharts() {
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }

  render() {
    this.head = h('div.panel-head');
    this.body = h('div.panel-body');
    fill(this.el, this.head, this.body);
    this.renderHead();
    this.loadCharts();
  }

  renderHead() {
    const f = this.site || state.sites.get(this.id); // the map's entry until the whole site is read
    if (!f) { fill(this.head, h('h2#site-title', this.id)); return; }
    const p = f.properties;
    const dev = p.device || {};
    const close = h('button.icon-btn.close', { type: 'button', 'aria-label': t('close'), title: `${t('close')} (Esc)`, on: { click: () => selectSite(null) } }, '✕');
    fill(this.head,
      h('div', h('h2#site-title', p.name || this.id),
        h('div.where', [p.ward, p.district].filter(Boolean).join(', '), ' · ', label('site_kind', p.site_kind), ' · ', this.id)),
      close);
    const status = h('span.status-pill', { dataset: { status: p.status } }, svg(shapeSvg(p.status, 14)), label('status', p.status));
    const alerts = p.alerts || { open: 0, unacknowledged: 0 };
    this.summary = h('div.status-line', status,
      alerts.open ? h('span.chip', t('site_open_alerts', { n: alerts.open, u: alerts.unacknowledged })) : null,
      p.max_exceed_probability_3h !== null && p.max_exceed_probability_3h !== undefined
        ? h('span.chip', t('p_exceed_3h'), ' ', h(`b.prob${probClass(p.max_exceed_probability_3h)}`, percent(p.max_exceed_probability_3h)))
        : null);
    const health = !p.device ? null : h('dl.health',
      h('div', h('dt', t('device_state')), h('dd', label('device_state', dev.state))),
      h('div', h('dt', t('last_seen')), h('dd', dev.last_seen ? timeEl(dev.last_seen) : '—')),
      h('div', h('dt', t('backlog')), h('dd', dev.backlog === null || dev.backlog === undefined ? '—' : number(dev.backlog, 0))),
      h('div', h('dt', t('clock')), h('dd', label('clock', dev.clock))));
    const old = this.body.querySelector('.panel-summary');
    const block = h('div.panel-summary', this.summary, health && h('h3.section-title', t('device_health')), health);
    if (old) old.replaceWith(block); else this.body.prepend(block);
  }

  async loadCharts() {
    const f = this.site;
    if (!f) return;
    const token = ++this.loading;
    const sensors = [...f.properties.sensors].sort((a, b) => sensorOrder(a) - sensorOrder(b));
    const end = new Date();
    const start = new Date(end.getTime() - DAY_S * 1000);
    const chart = import('./chart.js');
    const results = await Promise.all(sensors.map(async (s) => {
      const [readings, forecast] = await Promise.all([
        api.readings(s.sensor_id, { start: start.toISOString(), end: end.toISOString(), points: 500 }).catch(() => null),
        // rain gauges are inputs, not forecast; a sensor still without one answers 404 no_forecast
        FORECAST_KINDS.includes(s.kind) ? api.forecast(s.sensor_id).catch(() => null) : null,
      ]);
      return { sensor: s, readings, forecast };
    }));
    this.chart = await chart;
    if (token !== this.loading || !this.id) return; // a newer load or another site took over
    this.results = results;
    this.drawCharts();
    this.el.dataset.loaded = this.id;
  }

  windowSwitch() {
    return h('div.lang-switch.window-switch', { role: 'group', 'aria-label': t('chart_window') },
      [24, 6].map((hours) => h('button', {
        type: 'button', 'aria-pressed': String(this.hours === hours),
        on: { click: () => { this.hours = hours; this.drawCharts(); } },
      }, t('last_hours', { n: hours }))));
  }

  drawCharts() {
    this.destroyCharts();
    const results = this.results;
    for (const old of this.body.querySelectorAll('.sensor, .window-bar')) old.remove();
    this.body.append(h('div.window-bar', h('h3.section-title', t('sensors')), this.windowSwitch()));
    const width = Math.max(280, this.body.clientWidth - 50);
    for (const { sensor, readings, forecast } of results) {
      const threshold = forecast && forecast.threshold !== null && forecast.threshold !== undefined ? forecast.threshold : sensor.threshold;
      const chartEl = h(`div.chart#chart-${sensor.sensor_id}`, { role: 'img', 'aria-label': chartSummary(sensor, forecast, threshold) });
      const card = h('section.sensor', { dataset: { sensorId: sensor.sensor_id, kind: sensor.kind } },
        h('div.sensor-head', h('h3', label('kind', sensor.kind)),
          qcChip(sensor.qc),
          h('span.sensor-value', number(sensor.value), ' ', h('small', sensor.unit))),
        h('div.sensor-meta',
          h('span', t('updated'), ' ', sensor.time ? timeEl(sensor.time) : '—', ` (${ago(sensor.age_s)})`),
          threshold !== null && threshold !== undefined ? h('span', t('threshold'), ': ', h('b', `${number(threshold)} ${sensor.unit}`)) : null,
          forecast ? probLine(forecast) : h('span', t('no_forecast'))),
        chartEl,
        this.chart.chartLegend(!!forecast, threshold !== null && threshold !== undefined),
        h('div.chart-note', t('chart_note', { n: this.hours, zone: t('zone_name') }),
          forecast ? ` · ${t('forecast_issued')} ` : '', forecast ? timeEl(forecast.issued_at) : '',
          forecast ? ` · ${forecast.model}${forecast.fallback ? ` (${t('fallback')})` : ''}` : ''));
      this.body.append(card);
      this.charts.push(this.chart.sensorChart(chartEl, { readings, forecast, threshold, unit: sensor.unit, width, hours: this.hours }));
    }
  }
}

const ORDER = ['water_level', 'rainfall', 'traffic_speed', 'traffic_count'];
const sensorOrder = (s) => (ORDER.includes(s.kind) ? ORDER.indexOf(s.kind) : ORDER.length);
const probClass = (p) => (p >= 0.5 ? '.prob--high' : p >= 0.2 ? '.prob--mid' : '');

function probLine(forecast) {
  const p = forecast.exceed_probability || [];
  const finite = p.filter((v) => v !== null);
  if (!finite.length) return null;
  const max = Math.max(...finite);
  return h('span', t('p_exceed_horizon'), ' ', h(`b.prob${probClass(max)}`, percent(max)));
}

function qcChip(qc) {
  if (qc === 3) return h('span.chip', { style: 'color: var(--watch)' }, t('qc_suspect'));
  if (qc === 4) return h('span.chip', { style: 'color: var(--danger)' }, t('qc_fail'));
  return null;
}

function chartSummary(sensor, forecast, threshold) {
  const parts = [label('kind', sensor.kind), `${number(sensor.value)} ${sensor.unit}`];
  if (threshold !== null && threshold !== undefined) parts.push(`${t('threshold')} ${number(threshold)} ${sensor.unit}`);
  if (forecast && forecast.exceed_probability) {
    const finite = forecast.exceed_probability.filter((v) => v !== null);
    if (finite.length) parts.push(`${t('p_exceed_horizon')} ${percent(Math.max(...finite))}`);
  }
  return parts.join(', ');
}
