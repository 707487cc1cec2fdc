// The city map: MapLibre GL with a bundled offline base map (or the production style/tiles from
// /api/v1/config), every site as a marker shaped and coloured by its worst state, and clusters
// that take the worst state of their members. 10,000 sites stay smooth: clustering runs in
// MapLibre's worker and live updates are batched to one setData per animation frame.
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { clusterImages, PIXEL_RATIO, siteImages } from './icons.js';
import { label, t } from './i18n.js';
import { perFrame, svg as svgElement } from './dom.js';
import { RANK_STATUS, shapeSvg, STATUS_RANK, STATUS_STYLE } from './status.js';
import { emit, on, selectSite, state } from './store.js';

export const CITY_CENTER = [106.7, 10.79];
const CITY_BOUNDS = [[106.1, 10.1], [107.3, 11.45]];
const FONT = ['Be Vietnam Pro'];
const BASE_ATTRIBUTION = 'Shorelines, rivers: <a href="/static/basemap/SOURCE.md">GSHHG</a> (LGPL-3.0)';

/** Start MapLibre's worker now (it takes a while to fetch and compile), not when the map is made. */
export function warmUp() { maplibregl.prewarm(); }

/** The bundled base map: GSHHG water and rivers of Ho Chi Minh City, no network needed. */
function offlineStyle(tileUrl, tileAttribution) {
  const style = {
    version: 8,
    sources: {
      // maxzoom 9: the data is simplified to ~25 m, which a z9 tile holds (~10 m a unit), so the
      // worker cuts 1-2 tiles for the whole city once instead of new ones at every zoom.
      base: { type: 'geojson', data: '/static/basemap/hcmc.geojson', attribution: BASE_ATTRIBUTION, maxzoom: 9 },
    },
    layers: [
      { id: 'land', type: 'background', paint: { 'background-color': '#1a232d' } },
      {
        id: 'water', type: 'fill', source: 'base', filter: ['==', ['get', 'layer'], 'water'],
        paint: { 'fill-color': '#0f3350', 'fill-outline-color': '#24587f' },
      },
      {
        id: 'rivers', type: 'line', source: 'base',
        filter: ['all', ['==', ['get', 'layer'], 'river'], ['>', ['get', 'class'], 0]],
        layout: { 'line-join': 'round', 'line-cap': 'round' },
        paint: {
          'line-color': '#24587f',
          'line-width': ['interpolate', ['linear'], ['zoom'], 9, ['match', ['get', 'class'], [1, 2, 3], 1.4, 0.7],
            14, ['match', ['get', 'class'], [1, 2, 3], 4, 2]],
        },
      },
    ],
  };
  if (tileUrl) {
    style.sources.tiles = { type: 'raster', tiles: [tileUrl], tileSize: 256, attribution: tileAttribution || '' };
    style.layers.splice(1, 0, { id: 'tiles', type: 'raster', source: 'tiles', paint: { 'raster-opacity': 0.85 } });
  }
  return style;
}

/** API Feature -> the flat properties the map's expressions read. */
function mapFeature(f) {
  const p = f.properties;
  return {
    type: 'Feature',
    id: String(f.id),
    geometry: f.geometry,
    properties: {
      id: String(f.id), status: p.status, rank: STATUS_RANK[p.status] ?? 0, name: p.name || String(f.id),
      district: p.district || '', ward: p.ward || '',
    },
  };
}

export class CityMap {
  constructor(container, config) {
    const map = config && config.map ? config.map : {};
    this.map = new maplibregl.Map({
      container,
      style: map.style_url || offlineStyle(map.tile_url, map.attribution),
      center: CITY_CENTER,
      zoom: 10.6,
      minZoom: 8.5,
      maxZoom: 18,
      maxBounds: map.style_url || map.tile_url ? undefined : CITY_BOUNDS,
      attributionControl: { compact: false, customAttribution: map.style_url ? map.attribution || undefined : undefined },
      dragRotate: false,
      fadeDuration: 0, // a changed marker shows at once: an operations screen has no use for the fade
      pitchWithRotate: false,
      localIdeographFontFamily: 'sans-serif',
    });
    this.map.touchZoomRotate.disableRotation();
    this.holdFrames();
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
    // Each source goes in when its data first exists, not empty at the start and again with the
    // data (the worker would cluster and cut tiles twice, and MapLibre draw each wave): the sites
    // as soon as both the style and the sites are here, so base map and sites load in one wave.
    this.styled = false;
    this.sitesSet = false;
    this.map.once('style.load', () => { performance.mark('urbanpulse:style'); this.styled = true; this.install(); });
    on('sites', () => { this.sitesSet = true; this.full = true; this.push(); });
    on('site', (f) => { this.dirty.add(String(f.id)); this.push(); });
    on('select', (id) => this.showSelected(id));
    on('scope', (scope) => this.showScope(scope));
    /** Resolves once the first list of sites is in the map and drawn (the first idle frame after it). */
    this.ready = new Promise((resolve) => { this.drawn = resolve; });
    this.push = perFrame(() => this.pushSites());
    this.dirty = new Set(); // sites changed since the last push: sent as a diff, not all 10,000 again
    this.full = true;
    this.known = new Set();
    // Re-clustering 10,000 sites takes MapLibre's worker a moment; meanwhile each changed site is
    // drawn at once as a DOM marker on top (ringed: "just changed"), until the clusters catch up.
    this.live = new Map(); // id -> {feature, marker}
    this.popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 14, maxWidth: '280px' });
  }

  install() {
    const map = this.map;
    for (const [name, image] of Object.entries({ ...siteImages(), ...clusterImages() })) {
      map.addImage(name, image, { pixelRatio: PIXEL_RATIO });
    }
    this.pushSites();
    this.showScope(state.scope, false);
  }

  /** Sets a GeoJSON source's data, adding the source (and its layers, below the sites') the first time. */
  setSource(id, data, layers) {
    const source = this.map.getSource(id);
    if (source) { source.setData(data); return; }
    this.map.addSource(id, { type: 'geojson', data });
    for (const layer of layers) this.map.addLayer(layer, this.map.getLayer('clusters') ? 'clusters' : undefined);
  }

  /**
   * Draws nothing until the base map and the sites are loaded, then one complete frame. MapLibre
   * draws a frame for each batch of tiles that arrives (about ten while the city loads), and
   * without a GPU each costs 150-300 ms: the frame is computed on the CPU and, with software
   * compositing, read back from WebGL (docs/benchmarks.md). MapLibre has no option for it, so this
   * wraps its painter's draw call (vendored, pinned version; without it the map simply draws every
   * frame); tiles, placement and events go on as before.
   */
  holdFrames() {
    const painter = this.map.painter;
    if (!painter || typeof painter.render !== 'function') return;
    const draw = painter.render.bind(painter);
    painter.render = (...args) => {
      if (!this.map.getSource('sites') || !this.map.loaded()) return;
      painter.render = draw;
      draw(...args);
    };
  }

  installSites(data) {
    const map = this.map;
    map.addSource('sites', {
      type: 'geojson',
      data,
      cluster: true,
      clusterRadius: 42,
      clusterMaxZoom: 14,
      clusterProperties: {
        worst: ['max', ['get', 'rank']],
        alarms: ['+', ['case', ['==', ['get', 'rank'], STATUS_RANK.alarm], 1, 0]],
      },
    });
    const statusOf = ['match', ['get', 'worst'], ...Object.entries(RANK_STATUS).flatMap(([r, s]) => [Number(r), s]), 'normal'];
    map.addLayer({
      id: 'clusters', type: 'symbol', source: 'sites', filter: ['has', 'point_count'],
      layout: {
        'icon-image': ['concat', 'cluster-', statusOf],
        'icon-size': ['interpolate', ['linear'], ['get', 'point_count'], 2, 0.8, 50, 1.05, 500, 1.35, 5000, 1.7],
        'icon-allow-overlap': true, 'text-allow-overlap': true,
        'symbol-sort-key': ['get', 'worst'],
        'text-field': ['get', 'point_count_abbreviated'], 'text-font': FONT, 'text-size': 12,
        'text-offset': ['match', ['get', 'worst'], STATUS_RANK.watch, ['literal', [0, 0.3]], ['literal', [0, 0]]],
      },
      paint: {
        'text-color': ['match', ['get', 'worst'], STATUS_RANK.watch, '#1d1d1d', STATUS_RANK.stale, '#e8eef4', '#ffffff'],
      },
    });
    map.addLayer({ // how many members are in alarm, beside a cluster that holds any
      id: 'cluster-alarms', type: 'symbol', source: 'sites', filter: ['all', ['has', 'point_count'], ['>', ['get', 'alarms'], 0]],
      layout: {
        'text-field': ['concat', '! ', ['to-string', ['get', 'alarms']]], 'text-font': FONT, 'text-size': 11,
        'text-offset': [1.6, -1.4], 'text-allow-overlap': true, 'icon-allow-overlap': true,
      },
      paint: { 'text-color': '#ffffff', 'text-halo-color': STATUS_STYLE.alarm.color, 'text-halo-width': 3 },
    });
    map.addLayer({
      id: 'selected', type: 'circle', source: 'sites', filter: ['==', ['get', 'id'], ''],
      paint: { 'circle-radius': 17, 'circle-color': 'rgba(92, 200, 255, 0.12)', 'circle-stroke-color': '#5cc8ff', 'circle-stroke-width': 2.5 },
    });
    map.addLayer({
      id: 'sites', type: 'symbol', source: 'sites', filter: ['!', ['has', 'point_count']],
      layout: {
        'icon-image': ['concat', 'site-', ['get', 'status']],
        'icon-allow-overlap': true, 'icon-ignore-placement': true,
        'symbol-sort-key': ['get', 'rank'], 'symbol-z-order': 'source',
      },
    });
    map.addLayer({
      id: 'site-names', type: 'symbol', source: 'sites', minzoom: 14, filter: ['!', ['has', 'point_count']],
      layout: {
        'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 12, 'text-offset': [0, 1.3], 'text-anchor': 'top',
        'text-optional': true, 'symbol-sort-key': ['-', 10, ['get', 'rank']],
      },
      paint: { 'text-color': '#dfe7ee', 'text-halo-color': '#0c1218', 'text-halo-width': 1.4 },
    });
    this.bindEvents();
    this.showSelected(state.selectedSite, false);
  }

  bindEvents() {
    const map = this.map;
    map.on('click', 'clusters', async (e) => {
      const feature = e.features[0];
      const zoom = await map.getSource('sites').getClusterExpansionZoom(feature.properties.cluster_id);
      map.easeTo({ center: feature.geometry.coordinates, zoom: Math.min(zoom + 0.2, 18) });
    });
    map.on('click', 'sites', (e) => { selectSite(e.features[0].properties.id); emit('focus-panel'); });
    for (const layer of ['clusters', 'sites']) {
      map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
      map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; this.popup.remove(); });
    }
    const siteTip = (e) => {
      const p = e.features[0].properties;
      const el = document.createElement('div');
      el.className = 'map-tip';
      const b = document.createElement('b'); b.textContent = p.name;
      const s = document.createElement('span');
      s.textContent = `${label('status', p.status)} · ${[p.ward, p.district].filter(Boolean).join(', ')}`;
      el.append(b, s);
      this.popup.setLngLat(e.features[0].geometry.coordinates).setDOMContent(el).addTo(map);
    };
    map.on('mousemove', 'sites', siteTip);
    map.on('mousemove', 'clusters', (e) => {
      const p = e.features[0].properties;
      const el = document.createElement('div');
      el.className = 'map-tip';
      el.textContent = t('cluster_tip', { n: p.point_count, worst: label('status', RANK_STATUS[p.worst]), alarms: p.alarms });
      this.popup.setLngLat(e.features[0].geometry.coordinates).setDOMContent(el).addTo(map);
    });
  }

  pushSites() {
    if (!this.styled || !this.sitesSet) return;
    const source = this.map.getSource('sites');
    if (this.full) {
      const features = [];
      for (const f of state.sites.values()) if (f.geometry) features.push(mapFeature(f));
      const data = { type: 'FeatureCollection', features };
      this.pushDistricts();
      if (source) source.setData(data);
      else {
        this.installSites(data);
        this.map.once('idle', this.drawn); // 'idle': every tile of the sites and the base map loaded and drawn
      }
      this.known = new Set(features.map((f) => f.id));
    } else if (this.dirty.size) {
      const add = [], update = [], remove = [];
      for (const id of this.dirty) {
        const f = state.sites.get(id);
        if (!f || !f.geometry) { if (this.known.delete(id)) remove.push(id); continue; }
        const feature = mapFeature(f);
        if (this.known.has(id)) {
          update.push({ id, newGeometry: feature.geometry,
            addOrUpdateProperties: Object.entries(feature.properties).map(([key, value]) => ({ key, value })) });
        } else {
          add.push(feature);
          this.known.add(id);
        }
      }
      const batch = new Map([...this.dirty].map((id) => [id, state.sites.get(id)]));
      for (const [id, f] of batch) if (f && f.geometry) this.showLive(id, f);
      source.updateData({ add, update, remove }).then(() => this.map.once('idle', () => {
        for (const [id, f] of batch) if (state.sites.get(id) === f) this.hideLive(id); // unless changed again since
      }));
    }
    this.full = false;
    this.dirty.clear();
  }

  showLive(id, f) {
    const status = f.properties.status;
    let entry = this.live.get(id);
    if (!entry) {
      const el = document.createElement('button');
      el.type = 'button';
      el.className = 'live-marker';
      el.addEventListener('click', (e) => { e.stopPropagation(); selectSite(id); emit('focus-panel'); });
      entry = { marker: new maplibregl.Marker({ element: el }).setLngLat(f.geometry.coordinates).addTo(this.map) };
      this.live.set(id, entry);
    }
    entry.status = status;
    const el = entry.marker.getElement();
    el.dataset.status = status;
    el.setAttribute('aria-label', `${f.properties.name || id}: ${label('status', status)}`);
    el.replaceChildren(svgElement(shapeSvg(status, 22)));
    entry.marker.setLngLat(f.geometry.coordinates);
  }

  hideLive(id) {
    const entry = this.live.get(id);
    if (entry) entry.marker.remove();
    this.live.delete(id);
  }

  /** District names at the centre of each district's sites, in the same wave as the sites. */
  pushDistricts() {
    const boxes = new Map(); // district -> [west, south, east, north]
    for (const f of state.sites.values()) {
      const district = f.properties.district;
      if (!district || !f.geometry) continue;
      const [lon, lat] = f.geometry.coordinates;
      const b = boxes.get(district);
      if (!b) { boxes.set(district, [lon, lat, lon, lat]); continue; }
      b[0] = Math.min(b[0], lon); b[1] = Math.min(b[1], lat); b[2] = Math.max(b[2], lon); b[3] = Math.max(b[3], lat);
    }
    const features = [...boxes].map(([name, b]) => ({
      type: 'Feature', geometry: { type: 'Point', coordinates: [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] }, properties: { name },
    }));
    this.setSource('districts', { type: 'FeatureCollection', features }, [{
      id: 'district-labels', type: 'symbol', source: 'districts', maxzoom: 13.5,
      layout: {
        'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 13, 'text-letter-spacing': 0.04,
        'text-transform': 'uppercase', 'text-allow-overlap': false, 'text-padding': 6,
      },
      paint: { 'text-color': '#7d93a8', 'text-halo-color': '#1a232d', 'text-halo-width': 1.5 },
    }]);
  }

  showSelected(id, move = true) {
    if (!this.map.getLayer('selected')) return;
    this.map.setFilter('selected', ['all', ['!', ['has', 'point_count']], ['==', ['get', 'id'], id || '']]);
    const f = id ? state.sites.get(String(id)) : null;
    if (move && f && f.geometry) {
      const zoom = Math.max(this.map.getZoom(), 12.5);
      // keep the site clear of the panel that opens over the left of the map
      const left = Math.min(580, this.map.getContainer().clientWidth * 0.55);
      this.map.easeTo({ center: f.geometry.coordinates, zoom, padding: { left, right: 0, top: 0, bottom: 0 }, duration: 600 });
    }
  }

  showScope(scope, move = true) {
    if (!this.styled) return;
    if (!scope || !scope.bbox) {
      if (this.map.getSource('scope')) this.map.getSource('scope').setData({ type: 'FeatureCollection', features: [] });
      if (move) this.map.easeTo({ center: CITY_CENTER, zoom: 10.6, padding: 0 });
      return;
    }
    const [w, s, e, n] = scope.bbox;
    const pad = 0.004;
    this.setSource('scope', {
      type: 'Feature', properties: {},
      geometry: { type: 'LineString', coordinates: [[w - pad, s - pad], [e + pad, s - pad], [e + pad, n + pad], [w - pad, n + pad], [w - pad, s - pad]] },
    }, [{
      id: 'scope-outline', type: 'line', source: 'scope',
      paint: { 'line-color': '#5cc8ff', 'line-width': 1.5, 'line-dasharray': [3, 2] },
    }]);
    if (move) this.map.fitBounds([[w - pad, s - pad], [e + pad, n + pad]], { padding: 60, maxZoom: 15, duration: 700 });
  }

  /** Status of a rendered site marker (for tests and the benchmark): what the map draws now. */
  renderedStatus(id) {
    const live = this.live.get(String(id));
    if (live && live.marker.getElement().isConnected) return live.status;
    const hits = this.map.queryRenderedFeatures({ layers: ['sites'] }).filter((f) => f.properties.id === String(id));
    return hits.length ? hits[0].properties.status : null;
  }

  resize() { this.map.resize(); }
}
