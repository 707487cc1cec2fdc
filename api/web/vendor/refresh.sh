#!/usr/bin/env bash
# Refresh the dashboard's vendored front-end files from the pinned npm packages.
#
#   api/web/vendor/refresh.sh          # npm ci from package-lock.json, then copy into ../static/vendor
#
# Node.js is needed only here, never to run the dashboard: the copied files are plain ES modules,
# CSS and fonts that the API serves as they are. To move to a new version, edit package.json,
# run `npm install` here (updates package-lock.json), run this script, update THIRD_PARTY.md's
# versions, and commit all of it.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
out=../static/vendor
rm -rf "$out/maplibre-gl" "$out/uplot" "$out/fonts"
mkdir -p "$out/maplibre-gl" "$out/uplot" "$out/fonts"

m=node_modules/maplibre-gl
cp "$m/dist/maplibre-gl.mjs" "$m/dist/maplibre-gl-worker.mjs" "$m/dist/maplibre-gl.css" "$m/LICENSE.txt" "$out/maplibre-gl/"

u=node_modules/uplot
cp "$u/dist/uPlot.esm.js" "$u/dist/uPlot.min.css" "$u/LICENSE" "$out/uplot/"

f=node_modules/@fontsource/be-vietnam-pro
for weight in 400 500 600 700; do
  for subset in latin latin-ext vietnamese; do
    cp "$f/files/be-vietnam-pro-$subset-$weight-normal.woff2" "$out/fonts/"
  done
done
cp "$f/LICENSE" "$out/fonts/OFL.txt"

# Versions actually installed, for THIRD_PARTY.md and the test that checks it.
node -e '
const p = (n) => require("./node_modules/" + n + "/package.json");
const names = Object.keys(require("./package.json").dependencies);
for (const n of names) console.log(n + "@" + p(n).version + " " + p(n).license);
' > "$out/VERSIONS.txt"
cat "$out/VERSIONS.txt"
