// One sensor's chart (uPlot): the last 24 h observed with QC-flagged points marked, the latest
// forecast's mean with its 80 % and 95 % bands, the alarm threshold, "now", and under it the
// probability of crossing the threshold. Times on the axis are Ho Chi Minh City time.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { number, t } from './i18n.js';
import { clock, ZONE } from './time.js';

const INK = '#e8eef4';
const GRID = 'rgba(154, 172, 189, 0.12)';
const AXIS = '#9aacbd';
export const COLORS = Object.freeze({
  observed: '#e8eef4',
  forecast: '#5cc8ff',
  band80: 'rgba(92, 200, 255, 0.32)',
  band95: 'rgba(92, 200, 255, 0.14)',
  threshold: '#ff7a2e',
  suspect: '#f0e442',
  fail: '#ff5a4e',
  now: 'rgba(232, 238, 244, 0.45)',
  probability: '#d55e00',
});

const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), ZONE);
const secs = (iso) => Date.parse(iso) / 1000;

/** Observed and forecast series on one time axis; alignment gaps are undefined (spanned), real gaps null. */
export function alignSeries(readings, forecast) {
  const obsT = readings ? readings.time.map(secs) : [];
  const mean = readings ? readings.mean : [];
  const qc = readings ? readings.qc || [] : [];
  const suspect = mean.map((v, i) => (qc[i] === 3 ? v : null));
  const fail = mean.map((v, i) => (qc[i] === 4 ? v : null));
  const observed = [obsT, mean, suspect, fail];
  if (!forecast) return uPlot.join([observed], [[1, 1, 1]]).concat([[], [], [], [], [], []].map(() => obsT.map(() => undefined)));
  const fT = forecast.time.map(secs);
  const fc = [fT, forecast.mean, forecast.lower_80, forecast.upper_80, forecast.lower_95, forecast.upper_95,
    forecast.exceed_probability ? forecast.exceed_probability.map((p) => (p === null ? null : p * 100)) : fT.map(() => null)];
  return uPlot.join([observed, fc], [[1, 1, 1], [1, 1, 1, 1, 1, 1]]);
}

function axisTime() {
  return {
    stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID },
    values: (u, splits) => splits.map((s) => clock(new Date(s * 1e3))),
    font: '11px "Be Vietnam Pro", sans-serif',
  };
}

function thresholdPlugin(threshold, nowTs) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u;
        ctx.save();
        ctx.textAlign = 'left'; // uPlot leaves the alignment of its last axis label
        ctx.textBaseline = 'alphabetic';
        if (nowTs !== null) {
          const x = Math.round(u.valToPos(nowTs, 'x', true));
          if (x >= bbox.left && x <= bbox.left + bbox.width) {
            ctx.strokeStyle = COLORS.now; ctx.lineWidth = 1 * devicePixelRatio; ctx.setLineDash([2 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath(); ctx.moveTo(x, bbox.top); ctx.lineTo(x, bbox.top + bbox.height); ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = AXIS; ctx.font = `${10 * devicePixelRatio}px "Be Vietnam Pro", sans-serif`;
            ctx.fillText(t('now'), x + 4 * devicePixelRatio, bbox.top + 11 * devicePixelRatio);
          }
        }
        if (threshold !== null && threshold !== undefined && u.scales.y.min !== undefined) {
          const y = Math.round(u.valToPos(threshold, 'y', true));
          ctx.strokeStyle = COLORS.threshold; ctx.lineWidth = 2 * devicePixelRatio; ctx.setLineDash([7 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath(); ctx.moveTo(bbox.left, y); ctx.lineTo(bbox.left + bbox.width, y); ctx.stroke();
          ctx.setLineDash([]);
          ctx.font = `600 ${10 * devicePixelRatio}px "Be Vietnam Pro", sans-serif`;
          const text = `${t('threshold')} ${number(threshold)}`;
          const w = ctx.measureText(text).width;
          const x = bbox.left + 4 * devicePixelRatio;
          const above = y - 15 * devicePixelRatio > bbox.top;
          const ty = above ? y - 4 * devicePixelRatio : y + 13 * devicePixelRatio;
          ctx.fillStyle = 'rgba(18, 26, 34, 0.85)';
          ctx.fillRect(x - 2 * devicePixelRatio, ty - 10 * devicePixelRatio, w + 4 * devicePixelRatio, 13 * devicePixelRatio);
          ctx.fillStyle = COLORS.threshold;
          ctx.fillText(text, x, ty);
        }
        ctx.restore();
      }],
    },
  };
}

/**
 * Draw a sensor's chart into el (replacing what was there). Returns {main, probability, destroy}.
 * threshold: the alarm level (null: none); unit: shown on the y axis.
 */
export function sensorChart(el, { readings, forecast, threshold, unit, width, hours = 24 }) {
  const data = alignSeries(readings, forecast);
  const nowTs = Date.now() / 1000;
  const w = Math.max(260, width || el.clientWidth || 480);
  const hasForecast = !!forecast;
  const points = (stroke, fill, size) => ({ show: true, size, stroke, fill, width: 1.5 });
  const mainData = data.slice(0, 9);
  const main = new uPlot({
    width: w, height: 190, tzDate, pxAlign: 0,
    padding: [10, 8, 0, 0],
    cursor: { sync: { key: el.id || 'sensor' }, points: { size: 6 } },
    legend: { show: false },
    scales: {
      x: { time: true, range: (u, min, max) => [Math.max(min, nowTs - hours * 3600), max] },
      y: {
        range: (u, min, max) => {
          const lo = Math.min(min ?? 0, threshold ?? Infinity);
          const hi = Math.max(max ?? 1, threshold ?? -Infinity);
          const pad = (hi - lo || Math.abs(hi) || 1) * 0.12;
          return [lo - pad, hi + pad];
        },
      },
    },
    axes: [axisTime(), {
      stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID }, size: 48,
      label: unit, labelSize: 14, labelFont: '11px "Be Vietnam Pro", sans-serif', font: '11px "Be Vietnam Pro", sans-serif',
      values: (u, splits) => splits.map((v) => number(v)),
    }],
    series: [
      {},
      { label: t('observed'), stroke: COLORS.observed, width: 1.6, points: { show: false } },
      { label: t('qc_suspect'), stroke: COLORS.suspect, paths: () => null, points: points(COLORS.suspect, '#0c1218', 7) },
      { label: t('qc_fail'), stroke: COLORS.fail, paths: () => null, points: points(COLORS.fail, COLORS.fail, 7) },
      { label: t('forecast_mean'), show: hasForecast, stroke: COLORS.forecast, width: 2, dash: [6, 4], points: { show: false } },
      { label: 'lower 80', show: hasForecast, stroke: 'transparent', points: { show: false } },
      { label: 'upper 80', show: hasForecast, stroke: 'transparent', points: { show: false } },
      { label: 'lower 95', show: hasForecast, stroke: 'transparent', points: { show: false } },
      { label: 'upper 95', show: hasForecast, stroke: 'transparent', points: { show: false } },
    ],
    bands: hasForecast ? [
      { series: [8, 7], fill: COLORS.band95 },
      { series: [6, 5], fill: COLORS.band80 },
    ] : [],
    plugins: [thresholdPlugin(threshold, nowTs)],
  }, mainData, el);
  el.uplot = main; // read by the browser tests to check what was drawn
  el.dataset.threshold = threshold ?? '';
  el.dataset.forecastPoints = hasForecast ? String(forecast.time.length) : '0';

  let probability = null;
  if (hasForecast && forecast.exceed_probability && threshold !== null && threshold !== undefined) {
    const strip = document.createElement('div');
    strip.className = 'chart-prob';
    el.after(strip);
    probability = new uPlot({
      width: w, height: 78, tzDate,
      padding: [8, 8, 6, 0],
      cursor: { sync: { key: el.id || 'sensor' }, points: { show: false } },
      legend: { show: false },
      scales: { x: { time: true, range: () => [main.scales.x.min, main.scales.x.max] }, p: { range: [0, 100] } },
      axes: [{ ...axisTime(), show: false }, {
        scale: 'p', stroke: AXIS, grid: { stroke: GRID }, ticks: { show: false }, size: 48, splits: () => [0, 50, 100], gap: 2,
        values: (u, s) => s.map((v) => `${v}%`), font: '10px "Be Vietnam Pro", sans-serif',
        label: t('p_exceed_short'), labelSize: 14, labelFont: '10px "Be Vietnam Pro", sans-serif',
      }],
      series: [{}, {
        scale: 'p', label: t('p_exceed'), stroke: COLORS.probability, width: 1.6,
        fill: 'rgba(213, 94, 0, 0.25)', paths: uPlot.paths.stepped({ align: 1 }), points: { show: false },
      }],
    }, [data[0], data[9]], strip);
    strip.uplot = probability;
  }
  return {
    main, probability,
    destroy() {
      main.destroy();
      if (probability) { probability.root.parentElement.remove(); probability.destroy(); }
    },
    resize(width) {
      main.setSize({ width, height: 190 });
      if (probability) probability.setSize({ width, height: 78 });
    },
  };
}

/** The chart's key, as DOM (colours match what is drawn). */
export function chartLegend(hasForecast, hasThreshold) {
  const items = [['observed', COLORS.observed], ['qc_suspect', COLORS.suspect], ['qc_fail', COLORS.fail]];
  if (hasForecast) items.push(['forecast_mean', COLORS.forecast], ['band_80', COLORS.band80], ['band_95', COLORS.band95]);
  if (hasThreshold) items.push(['threshold', COLORS.threshold]);
  const wrap = document.createElement('div');
  wrap.className = 'chart-legend';
  for (const [key, color] of items) {
    const span = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = color;
    span.append(swatch, t(key));
    wrap.append(span);
  }
  return wrap;
}

export { INK };
