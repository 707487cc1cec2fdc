// Marker images for the map, drawn once on a canvas: one per site status and one per cluster
// status, in the same shapes as the legend (status.js), so shape tells the state as well as colour.
import { STATUS_STYLE } from './status.js';

const RATIO = 2; // drawn at twice the size for sharp edges on high-density screens

/** Path of a status shape centred in a box of side s (in CSS pixels). */
function shapePath(ctx, shape, s) {
  const c = s / 2;
  ctx.beginPath();
  switch (shape) {
    case 'diamond': ctx.moveTo(c, 1); ctx.lineTo(s - 1, c); ctx.lineTo(c, s - 1); ctx.lineTo(1, c); ctx.closePath(); break;
    case 'triangle': ctx.moveTo(c, 1.5); ctx.lineTo(s - 1.5, s - 2.5); ctx.lineTo(1.5, s - 2.5); ctx.closePath(); break;
    case 'square': ctx.roundRect(2, 2, s - 4, s - 4, s / 7); break;
    default: ctx.arc(c, c, c - 2, 0, Math.PI * 2);
  }
}

function draw(size, paint) {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size * RATIO;
  const ctx = canvas.getContext('2d');
  ctx.scale(RATIO, RATIO);
  paint(ctx, size);
  return ctx.getImageData(0, 0, size * RATIO, size * RATIO);
}

function mark(ctx, shape, s, ink) {
  const c = s / 2;
  ctx.strokeStyle = ink;
  ctx.fillStyle = ink;
  ctx.lineCap = 'round';
  if (shape === 'diamond') { // "!"
    ctx.lineWidth = s / 9;
    ctx.beginPath(); ctx.moveTo(c, s * 0.27); ctx.lineTo(c, s * 0.56); ctx.stroke();
    ctx.beginPath(); ctx.arc(c, s * 0.71, s / 15, 0, Math.PI * 2); ctx.fill();
  } else if (shape === 'square') { // "x"
    ctx.lineWidth = s / 10;
    const a = s * 0.33, b = s * 0.67;
    ctx.beginPath(); ctx.moveTo(a, a); ctx.lineTo(b, b); ctx.moveTo(b, a); ctx.lineTo(a, b); ctx.stroke();
  }
}

const SITE_SIZE = { alarm: 24, watch: 20, offline: 15, stale: 15, normal: 13 };

/** Site markers: 'site-<status>'. */
export function siteImages() {
  const images = {};
  for (const [status, style] of Object.entries(STATUS_STYLE)) {
    images[`site-${status}`] = draw(SITE_SIZE[status], (ctx, s) => {
      if (style.shape === 'ring') {
        ctx.beginPath(); ctx.arc(s / 2, s / 2, s / 2 - 2.5, 0, Math.PI * 2);
        ctx.fillStyle = '#0c1218'; ctx.fill();
        ctx.setLineDash([3, 2]); ctx.lineWidth = 2.6; ctx.strokeStyle = style.color; ctx.stroke();
        return;
      }
      shapePath(ctx, style.shape, s);
      ctx.fillStyle = style.color; ctx.fill();
      ctx.lineJoin = 'round';
      ctx.lineWidth = 1.6; ctx.strokeStyle = style.shape === 'triangle' ? '#1d1d1d' : '#ffffff'; ctx.stroke();
      mark(ctx, style.shape, s, style.ink);
    });
  }
  return images;
}

/** Cluster backgrounds: 'cluster-<worst status>', the worst member's shape with room for a count. */
export function clusterImages() {
  const images = {};
  const s = 40;
  for (const [status, style] of Object.entries(STATUS_STYLE)) {
    images[`cluster-${status}`] = draw(s, (ctx) => {
      const shape = style.shape === 'ring' ? 'circle' : style.shape;
      // a soft halo so clusters read as groups, then the shape
      ctx.save(); shapePath(ctx, shape, s); ctx.fillStyle = hexA(style.color, 0.28); ctx.fill(); ctx.restore();
      ctx.save(); ctx.translate(s * 0.14, s * (shape === 'triangle' ? 0.18 : 0.14)); ctx.scale(0.72, 0.72);
      shapePath(ctx, shape, s);
      ctx.fillStyle = style.shape === 'ring' ? '#0c1218' : style.color; ctx.fill();
      if (style.shape === 'ring') { ctx.setLineDash([5, 3]); ctx.lineWidth = 3.5; ctx.strokeStyle = style.color; }
      else { ctx.lineWidth = 2; ctx.strokeStyle = style.shape === 'triangle' ? '#1d1d1d' : '#ffffff'; }
      ctx.lineJoin = 'round'; ctx.stroke(); ctx.restore();
    });
  }
  return images;
}

function hexA(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export const PIXEL_RATIO = RATIO;
