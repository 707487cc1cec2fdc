// Closed vocabularies of the screen, each in one table: site status (worst first), alert
// severity and state. Shapes pair with colours so that no state is told by colour alone.

/** Site status, worst first (the API's order: alarm > watch > offline > stale > normal). */
export const STATUSES = Object.freeze(['alarm', 'watch', 'offline', 'stale', 'normal']);
/** rank: higher is worse; clusters take the maximum of their members. */
export const STATUS_RANK = Object.freeze({ normal: 0, stale: 1, offline: 2, watch: 3, alarm: 4 });
export const RANK_STATUS = Object.freeze(Object.fromEntries(Object.entries(STATUS_RANK).map(([k, v]) => [v, k])));

export const STATUS_STYLE = Object.freeze({
  alarm: { color: '#d55e00', ink: '#ffffff', shape: 'diamond' },
  watch: { color: '#f0e442', ink: '#1d1d1d', shape: 'triangle' },
  offline: { color: '#6c7680', ink: '#ffffff', shape: 'square' },
  stale: { color: '#a3adb8', ink: '#1d1d1d', shape: 'ring' },
  normal: { color: '#009e73', ink: '#ffffff', shape: 'circle' },
});

export const SEVERITIES = Object.freeze(['extreme', 'severe', 'moderate', 'minor']);
export const SEVERITY_RANK = Object.freeze({ minor: 1, moderate: 2, severe: 3, extreme: 4 });

export const ALERT_STATES = Object.freeze(['firing', 'pending', 'acknowledged', 'resolved', 'expired']);
export const OPEN_STATES = Object.freeze(['pending', 'firing', 'acknowledged']);

/** Metric kinds the forecast service forecasts (forecasting/service.py: water level and traffic). */
export const FORECAST_KINDS = Object.freeze(['water_level', 'traffic_count', 'traffic_speed']);

export const KINDS = Object.freeze([
  'forecast_exceedance', 'threshold', 'rate_of_rise', 'congestion', 'stale', 'flatline', 'spike',
  'rate_of_change', 'drift', 'offline', 'backlog', 'clock',
]);

/** Order of the console: most severe first, then newest. */
export function alertOrder(a, b) {
  return (SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity])
    || ((b.fired_at || b.pending_since) > (a.fired_at || a.pending_since) ? 1 : -1)
    || (b.alert_id - a.alert_id);
}

/** The status shape as SVG markup (legend, lists, panel); the map draws the same shapes on canvas. */
export function shapeSvg(status, size = 16) {
  const { color, shape } = STATUS_STYLE[status] || STATUS_STYLE.normal;
  const s = size;
  const body = {
    circle: `<circle cx="8" cy="8" r="5.5" fill="${color}" stroke="#fff" stroke-width="1.5"/>`,
    triangle: `<path d="M8 1.5 15 14H1z" fill="${color}" stroke="#1d1d1d" stroke-width="1.2" stroke-linejoin="round"/>`,
    diamond: `<path d="M8 .8 15.2 8 8 15.2.8 8z" fill="${color}" stroke="#fff" stroke-width="1.3"/><path d="M8 4.3v4.6" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/><circle cx="8" cy="11.4" r="1.1" fill="#fff"/>`,
    square: `<rect x="2" y="2" width="12" height="12" rx="2" fill="${color}" stroke="#fff" stroke-width="1.2"/><path d="M5.3 5.3l5.4 5.4M10.7 5.3l-5.4 5.4" stroke="#fff" stroke-width="1.6" stroke-linecap="round"/>`,
    ring: `<circle cx="8" cy="8" r="5" fill="#0c1218" stroke="${color}" stroke-width="2.6" stroke-dasharray="3.2 1.8"/>`,
  }[shape];
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" width="${s}" height="${s}" aria-hidden="true" focusable="false">${body}</svg>`;
}
