// Tiny DOM helpers. Text always goes in as text nodes, never as HTML, so nothing an API or a
// sensor name carries can inject markup.

/** h('div.cls#id', {attrs, on: {click}}, ...children) -> element. */
export function h(tag, attrs, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const el = document.createElement(name || 'div');
  for (const part of rest) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** An SVG element from markup we write ourselves (icons), never from data. */
export function svg(markup) {
  const template = document.createElement('template');
  template.innerHTML = markup.trim();
  return template.content.firstElementChild;
}

/** Run fn at most once per animation frame, with the latest arguments. */
export function perFrame(fn) {
  let queued = false;
  let last = [];
  return (...args) => {
    last = args;
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(...last); });
  };
}

/** A passing message in the corner for ``ms``; the handle can change its text and lifetime. */
export function toast(message, kind = 'info', ms = 5000) {
  const host = document.getElementById('toasts');
  if (!host) return null;
  const el = h(`div.toast.toast--${kind}`, message);
  host.append(el);
  let timer = setTimeout(() => el.remove(), ms);
  return {
    get shown() { return el.isConnected; },
    /** New text, shown for ``again`` from now (a toast that keeps a running count). */
    update(text, again = ms) {
      el.textContent = text;
      clearTimeout(timer);
      timer = setTimeout(() => el.remove(), again);
    },
  };
}
