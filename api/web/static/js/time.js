// Times: the API speaks UTC (ISO 8601, Z); people read Asia/Ho_Chi_Minh, and the page says so.
import { language, t } from './i18n.js';

export const ZONE = 'Asia/Ho_Chi_Minh';
const cache = new Map();

function formatter(kind) {
  const key = `${language()}:${kind}`;
  if (!cache.has(key)) {
    const locale = language() === 'vi' ? 'vi-VN' : 'en-GB';
    const options = {
      time: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
      seconds: { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
      date: { day: '2-digit', month: '2-digit' },
      full: { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
    }[kind];
    cache.set(key, new Intl.DateTimeFormat(locale, { ...options, timeZone: ZONE }));
  }
  return cache.get(key);
}

export const parse = (iso) => (iso ? new Date(iso) : null);

/** '14:05' in Ho Chi Minh City time. */
export function clock(iso, seconds = false) {
  const d = iso instanceof Date ? iso : parse(iso);
  return d ? formatter(seconds ? 'seconds' : 'time').format(d) : '—';
}

/** '01/12/2026, 14:05' in Ho Chi Minh City time. */
export function full(iso) {
  const d = iso instanceof Date ? iso : parse(iso);
  return d ? formatter('full').format(d) : '—';
}

/** '14:05' today, '30/11 14:05' otherwise (both in Ho Chi Minh City time). */
export function short(iso, now = new Date()) {
  const d = iso instanceof Date ? iso : parse(iso);
  if (!d) return '—';
  const sameDay = formatter('date').format(d) === formatter('date').format(now);
  return sameDay ? clock(d) : `${formatter('date').format(d)} ${clock(d)}`;
}

/** '12 min ago' / '3 h ago' from seconds. */
export function ago(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, seconds);
  if (s < 60) return t('ago_s', { n: Math.round(s) });
  if (s < 3600) return t('ago_min', { n: Math.round(s / 60) });
  if (s < 86400 * 2) return t('ago_h', { n: Math.round(s / 3600) });
  return t('ago_d', { n: Math.round(s / 86400) });
}

export function since(iso, now = Date.now()) {
  const d = parse(iso);
  return d ? ago((now - d.getTime()) / 1000) : '—';
}

/** A <time> element: the readable text with the full time (and zone) on hover and for machines. */
export function timeEl(iso, text) {
  const el = document.createElement('time');
  if (!iso) { el.textContent = '—'; return el; }
  el.dateTime = iso;
  el.title = `${full(iso)} (${t('zone_name')})`;
  el.textContent = text ?? short(iso);
  return el;
}
