// The libraries the app uses, loaded from web/node_modules by URL (the
// server maps /lib/<package>/ there): preact renders, htm writes its markup
// as tagged templates, so the app needs no build step. Chart.js is loaded by
// index.html as its UMD build (its ES module build imports "@kurkle/color"
// by a bare name, which a browser resolves only through an import map, and
// an inline import map is blocked by the Content-Security-Policy).
import { h, render, Component, Fragment, createRef } from '/lib/preact/dist/preact.module.js';
import htm from '/lib/htm/dist/htm.module.js';

export const html = htm.bind(h);
export { h, render, Component, Fragment, createRef };

// Chart.js's constructor (window.Chart, set by chart.umd.min.js).
export function ChartJs() {
  if (!window.Chart) throw new Error('Chart.js did not load (/lib/chart.js/dist/chart.umd.min.js)');
  return window.Chart;
}
