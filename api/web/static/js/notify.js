// Telling the operator something new happened: a badge in the page title (and on the alerts tab),
// a toast, and, once the operator has switched it on, a chime made with WebAudio (no sound file).
// A storm raises alerts in bursts: past a few toasts the rest are counted in one, and a burst
// chimes once (again only for a more severe alert), so the screen stays usable and quiet enough.
import { svg, toast } from './dom.js';
import { t } from './i18n.js';
import { state } from './store.js';
import { OPEN_STATES } from './status.js';

const SOUND_KEY = 'urbanpulse.sound';
const ALERT_TOASTS = 3; // new-alert toasts shown one by one; more at once are counted in one toast
const ALERT_TOAST_MS = 8000;
const CHIME_GAP_MS = 2000; // alerts this close to the last chime are part of its burst
const BASE_TITLE = 'UrbanPulse';
const BELL = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path d="M6 16V11a6 6 0 0 1 12 0v5l2 2H4z" fill="currentColor"/><path d="M10 20a2 2 0 0 0 4 0" stroke="currentColor" stroke-width="2" fill="none"/></svg>';
const BELL_OFF = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path d="M6 16V11a6 6 0 0 1 12 0v5l2 2H4z" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M3 3l18 18" stroke="currentColor" stroke-width="2"/></svg>';

export class Notifier {
  constructor({ toggle, tabBadge }) {
    this.toggle = toggle;
    this.tabBadge = tabBadge;
    this.unseen = 0;
    this.chimes = 0;
    this.toasts = []; // the new-alert toasts on screen
    this.more = null; // the toast counting the rest of a burst, and its count
    this.moreCount = 0;
    this.lastChime = { at: -Infinity, insistent: false };
    this.audio = null;
    this.enabled = localStorage.getItem(SOUND_KEY) === 'on';
    toggle.addEventListener('click', () => this.setSound(!this.enabled));
    // Browsers start audio only after a gesture: resume on the first one if sound was left on.
    const wake = () => { if (this.enabled) this.context(); };
    document.addEventListener('pointerdown', wake, { once: true });
    document.addEventListener('keydown', wake, { once: true });
    window.addEventListener('focus', () => { if (document.visibilityState === 'visible') this.seen(); });
    this.renderToggle();
    this.renderTitle();
  }

  context() {
    if (!this.audio) this.audio = new AudioContext();
    if (this.audio.state === 'suspended') this.audio.resume();
    return this.audio;
  }

  setSound(on) {
    this.enabled = on;
    localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
    if (on) this.chime('minor'); // the click is the gesture that lets audio start; play a sample
    this.renderToggle();
  }

  renderToggle() {
    this.toggle.setAttribute('aria-pressed', String(this.enabled));
    this.toggle.replaceChildren(svg(this.enabled ? BELL : BELL_OFF));
    this.toggle.title = this.enabled ? t('sound_on') : t('sound_off');
    this.toggle.setAttribute('aria-label', this.toggle.title);
  }

  /** A new alert arrived on the stream; ``text`` says what it is. */
  alertArrived(alert, text) {
    if (!OPEN_STATES.includes(alert.state)) return;
    this.unseen += 1;
    this.renderTitle();
    this.announce(text);
    if (this.enabled) this.alertChime(alert.severity);
  }

  announce(text) {
    this.toasts = this.toasts.filter((x) => x && x.shown);
    if (this.more && this.more.shown) {
      this.moreCount += 1;
      this.more.update(t('more_new_alerts', { n: this.moreCount }), ALERT_TOAST_MS);
    } else if (this.toasts.length < ALERT_TOASTS) {
      this.toasts.push(toast(text, 'alert', ALERT_TOAST_MS));
    } else {
      this.moreCount = 1;
      this.more = toast(t('more_new_alerts', { n: 1 }), 'alert', ALERT_TOAST_MS);
    }
  }

  alertChime(severity) {
    const now = performance.now();
    const insistent = severity === 'severe' || severity === 'extreme';
    const last = this.lastChime;
    if (now - last.at < CHIME_GAP_MS && (last.insistent || !insistent)) return;
    this.lastChime = { at: now, insistent };
    this.chime(severity);
  }

  /** The operator has looked: clear the title badge. */
  seen() {
    if (!this.unseen) return;
    this.unseen = 0;
    this.renderTitle();
  }

  renderTitle() {
    const unacked = [...state.alerts.values()].filter((a) => OPEN_STATES.includes(a.state) && !a.acked_at).length;
    document.title = this.unseen ? `(${this.unseen}) ${t('title_new')} · ${BASE_TITLE}` : BASE_TITLE;
    this.tabBadge.hidden = unacked === 0;
    this.tabBadge.textContent = String(unacked);
    this.tabBadge.title = t('unacked_count', { n: unacked });
  }

  /** Two or three falling tones; more insistent for severe and extreme alerts. */
  chime(severity) {
    const ctx = this.context();
    const notes = severity === 'severe' || severity === 'extreme' ? [988, 784, 988, 784] : [880, 660];
    const start = ctx.currentTime + 0.02;
    notes.forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      const at = start + i * 0.18;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.18);
    });
    this.chimes += 1;
    document.body.dataset.chimes = String(this.chimes); // read by the browser tests
  }
}
