// The screen's one source of truth: what the API said last, updated by the live stream.
// Views subscribe to named topics and re-render from here; nothing else holds copies.
import { OPEN_STATES } from './status.js';

const topics = new Map();

export const state = {
  config: null,
  me: null,
  // device_id -> GeoJSON Feature: from the map's list, properties {name, status, district, ward}; a site
  // the live stream has told of since carries every property of /api/v1/sites (the panel reads those).
  sites: new Map(),
  alerts: new Map(), // alert_id -> Alert (open ones, plus closed ones we have seen change)
  devices: new Map(), // device_id -> device row
  areas: null,
  scope: null, // {district, ward, bbox} the operator drilled into, or null for the city
  selectedSite: null,
  lastEventAt: null,
};

export function on(topic, fn) {
  if (!topics.has(topic)) topics.set(topic, new Set());
  topics.get(topic).add(fn);
  return () => topics.get(topic).delete(fn);
}

export function emit(topic, payload) {
  for (const fn of topics.get(topic) || []) {
    try { fn(payload); } catch (err) { console.error(err); } // one broken view must not stop the others
  }
}

export const canOperate = () => !!state.me && (state.me.role === 'operator' || state.me.role === 'admin');

/**
 * Reads a list the stream also keeps current: ``load()``'s answer and the stream's events of ``topic``
 * heard while it was on its way. The API reads the list at one moment and answers a moment later; an
 * event that arrives in between may be newer than the answer (its change committed after the read),
 * so it is laid over the answer, in order, instead of being lost until the next event.
 */
export async function hearing(topic, load) {
  const heard = [];
  const off = on(topic, (payload) => heard.push(payload));
  try {
    return [await load(), heard];
  } finally {
    off();
  }
}

/** The map's list of sites (/api/v1/map/sites: one array per site, in the order of its fields), with the
 * whole sites the stream sent while it loaded (``hearing``). */
export function setSites(list, heard = []) {
  const at = Object.fromEntries(list.fields.map((name, i) => [name, i]));
  state.sites = new Map(list.sites.map((row) => {
    const id = String(row[at.id]);
    const lon = row[at.lon], lat = row[at.lat];
    return [id, {
      type: 'Feature', id,
      geometry: lon === null || lat === null ? null : { type: 'Point', coordinates: [lon, lat] },
      properties: { status: row[at.status], name: row[at.name], district: row[at.district], ward: row[at.ward] },
    }];
  }));
  for (const feature of heard) state.sites.set(String(feature.id), feature);
  emit('sites');
}

export function upsertSite(feature) {
  state.sites.set(String(feature.id), feature);
  emit('site', feature);
}

/** The open alerts, with the stream's word on alerts while they loaded (``hearing``). */
export function setAlerts(items, heard = []) {
  state.alerts = new Map(items.map((a) => [a.alert_id, a]));
  for (const { alert, removed } of heard) {
    if (removed) state.alerts.delete(alert.alert_id); else state.alerts.set(alert.alert_id, alert);
  }
  emit('alerts');
}

/** An alert as the stream tells of it. Returns true when the alert is new to this screen. */
export function upsertAlert(alert) {
  const known = state.alerts.get(alert.alert_id);
  if (alert.deleted) {
    state.alerts.delete(alert.alert_id);
    emit('alert', { alert, isNew: false, removed: true });
    return false;
  }
  state.alerts.set(alert.alert_id, alert);
  const isNew = !known && OPEN_STATES.includes(alert.state);
  emit('alert', { alert, isNew, before: known });
  return isNew;
}

/** The device rows, with the rows the stream sent while they loaded (``hearing``). */
export function setDevices(rows, heard = []) {
  state.devices = new Map(rows.map((d) => [d.device_id, d]));
  for (const row of heard) state.devices.set(row.device_id, row);
  emit('devices');
}

export function upsertDevice(row) {
  state.devices.set(row.device_id, row);
  emit('device', row);
}

export function setAreas(areas) {
  state.areas = areas;
  emit('areas');
}

export function setScope(scope) {
  state.scope = scope;
  emit('scope', scope);
}

export function selectSite(id) {
  state.selectedSite = id;
  emit('select', id);
}
