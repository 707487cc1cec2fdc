#!/usr/bin/env bash
# Rebuild the dashboard's offline base map of Ho Chi Minh City (../static/basemap/hcmc.geojson).
#
# Source: GSHHG 2.3 full resolution (Wessel & Smith), shipped by Debian's gmt-gshhg-full and read
# through GMT: shorelines as a land/water mask (water, the Saigon and Dong Nai rivers where they
# are wide enough to be polygons, the Can Gio estuaries) and WDBII river lines. Licence: LGPL-3.0
# or later (see ../static/basemap/SOURCE.md). Only the developer who refreshes the map needs these
# tools; the output is committed (about 100 KB) and the dashboard needs nothing at run time.
#
#   apt-get install gmt gmt-gshhg-full gdal-bin python3-gdal && api/web/basemap/build.sh
set -euo pipefail
out=$(cd "$(dirname "$0")/../static/basemap" && pwd)/hcmc.geojson
REGION=106.30/107.10/10.30/11.25   # west/east/south/north: the city and its rim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # GMT leaves its history file in the working directory

# Water polygons: a 1-arc-second (about 30 m) mask of the full-resolution shorelines, traced into
# polygons and simplified to about 25 m.
gmt grdlandmask -R$REGION -I1s -Df -N0/1/0/1/0 -G"$work/mask.nc=nb"
gdal_polygonize.py -q "$work/mask.nc" -f GeoJSON "$work/traced.geojson" water value
ogr2ogr -f GeoJSON -where "value = 0" -simplify 0.00025 -lco COORDINATE_PRECISION=5 -lco RFC7946=YES \
  "$work/water.geojson" "$work/traced.geojson"

# River lines (WDBII classes: 0 double-lined, 1-4 rivers by importance, 8-10 canals).
gmt coast -R$REGION -Df -Ia -M > "$work/rivers.txt"

python3 - "$work/water.geojson" "$work/rivers.txt" "$out" <<'PY'
import json
import sys

water_path, rivers_path, out_path = sys.argv[1:]
features = [
    {"type": "Feature", "properties": {"layer": "water"}, "geometry": f["geometry"]}
    for f in json.load(open(water_path))["features"]
]
level, line = None, []

def flush():
    if level is not None and len(line) > 1:
        features.append({"type": "Feature", "properties": {"layer": "river", "class": level},
                         "geometry": {"type": "LineString", "coordinates": line}})

for text in open(rivers_path):
    if text.startswith(">"):
        flush()
        level, line = int(text.rsplit(" ", 1)[1]), []
    elif text.strip():
        lon, lat = map(float, text.split()[:2])
        line.append([round(lon, 5), round(lat, 5)])
flush()
collection = {"type": "FeatureCollection",
              "source": "GSHHG 2.3 full resolution (shorelines, WDBII rivers) via GMT; LGPL-3.0-or-later",
              "features": features}
with open(out_path, "w") as out:
    json.dump(collection, out, separators=(",", ":"))
print(out_path, sum(f["properties"]["layer"] == "water" for f in features), "water polygons,",
      sum(f["properties"]["layer"] == "river" for f in features), "river lines")
PY
