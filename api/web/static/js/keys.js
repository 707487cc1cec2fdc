// Keyboard shortcuts for the whole screen (shown with "?"). Keys are ignored while typing in a
// field or while a dialog is open, so they never eat text.
import { ask, show } from './dialog.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { emit, selectSite, setScope, state } from './store.js';

export const SHORTCUTS = Object.freeze([
  ['1 – 4', 'key_tabs'], ['/', 'key_search'], ['j / k', 'key_next_prev'], ['Enter', 'key_open'], ['x', 'key_select'],
  ['a', 'key_ack'], ['g', 'key_goto'], ['c', 'key_city'], ['Esc', 'key_close'], ['m', 'key_sound'], ['l', 'key_lang'], ['?', 'key_help'],
]);

function typing(e) {
  const el = e.target;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName) || document.getElementById('dialog').open;
}

export function helpDialog() {
  show(t('shortcuts'), h('dl.keys', SHORTCUTS.map(([k, key]) => [h('dt', h('kbd', k)), h('dd', t(key))])));
}

async function gotoSite() {
  const names = [...state.sites.values()].map((f) => f.properties.name || String(f.id));
  const list = h('datalist#site-names', names.slice(0, 5000).map((n) => h('option', { value: n })));
  const values = await ask({ title: t('goto_site'), fields: [{ name: 'site', label: t('site_name_or_id'), list: 'site-names', required: true }], submit: t('go'), extra: list });
  if (!values) return;
  const q = values.site.toLowerCase();
  const hit = [...state.sites.values()].find((f) => String(f.id).toLowerCase() === q || (f.properties.name || '').toLowerCase() === q)
    || [...state.sites.values()].find((f) => (f.properties.name || '').toLowerCase().includes(q));
  if (hit) { selectSite(String(hit.id)); emit('focus-panel'); }
}

export function installShortcuts({ tabs, console: alertConsole, notifier, toggleLanguage }) {
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    const inList = e.target.closest && e.target.closest('.alert-list');
    if (inList && ['j', 'k', 'x', 'a', 'Enter', 'ArrowUp', 'ArrowDown'].includes(e.key)) return; // the list handles these
    const tabKeys = { 1: 'alerts', 2: 'areas', 3: 'devices', 4: 'silences' };
    if (tabKeys[e.key]) { tabs.select(tabKeys[e.key], true); }
    else if (e.key === '/') { e.preventDefault(); tabs.select('alerts'); alertConsole.focusSearch(); }
    else if (e.key === 'j') { tabs.select('alerts'); alertConsole.focusFirst(); }
    else if (e.key === 'g') { e.preventDefault(); gotoSite(); }
    else if (e.key === 'c') { setScope(null); }
    else if (e.key === 'm') { notifier.setSound(!notifier.enabled); }
    else if (e.key === 'l') { toggleLanguage(); }
    else if (e.key === '?') { helpDialog(); }
    else if (e.key === 'Escape') { if (state.selectedSite) selectSite(null); else if (state.scope) setScope(null); }
    else return;
  });
}
