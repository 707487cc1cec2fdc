// Vietnamese (default) and English. Strings live in locales/*.js as flat key -> text tables;
// {name} placeholders are filled from the vars object. Switching language re-renders through
// the listeners that views register with onLanguage().
import vi from './locales/vi.js';
import en from './locales/en.js';

const TABLES = { vi, en };
export const LANGUAGES = Object.freeze(['vi', 'en']);
const STORAGE_KEY = 'urbanpulse.lang';
const listeners = new Set();
let current = 'vi';

export function language() { return current; }

/** The language to start with: the operator's last choice, else the server's default. */
export function initLanguage(serverDefault) {
  const saved = localStorage.getItem(STORAGE_KEY);
  current = LANGUAGES.includes(saved) ? saved : (LANGUAGES.includes(serverDefault) ? serverDefault : 'vi');
  applyStatic();
}

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang) || lang === current) return;
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  applyStatic();
  for (const fn of listeners) fn(lang);
}

export function onLanguage(fn) { listeners.add(fn); }

/** t(name, {n: 3}) -> the current language's text, English as fallback, the key as last resort. */
export function t(key, vars) {
  let text = TABLES[current][key] ?? TABLES.en[key] ?? key;
  if (typeof text === 'function') text = text(vars || {});
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return text;
}

/** A label from a closed vocabulary (rule names, metric kinds ...), the raw value when unknown. */
export function label(group, value) {
  if (value === null || value === undefined || value === '') return '—';
  const key = `${group}.${value}`;
  const table = TABLES[current];
  return table[key] ?? TABLES.en[key] ?? String(value);
}

const numberFormats = new Map(); // made once per language and precision: a new Intl.NumberFormat costs ~0.1 ms

export function number(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const key = `${current}:${digits}`;
  let format = numberFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(current === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
    numberFormats.set(key, format);
  }
  return format.format(value);
}

export function percent(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return '—';
  return `${Math.round(p * 100)} %`;
}

/** Texts written in the page itself: data-i18n (text), -title, -aria (aria-label), -placeholder. */
export function applyStatic(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}
