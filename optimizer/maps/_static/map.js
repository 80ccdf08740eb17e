/* Service-network map: draws one solution on a Leaflet map from its JSON data blob.
 *
 * Part of the optimizer package (optimizer/maps). Every text shown comes from the
 * blob and is put on the page with textContent (or escaped for Leaflet's layer
 * control, which takes HTML): data never becomes markup or code. Cells are drawn
 * from one PNG per layer, cut into canvas tiles, so that a national grid stays light.
 */
(function () {
  "use strict";
  if (window.snopt) {
    return;
  }

  var SIZES = { full: 18, remote: 16, closed: 14, unused: 10 };
  var Z = { unused: 0, closed: 100, remote: 200, full: 300 };
  var R = 6378137;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"'`]/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }

  function table(rows) {
    var t = el("table");
    rows.forEach(function (pair) {
      var tr = el("tr");
      tr.appendChild(el("th", null, pair[0]));
      tr.appendChild(el("td", null, pair[1]));
      t.appendChild(tr);
    });
    return t;
  }

  function latOfY(y) {
    return (2 * Math.atan(Math.exp(y / R)) - Math.PI / 2) * 180 / Math.PI;
  }

  /* --- cells drawn from one image, cut into canvas tiles --------------------------- */

  var Raster = null;

  function rasterLayer(src, bounds, options) {
    if (Raster === null) {
      Raster = L.GridLayer.extend({
        initialize: function (source, imageBounds, opts) {
          this._source = source;
          this._imageBounds = L.latLngBounds(imageBounds);
          L.GridLayer.prototype.initialize.call(
            this, L.extend({ bounds: this._imageBounds }, opts)
          );
        },
        _picture: function () {
          if (!this._img) {
            this._img = new Image();
            this._img.src = this._source;
          }
          return this._img;
        },
        createTile: function (coords, done) {
          var tile = document.createElement("canvas");
          var size = this.getTileSize();
          var self = this;
          var img = this._picture();
          tile.width = size.x;
          tile.height = size.y;
          function paint() {
            self._paint(tile, coords, img);
            done(null, tile);
          }
          if (img.complete && img.naturalWidth) {
            window.setTimeout(paint, 0);
          } else {
            img.addEventListener("load", paint, { once: true });
            img.addEventListener("error", function () {
              done(new Error("cell image failed to load"), tile);
            }, { once: true });
          }
          return tile;
        },
        _paint: function (tile, coords, img) {
          var map = this._map;
          var size = this.getTileSize();
          var nw = map.project(this._imageBounds.getNorthWest(), coords.z);
          var se = map.project(this._imageBounds.getSouthEast(), coords.z);
          var sx = img.naturalWidth / (se.x - nw.x);
          var sy = img.naturalHeight / (se.y - nw.y);
          var x0 = (coords.x * size.x - nw.x) * sx;
          var y0 = (coords.y * size.y - nw.y) * sy;
          var cx0 = Math.max(0, x0);
          var cy0 = Math.max(0, y0);
          var cx1 = Math.min(img.naturalWidth, x0 + size.x * sx);
          var cy1 = Math.min(img.naturalHeight, y0 + size.y * sy);
          if (cx1 <= cx0 || cy1 <= cy0) {
            return;
          }
          var ctx = tile.getContext("2d");
          ctx.imageSmoothingEnabled = sx > 1;
          ctx.drawImage(
            img, cx0, cy0, cx1 - cx0, cy1 - cy0,
            (cx0 - x0) / sx, (cy0 - y0) / sy, (cx1 - cx0) / sx, (cy1 - cy0) / sy
          );
        }
      });
    }
    return new Raster(src, bounds, options);
  }

  /* --- per-map state: one layer control, one legend, one banner strip --------------- */

  function mapState(map) {
    if (map._snopt) {
      return map._snopt;
    }
    var st = { count: 0, active: null, overlaysOn: [] };
    st.control = L.control.layers(null, null, { collapsed: false, position: "topright" });
    st.control.addTo(map);
    st.legend = L.control({ position: "bottomright" });
    st.legend.onAdd = function () {
      st.legendBox = el("div", "snopt-legend");
      L.DomEvent.disableClickPropagation(st.legendBox);
      L.DomEvent.disableScrollPropagation(st.legendBox);
      return st.legendBox;
    };
    st.legend.addTo(map);
    st.banners = el("div", "snopt-banners");
    map.getContainer().appendChild(st.banners);
    map.on("baselayerchange", function (e) {
      st.active = e.layer;
      renderLegend(st);
    });
    map.on("overlayadd overlayremove", function () {
      renderLegend(st);
    });
    map._snopt = st;
    return st;
  }

  function renderLegend(st) {
    var box = st.legendBox;
    var layer = st.active;
    box.textContent = "";
    if (layer && layer._snoptLegend) {
      var legend = layer._snoptLegend;
      box.appendChild(el("div", "snopt-legend-title", layer._snoptName));
      box.appendChild(el("div", "snopt-legend-unit", legend.title === layer._snoptName ? "" : legend.title));
      legend.items.forEach(function (item) {
        var row = el("div", "snopt-legend-row");
        var swatch = el("span", "snopt-swatch");
        if (item[0]) {
          swatch.style.background = item[0];
        } else {
          swatch.className += " snopt-swatch-empty";
        }
        row.appendChild(swatch);
        row.appendChild(el("span", null, item[1]));
        box.appendChild(row);
      });
      if (legend.note) {
        box.appendChild(el("div", "snopt-legend-note", legend.note));
      }
    }
    var owner = (layer && layer._snoptOwner) || st.first;
    if (owner && owner.cells && layer && layer._snoptLegend) {
      box.appendChild(el("div", "snopt-legend-note", owner.labels.legend_click));
    }
    if (owner && owner.symbols.length) {
      box.appendChild(el("div", "snopt-legend-title snopt-legend-points", owner.labels.legend_points));
      owner.symbols.forEach(function (symbol) {
        var row = el("div", "snopt-legend-row");
        var holder = el("span", "snopt-swatch-icon");
        holder.appendChild(el("span", symbol.cls));
        row.appendChild(holder);
        row.appendChild(el("span", null, symbol.label));
        box.appendChild(row);
      });
    }
  }

  /* --- panel and banners --------------------------------------------------------- */

  function addPanel(map, panel) {
    var control = L.control({ position: "topleft" });
    control.onAdd = function () {
      var box = el("div", "snopt-panel snopt-title");
      var details = el("details");
      details.open = true;
      details.appendChild(el("summary", "snopt-heading", panel.title));
      if (panel.description) {
        details.appendChild(el("div", "snopt-description", panel.description));
      }
      if (panel.rows.length) {
        var t = el("table", "snopt-headline");
        if (panel.columns.length) {
          var head = el("tr");
          head.appendChild(el("th"));
          panel.columns.forEach(function (c) {
            head.appendChild(el("th", "snopt-col", c));
          });
          t.appendChild(head);
        }
        panel.rows.forEach(function (row) {
          var tr = el("tr", row.heading ? "snopt-group" : null);
          var th = el("th", null, row.label);
          if (row.heading) {
            th.colSpan = panel.columns.length + 1;
          }
          tr.appendChild(th);
          row.values.forEach(function (v) {
            tr.appendChild(el("td", null, v));
          });
          t.appendChild(tr);
        });
        details.appendChild(t);
      }
      box.appendChild(details);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    control.addTo(map);
  }

  function addBanners(st, banners) {
    banners.forEach(function (banner) {
      var box = el("div", "snopt-banner snopt-banner-" + banner.kind);
      box.appendChild(el("strong", null, banner.title));
      banner.lines.forEach(function (line) {
        box.appendChild(el("div", null, line));
      });
      st.banners.appendChild(box);
    });
  }

  /* --- sites ------------------------------------------------------------------------ */

  function addSites(map, st, data, suffix) {
    var groups = {};
    data.groups.forEach(function (g) {
      groups[g.kind] = L.layerGroup().addTo(map);
      st.control.addOverlay(groups[g.kind], escapeHtml(g.name + suffix));
    });
    data.sites.forEach(function (s) {
      var size = SIZES[s.kind] || 12;
      var marker = L.marker([s.lat, s.lon], {
        icon: L.divIcon({
          className: s.cls,
          html: "",
          iconSize: [size, size],
          iconAnchor: [size / 2, size / 2]
        }),
        zIndexOffset: Z[s.kind] || 0
      });
      var name = el("span", null, s.name);
      if (s.label) {
        marker.bindTooltip(name, {
          permanent: true, direction: "right", offset: [size / 2, 0], className: "snopt-label"
        });
      } else {
        marker.bindTooltip(name, { direction: "top", offset: [0, -size / 2] });
      }
      marker.bindPopup(function () {
        var box = el("div", "snopt-popup");
        box.appendChild(el("div", "snopt-popup-title", s.name));
        box.appendChild(table(s.popup));
        return box;
      }, { maxWidth: 340 });
      marker._snoptSite = s.id;
      marker.addTo(groups[s.kind]);
    });
    var labelled = data.sites.filter(function (s) { return s.label; }).length;
    function labels() {
      var hide = labelled > 40 && map.getZoom() < 8;
      map.getContainer().classList.toggle("snopt-hide-labels", hide);
    }
    map.on("zoomend", labels);
    labels();
  }

  /* --- cell details on click ---------------------------------------------------------- */

  function cellFinder(cells) {
    var n = cells.x.length;
    var maxY = -Infinity;
    for (var i = 0; i < n; i++) {
      if (cells.y[i] !== null && cells.y[i] > maxY) {
        maxY = cells.y[i];
      }
    }
    var size = cells.side / Math.cos(latOfY(maxY) * Math.PI / 180);
    var buckets = new Map();
    for (var k = 0; k < n; k++) {
      if (cells.x[k] === null) {
        continue;
      }
      var key = Math.floor(cells.x[k] / size) + ":" + Math.floor(cells.y[k] / size);
      if (!buckets.has(key)) {
        buckets.set(key, []);
      }
      buckets.get(key).push(k);
    }
    return function (x, y) {
      var bx = Math.floor(x / size);
      var by = Math.floor(y / size);
      var best = -1;
      var bestD = Infinity;
      for (var dx = -1; dx <= 1; dx++) {
        for (var dy = -1; dy <= 1; dy++) {
          var list = buckets.get((bx + dx) + ":" + (by + dy)) || [];
          for (var j = 0; j < list.length; j++) {
            var c = list[j];
            var d = (x - cells.x[c]) * (x - cells.x[c]) + (y - cells.y[c]) * (y - cells.y[c]);
            if (d < bestD) {
              bestD = d;
              best = c;
            }
          }
        }
      }
      var local = 0.75 * cells.side / Math.cos(latOfY(y) * Math.PI / 180);
      return bestD <= local * local ? best : -1;
    };
  }

  function cellDetails(map, st, data, owner) {
    var cells = data.cells;
    var labels = data.labels;
    var find = null;
    var one = new Intl.NumberFormat(data.locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    var whole = new Intl.NumberFormat(data.locale, { maximumFractionDigits: 0 });
    var signed = new Intl.NumberFormat(data.locale, {
      minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero"
    });
    function minutes(v) {
      return v === null ? labels.unreachable : one.format(v);
    }
    map.on("click", function (e) {
      var active = st.active;
      var mine = active && active._snoptOwner ? active._snoptOwner === owner : st.first === owner;
      if (!mine) {
        return;
      }
      if (find === null) {
        find = cellFinder(cells);
      }
      var p = L.CRS.EPSG3857.project(e.latlng);
      var k = find(p.x, p.y);
      if (k < 0) {
        return;
      }
      var rows = [[labels.cell, cells.id[k]], [labels.residents, whole.format(cells.pop[k] || 0)]];
      if (cells.muni && cells.muni[k] >= 0) {
        rows.push([labels.popup_municipality, cells.munis[cells.muni[k]]]);
      }
      if (cells.t_full) {
        rows.push([labels.cell_full_minutes, minutes(cells.t_full[k])]);
      }
      if (cells.t_any) {
        rows.push([labels.cell_any_minutes, minutes(cells.t_any[k])]);
      }
      if (cells.d_full) {
        rows.push([labels.cell_change_full, cells.d_full[k] === null ? "–" : signed.format(cells.d_full[k])]);
      }
      if (cells.d_any) {
        rows.push([labels.cell_change_any, cells.d_any[k] === null ? "–" : signed.format(cells.d_any[k])]);
      }
      if (cells.site && cells.site[k] >= 0) {
        rows.push([labels.cell_site, data.sites[cells.site[k]].name]);
      }
      var box = el("div", "snopt-popup snopt-cell-popup");
      box.appendChild(table(rows));
      L.popup({ maxWidth: 340 }).setLatLng(e.latlng).setContent(box).openOn(map);
    });
  }

  function addLinks(st, data, suffix) {
    var cells = data.cells;
    var group = L.layerGroup();
    var renderer = L.canvas();
    for (var k = 0; k < cells.x.length; k++) {
      var s = cells.site[k];
      if (s >= 0 && cells.pop[k] > 0 && cells.x[k] !== null) {
        var from = L.CRS.EPSG3857.unproject(L.point(cells.x[k], cells.y[k]));
        L.polyline([from, [data.sites[s].lat, data.sites[s].lon]], {
          renderer: renderer, color: "#6a51a3", weight: 1, opacity: 0.6, interactive: false
        }).addTo(group);
      }
    }
    st.control.addOverlay(group, escapeHtml(data.labels.layer_links + suffix));
  }

  /* --- one solution ------------------------------------------------------------------- */

  function draw(map, blobId) {
    var data = JSON.parse(document.getElementById(blobId).textContent);
    var st = mapState(map);
    var suffix = st.count > 0 ? " (" + data.title + ")" : "";
    var owner = { cells: data.cells, labels: data.labels, symbols: data.symbols };
    if (!document.documentElement.lang) {
      document.documentElement.lang = data.lang;
    }
    st.count += 1;
    if (!st.first) {
      st.first = owner;
    }
    var defaultLayer = null;
    data.layers.forEach(function (layer) {
      var raster = rasterLayer(layer.image, data.bounds, {
        opacity: 0.7, zIndex: 5, className: "snopt-raster"
      });
      raster._snoptLegend = layer.legend;
      raster._snoptName = layer.name;
      raster._snoptOwner = owner;
      st.control.addBaseLayer(raster, escapeHtml(layer.name + suffix));
      if (layer.key === data["default"] && st.count === 1) {
        defaultLayer = raster;
      }
    });
    if (!st.none) {
      st.none = L.layerGroup();
      st.control.addBaseLayer(st.none, escapeHtml(data.labels.layer_none));
    }
    data.overlays.forEach(function (layer) {
      var raster = rasterLayer(layer.image, data.bounds, { opacity: 1, zIndex: 6 });
      st.control.addOverlay(raster, escapeHtml(layer.name + suffix));
      raster.addTo(map);
    });
    if (data.boundary) {
      var outline = L.geoJSON(data.boundary.geometry, {
        style: { color: "#000", weight: 2, opacity: 0.8, fill: false },
        interactive: false
      });
      outline.addTo(map);
      st.control.addOverlay(outline, escapeHtml(data.boundary.name + suffix));
    }
    if (data.links) {
      addLinks(st, data, suffix);
    }
    addSites(map, st, data, suffix);
    addPanel(map, data.panel);
    addBanners(st, data.banners);
    if (data.cells) {
      cellDetails(map, st, data, owner);
    }
    if (defaultLayer) {
      defaultLayer.addTo(map);
      st.active = defaultLayer;
    }
    renderLegend(st);
    if (data.fit) {
      fitWhenSized(map, L.latLngBounds(data.fit));
    }
  }

  /* A map fitted while its container has no size (a report's frame not laid out yet)
     lands at zoom 0, the whole world: fit once the container has a size. */
  function fitWhenSized(map, bounds) {
    var box = map.getContainer();
    function fit() {
      map.invalidateSize();
      map.fitBounds(bounds);
    }
    if (box.clientWidth > 0 && box.clientHeight > 0) {
      fit();
      return;
    }
    var watch = new ResizeObserver(function () {
      if (box.clientWidth > 0 && box.clientHeight > 0) {
        watch.disconnect();
        fit();
      }
    });
    watch.observe(box);
  }

  window.snopt = { draw: draw };
})();
