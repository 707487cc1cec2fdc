// The live stream (Server-Sent Events, /api/v1/events). The browser's EventSource reconnects by
// itself and sends Last-Event-ID, so the API replays what was missed; we only show the state.
import { emit, state, upsertAlert, upsertDevice, upsertSite } from './store.js';

let source = null;

function parse(event) {
  try { return JSON.parse(event.data); } catch { return null; }
}

export function connect() {
  if (source) source.close();
  setState('connecting');
  source = new EventSource('/api/v1/events', { withCredentials: true });
  source.onopen = () => setState('open');
  source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
  const seen = (handler) => (event) => {
    const data = parse(event);
    if (data === null) return;
    state.lastEventAt = new Date();
    handler(data);
    emit('live:event', event.type);
  };
  source.addEventListener('alert', seen((alert) => upsertAlert(alert)));
  source.addEventListener('site', seen((feature) => upsertSite(feature)));
  source.addEventListener('device', seen((row) => upsertDevice(row)));
  source.addEventListener('forecast', seen((issue) => emit('forecast', issue)));
}

export function disconnect() {
  if (source) source.close();
  source = null;
  setState('closed');
}

function setState(value) {
  state.live = value;
  emit('live', value);
}
