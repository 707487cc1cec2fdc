// The first requests of a page load, started as soon as this small module runs: index.html loads
// it on its own (async), so the configuration, the session check and the sites are on their way
// while the rest of the modules and MapLibre are still being fetched and compiled, instead of
// one after another once they are (docs/benchmarks.md, "first load"). app.js imports the same
// promises (one module instance per page). Nothing here touches the DOM.
import { api } from './api.js';

// Set while this browser holds a session, so a first visit goes straight to the login page
// instead of asking /auth/me for a 401 (which the browser would log as a failed request).
export const SESSION_HINT = 'urbanpulse.session';
export const DEFAULT_CONFIG = Object.freeze({ map: {}, default_language: 'vi', anonymous_read: false });

const signedIn = !!localStorage.getItem(SESSION_HINT);

/** GET /api/v1/config (public), or the defaults when it cannot be read. */
export const config = api.config().catch(() => DEFAULT_CONFIG);

/** Who is signed in, or null (no session hint, or the session ended: the hint is dropped). */
export const me = signedIn
  ? api.me().catch(() => { localStorage.removeItem(SESSION_HINT); return null; })
  : Promise.resolve(null);

/** Every site as the map draws it, when a session is likely; null otherwise (the caller asks again once signed in). */
export const sites = signedIn ? api.mapSites().catch(() => null) : Promise.resolve(null);
