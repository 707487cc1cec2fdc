// One modal dialog for the whole page (<dialog>: focus is trapped and Esc closes it natively).
import { fill, h } from './dom.js';
import { t } from './i18n.js';

/**
 * ask({title, intro, fields: [{name, label, type: 'textarea'|'text', value, required, list}], submit, danger})
 * -> Promise of {name: value} when confirmed, null when cancelled.
 */
export function ask({ title, intro, fields = [], submit, danger = false, extra = null }) {
  const dialog = document.getElementById('dialog');
  return new Promise((resolve) => {
    const inputs = fields.map((f) => {
      const id = `dialog-${f.name}`;
      const input = f.type === 'textarea'
        ? h('textarea', { id, name: f.name, rows: 3, maxlength: 2000, required: !!f.required }, f.value || '')
        : h('input', { id, name: f.name, value: f.value || '', required: !!f.required, autocomplete: 'off', list: f.list || null });
      return [h('label', { for: id }, f.label), input];
    });
    const form = h('form', { method: 'dialog' },
      h('h2#dialog-title', title),
      intro ? h('p', intro) : null,
      inputs.flat(),
      extra,
      h('div.buttons',
        h('button.btn', { type: 'button', value: 'cancel', on: { click: () => dialog.close('cancel') } }, t('cancel')),
        h(`button.btn.${danger ? 'btn--danger' : 'btn--primary'}`, { type: 'submit', value: 'ok' }, submit || t('confirm'))));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      dialog.close('ok');
    });
    fill(dialog, form);
    dialog.onclose = () => {
      const ok = dialog.returnValue === 'ok';
      const values = Object.fromEntries(fields.map((f) => [f.name, form.elements[f.name].value.trim()]));
      dialog.onclose = null;
      resolve(ok ? values : null);
    };
    dialog.returnValue = '';
    dialog.showModal();
    const first = form.querySelector('textarea, input') || form.querySelector('button[type="submit"]');
    first.focus();
  });
}

/** A dialog that only shows something (the keyboard shortcuts). */
export function show(title, body) {
  const dialog = document.getElementById('dialog');
  const close = h('button.btn.btn--primary', { type: 'submit', value: 'ok' }, t('close'));
  fill(dialog, h('form', { method: 'dialog' }, h('h2#dialog-title', title), body, h('div.buttons', close)));
  dialog.onclose = null;
  dialog.showModal();
  close.focus();
}
