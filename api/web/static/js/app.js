// Start-up: configuration and session (early.js asked for them, and for the sites, before the
// other modules arrived; the login page when there is no session), then the operations screen:
// the map first (it gets the sites the moment both exist), the alert console and the live stream
// beside it; the district summary, device health and the chart code once the map is drawn.
import { api, setSession, whenUnauthorised } from './api.js';
import { AlertConsole } from './console.js';
import { $, fill, h, toast } from './dom.js';
import { AreasView } from './areas.js';
import { DevicesView } from './devices.js';
import * as early from './early.js';
import { applyStatic, initLanguage, label, language, LANGUAGES, number, onLanguage, setLanguage, t } from './i18n.js';
import { helpDialog, installShortcuts } from './keys.js';
import { connect } from './live.js';
import { CityMap, warmUp } from './map.js';
import { Notifier } from './notify.js';
import { SitePanel } from './panel.js';
import { SilencesView } from './silences.js';
import { canOperate, emit, hearing, on, setAlerts, setAreas, setScope, setSites, state } from './store.js';
import { OPEN_STATES, shapeSvg, STATUSES } from './status.js';
import { clock } from './time.js';
import { svg } from './dom.js';

const AREAS_REFRESH_MS = 3000; // the city summary is re-read at most this often while events flow
// Staleness is a matter of time passing, which no event announces: re-read what depends on it.
const DEVICES_REFRESH_MS = 60_000;
const SITES_REFRESH_MS = 300_000;
const { SESSION_HINT } = early;

function languageSwitches() {
  for (const slot of document.querySelectorAll('.lang-switch-slot')) {
    fill(slot, h('span.lang-switch', { role: 'group', 'aria-label': t('language') },
      LANGUAGES.map((lang) => h('button', {
        type: 'button', lang, 'aria-pressed': String(language() === lang),
        on: { click: () => { setLanguage(lang); languageSwitches(); } },
      }, lang.toUpperCase()))));
  }
}

async function boot() {
  performance.mark('urbanpulse:modules');
  if (localStorage.getItem(SESSION_HINT)) warmUp(); // the map is coming (a login page needs no worker)
  const [config, me] = await Promise.all([early.config, early.me]);
  state.config = config;
  initLanguage(config.default_language);
  languageSwitches();
  $('#boot').hidden = true;
  if (me) start(me, early.sites);
  else if (config.anonymous_read) start({ username: null, role: 'anonymous', csrf_token: null });
  else showLogin();
}

function showLogin() {
  const login = $('#login');
  login.hidden = false;
  const form = $('#login-form');
  const error = $('#login-error');
  $('#login-user').focus();
  form.onsubmit = async (e) => {
    e.preventDefault();
    error.hidden = true;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const me = await api.login(form.username.value.trim(), form.password.value);
      localStorage.setItem(SESSION_HINT, '1');
      login.hidden = true;
      form.password.value = '';
      start(me);
    } catch (err) {
      error.textContent = err.code === 'too_many_attempts' ? t('too_many_attempts')
        : err.code === 'bad_credentials' ? t('bad_credentials') : `${t('login_failed')}: ${err.message}`;
      error.hidden = false;
      form.password.select();
    } finally {
      button.disabled = false;
    }
  };
}

class Tabs {
  constructor(names) {
    this.names = names;
    const list = document.querySelector('[role="tablist"]');
    list.addEventListener('click', (e) => { const tab = e.target.closest('[role="tab"]'); if (tab) this.select(tab.id.slice(4), true); });
    list.addEventListener('keydown', (e) => {
      const i = this.names.indexOf(this.current);
      if (e.key === 'ArrowRight') this.select(this.names[(i + 1) % this.names.length], true);
      else if (e.key === 'ArrowLeft') this.select(this.names[(i - 1 + this.names.length) % this.names.length], true);
    });
    this.current = 'alerts';
    this.onSelect = () => {};
  }

  select(name, focus = false) {
    this.current = name;
    for (const n of this.names) {
      const tab = document.getElementById(`tab-${n}`);
      tab.setAttribute('aria-selected', String(n === name));
      tab.tabIndex = n === name ? 0 : -1;
      document.getElementById(`view-${n}`).hidden = n !== name;
      if (n === name && focus) tab.focus();
    }
    this.onSelect(name);
  }
}

function renderKpis() {
  const c = state.areas && state.areas.city;
  if (!c) return;
  const kpi = (value, key, cls, extra) => h(`li.kpi${value > 0 && cls ? `.${cls}` : ''}`, h('b', number(value, 0)), h('span', t(key)), extra);
  fill($('#kpis'),
    kpi(c.open_alerts, 'kpi_open_alerts', 'kpi--hot'),
    kpi(c.unacknowledged, 'kpi_unacked', 'kpi--hot'),
    kpi(c.sites_at_risk_3h, 'kpi_at_risk', 'kpi--warn'),
    kpi(c.offline_devices + c.stale_devices, 'kpi_devices', 'kpi--warn'),
    kpi(c.sites, 'kpi_sites', null));
}

function renderLegend() {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const f of state.sites.values()) counts[f.properties.status] = (counts[f.properties.status] || 0) + 1;
  fill($('#map-legend'), h('div.legend-title', t('legend')),
    STATUSES.map((s) => h('div.legend-row', { dataset: { status: s } }, svg(shapeSvg(s, 16)), h('span', label('status', s)), h('b', number(counts[s], 0)))));
}

function renderScope() {
  const chip = $('#map-scope');
  const scope = state.scope;
  chip.hidden = !scope;
  if (!scope) return;
  fill(chip, h('span', [scope.ward, scope.district].filter(Boolean).join(', ')),
    h('button.btn.btn--small.btn--ghost', { type: 'button', on: { click: () => setScope(null) } }, t('whole_city'), ' ✕'));
}

function renderLive() {
  const el = $('#live');
  el.dataset.state = state.live || 'closed';
  el.textContent = t(`live_${state.live || 'closed'}`);
  el.title = state.lastEventAt ? `${t('last_event')} ${clock(state.lastEventAt, true)}` : '';
}

/** The operations screen for ``me``; ``sites`` is the early request for them (null: ask now). */
async function start(me, sites = Promise.resolve(null)) {
  state.me = me;
  setSession(me);
  whenUnauthorised(() => {
    if (!me.username) return; // a public (anonymous) screen simply lacks what needs a login
    localStorage.removeItem(SESSION_HINT);
    toast(t('session_ended'), 'error');
    setTimeout(() => location.reload(), 1500);
  });
  const app = $('#app');
  app.hidden = false;
  document.body.dataset.role = me.role;
  $('#user-name').textContent = me.username || t('anonymous');
  $('#user-role').textContent = label('role', me.role);
  const logout = $('#logout');
  logout.onclick = async () => { await api.logout().catch(() => null); localStorage.removeItem(SESSION_HINT); location.reload(); };
  if (!me.username) { // public read: offer to sign in instead
    logout.dataset.i18n = 'sign_in';
    logout.onclick = () => { $('#app').hidden = true; showLogin(); };
  }
  $('#help-open').onclick = () => helpDialog();
  applyStatic();

  const tabs = new Tabs(['alerts', 'areas', 'devices', 'silences']);
  const cityMap = new CityMap($('#map'), state.config);
  new SitePanel($('#site-panel'));
  const alertConsole = new AlertConsole($('#view-alerts'));
  new AreasView($('#view-areas'));
  const devices = new DevicesView($('#view-devices'), $('#devices-badge'));
  const silences = new SilencesView($('#view-silences'));
  const notifier = new Notifier({ toggle: $('#sound-toggle'), tabBadge: $('#alerts-badge') });
  tabs.onSelect = (name) => { if (name === 'silences') silences.load().catch(() => null); if (name === 'alerts') notifier.seen(); };
  $('#view-alerts').addEventListener('pointerdown', () => notifier.seen());
  $('#view-alerts').addEventListener('focusin', () => notifier.seen());
  installShortcuts({
    tabs, console: alertConsole, notifier,
    toggleLanguage: () => { setLanguage(language() === 'vi' ? 'en' : 'vi'); languageSwitches(); },
  });
  window.__urbanpulse = { map: cityMap, state }; // for the browser tests and the benchmark

  let areasTimer = null;
  const refreshAreas = () => {
    if (areasTimer) return;
    areasTimer = setTimeout(() => { areasTimer = null; api.areas().then(setAreas).catch(() => null); }, AREAS_REFRESH_MS);
  };
  on('areas', renderKpis);
  on('sites', renderLegend);
  on('site', () => { renderLegend(); refreshAreas(); });
  on('device', refreshAreas);
  on('scope', renderScope);
  on('live', renderLive);
  on('live:event', renderLive);
  on('alert', ({ alert, isNew }) => {
    if (isNew) {
      notifier.alertArrived(alert, `${t('new_alert')}: ${label('rule', alert.rule)} · ${alert.site_name || alert.subject}`);
    }
    notifier.renderTitle();
    refreshAreas();
  });
  onLanguage(() => { renderKpis(); renderLegend(); renderScope(); renderLive(); notifier.renderToggle(); notifier.renderTitle(); $('#user-role').textContent = label('role', me.role); });
  setInterval(() => { const now = new Date(); $('#clock').textContent = `${clock(now, true)} ${t('zone_short')}`; $('#clock').title = t('zone_name'); }, 1000);

  connect(); // first, so nothing that changes while we load is missed
  performance.mark('urbanpulse:map-created');
  // The map needs only the sites: everything else loads beside it and never holds it up.
  Promise.all([hearing('alert', () => api.alerts({ state: OPEN_STATES, limit: 1000 }).catch(() => ({ items: [] }))),
    alertConsole.reload()])
    .then(([[open, heard]]) => {
      setAlerts(open.items, heard);
      notifier.renderTitle();
      document.body.dataset.alertsReady = 'true'; // both alert lists are in: the tests' cue to change alerts
    });
  setSites(...await hearing('site', async () => (await sites) || api.mapSites()));
  performance.mark('urbanpulse:data');
  await cityMap.ready;
  performance.mark('urbanpulse:map-drawn');
  $('#map-loading').hidden = true;
  document.body.dataset.ready = 'true'; // the map has drawn its sites: what the tests and the benchmark wait for
  emit('ready');
  if (!canOperate()) document.body.classList.add('read-only');
  // What the map does not need: the city summary, device health and the site panel's chart code,
  // fetched once the map has drawn its sites rather than competing with it for the CPU (the API's
  // answers for them take it a few hundred ms). The map's district names come with the sites.
  api.areas().then(setAreas).catch(() => null);
  devices.load().catch(() => null);
  import('./chart.js').catch(() => null);
  setInterval(() => { devices.load().catch(() => null); refreshAreas(); }, DEVICES_REFRESH_MS);
  setInterval(() => { hearing('site', () => api.mapSites()).then(([list, heard]) => setSites(list, heard)).catch(() => null); },
    SITES_REFRESH_MS);
}

boot().catch((err) => {
  console.error(err);
  fill($('#boot'), h('p.form-error', `${t('start_failed')}: ${err.message}`));
});
