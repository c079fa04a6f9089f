"use strict";
// Draws the poses of a posestore view page from the JSON embedded in it (id posestore-data):
// a card per image (an SVG over its thumbnail) or a player per clip. Nothing is loaded from
// outside the page: the SVG namespace is read from an element of the page itself.
(function () {
  const D = JSON.parse(document.getElementById("posestore-data").textContent);
  const SVG = document.getElementById("svg-namespace").namespaceURI;
  const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#aaffc3", "#ffd8b1"];
  const ERROR_COLOURS = ["#2ca02c", "#f2c200", "#ff7f0e", "#9467bd", "#d62728"];
  const UNMATCHED = "#c8c8c8";
  const TRUTH = "#f5f5f5"; // ground truth under predictions: white, its box in the pair's colour
  const PAIRS = ["#4363d8", "#42d4f4", "#f032e6", "#469990", "#dcbeff", "#9a6324", "#aaffc3", "#fabed4"];
  const VISIBILITY = ["not labelled", "occluded", "visible"];
  const CARD_PX = 320; // a card's nominal width: joints are drawn about 3 px in it
  const FPS = 15;
  const A = D.about, IM = D.images, IN = D.instances, PO = D.poses, CATS = D.categories;

  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) {
      if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(e);
    return e;
  }
  function tag(name, cls, text, parent) {
    const e = document.createElement(name);
    if (cls) e.className = cls;
    if (text !== null && text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function groups(keys, n) {
    const out = [];
    for (let i = 0; i < n; i++) out.push([]);
    for (let i = 0; i < keys.length; i++) if (keys[i] >= 0 && keys[i] < n) out[keys[i]].push(i);
    return out;
  }
  const known = (v) => v !== null && v !== undefined;
  const round = (v, digits) => (known(v) ? String(Number(v.toFixed(digits))) : "–");
  const count = (n) => Number(n).toLocaleString("en-US");
  const plural = (n, word) => count(n) + " " + word + (n === 1 ? "" : "s");

  const nImages = IM.id.length;
  const byImage = groups(IN.image, nImages);
  const byInstance = groups(PO.instance, IN.id.length);
  const clips = A.kind === "clips";

  function jointName(i, j) {
    const c = CATS[IN.category[i]];
    return (c && c.joints[j]) || "joint " + j;
  }
  function who(i) {
    if (IN.role[i] === 1) return "prediction " + IN.id[i] + (known(IN.score[i]) ? " (score " + round(IN.score[i], 3) + ")" : "");
    return (IN.crowd[i] ? "crowd " : clips && IN.track[i] >= 0 ? "person " + IN.track[i] + ", instance " : "instance ") + IN.id[i];
  }

  // the image's size, or where it is unknown the extent of its boxes and labelled joints
  function extent(r) {
    const w = IM.w[r], h = IM.h[r];
    if (w && h) return [w, h, false];
    let mx = 1, my = 1;
    for (const i of byImage[r]) {
      const b = 4 * i;
      if (known(IN.box[b]) && known(IN.box[b + 2])) {
        mx = Math.max(mx, IN.box[b] + IN.box[b + 2]);
        my = Math.max(my, IN.box[b + 1] + IN.box[b + 3]);
      }
      for (const p of byInstance[i]) {
        for (let k = PO.start[p]; k < PO.start[p] + PO.n[p]; k++) {
          if (PO.v[k] > 0 && known(PO.x[k]) && known(PO.y[k])) {
            mx = Math.max(mx, PO.x[k]);
            my = Math.max(my, PO.y[k]);
          }
        }
      }
    }
    return [w || Math.ceil(mx * 1.05), h || Math.ceil(my * 1.05), true];
  }

  function jointText(i, j, k, frame) {
    const text = [jointName(i, j) + " (joint " + j + ")", "x " + PO.x[k] + ", y " + PO.y[k]];
    if (IN.role[i] === 1) {
      if (PO.err && PO.err[k] >= 0) text.push("error " + D.errors[PO.err[k]] + ", " + round(PO.dist[k], 2) + " px from the ground truth");
      else text.push(IN.match[i] >= 0 ? "no error class" : "unmatched prediction");
      text.push("v " + PO.v[k]);
    } else {
      text.push(VISIBILITY[PO.v[k]] + " (v=" + PO.v[k] + ")");
    }
    text.push(PO.s && known(PO.s[k]) ? "score " + round(PO.s[k], 3) : "no score");
    text.push(who(i));
    if (frame !== null) text.push("frame " + frame);
    return text.join(" · ");
  }

  function drawPose(g, i, p, colour, unit, frame) {
    const start = PO.start[p], n = PO.n[p], predicted = IN.role[i] === 1;
    const drawn = (j) => j < n && (predicted || PO.v[start + j] > 0) && known(PO.x[start + j]) && known(PO.y[start + j]);
    const category = CATS[IN.category[i]];
    if (category) {
      for (const [a, b] of category.bones) {
        if (!drawn(a) || !drawn(b)) continue;
        const occluded = !predicted && (PO.v[start + a] === 1 || PO.v[start + b] === 1);
        svg("line", {
          class: occluded ? "bone occluded" : "bone", stroke: colour,
          x1: PO.x[start + a], y1: PO.y[start + a], x2: PO.x[start + b], y2: PO.y[start + b],
        }, g);
      }
    }
    const truth = predicted && IN.match[i] >= 0 ? byInstance[IN.match[i]][0] : undefined;
    for (let j = 0; j < n; j++) {
      if (!drawn(j)) continue;
      const k = start + j, v = PO.v[k];
      const classified = predicted && PO.err && PO.err[k] >= 0;
      if (classified && truth !== undefined && j < PO.n[truth] && PO.v[PO.start[truth] + j] > 0) {
        const t = PO.start[truth] + j;
        svg("line", { class: "error-vector", x1: PO.x[t], y1: PO.y[t], x2: PO.x[k], y2: PO.y[k] }, g);
      }
      const fill = classified ? ERROR_COLOURS[PO.err[k]] : colour;
      const joint = svg("circle", {
        class: predicted ? "joint predicted" + (classified ? " " + D.errors[PO.err[k]] : "") : "joint v" + v,
        cx: PO.x[k], cy: PO.y[k], r: round((predicted ? 2.8 : v === 2 ? 3.4 : 3) * unit, 3),
        fill: fill, stroke: predicted ? "#111" : colour,
        "data-joint": jointName(i, j), "data-index": j, "data-x": PO.x[k], "data-y": PO.y[k],
        "data-v": v, "data-score": PO.s && known(PO.s[k]) ? PO.s[k] : null,
        "data-error": classified ? D.errors[PO.err[k]] : null,
      }, g);
      svg("title", {}, joint).textContent = jointText(i, j, k, frame);
    }
  }

  function instanceGroup(scene, i) {
    const classes = ["inst", IN.role[i] === 1 ? "prediction" : "truth"];
    if (IN.crowd[i]) classes.push("crowd");
    if (IN.role[i] === 1 && IN.match[i] < 0) classes.push("unmatched");
    return svg("g", {
      class: classes.join(" "), "data-instance": IN.id[i], "data-role": IN.role[i] === 1 ? "prediction" : "truth",
      "data-track": IN.track[i] >= 0 ? IN.track[i] : null, "data-frame": IN.frame[i] >= 0 ? IN.frame[i] : null,
    }, scene);
  }

  function drawInstance(scene, i, colour, unit, boxColour) {
    const g = instanceGroup(scene, i);
    const region = IN.region[i] >= 0 ? D.regions[IN.region[i]] : null;
    if (region && region.mask) {
      svg("image", { class: "crowd-region", href: region.mask, x: 0, y: 0, width: region.w, height: region.h, preserveAspectRatio: "none" }, g);
    }
    if (region && region.polygons) {
      for (const poly of region.polygons) {
        const points = [];
        for (let q = 0; q + 1 < poly.length; q += 2) points.push(poly[q] + "," + poly[q + 1]);
        svg("polygon", { class: "crowd-region", points: points.join(" ") }, g);
      }
    }
    const b = 4 * i;
    if (IN.role[i] === 0 && known(IN.box[b]) && known(IN.box[b + 1]) && known(IN.box[b + 2]) && known(IN.box[b + 3])) {
      const box = svg("rect", {
        class: "box", stroke: boxColour || colour, x: IN.box[b], y: IN.box[b + 1],
        width: Math.max(0, IN.box[b + 2]), height: Math.max(0, IN.box[b + 3]),
      }, g);
      svg("title", {}, box).textContent = who(i) + " · box x " + IN.box[b] + ", y " + IN.box[b + 1] +
        ", w " + IN.box[b + 2] + ", h " + IN.box[b + 3] + (known(IN.score[i]) ? " · score " + round(IN.score[i], 3) : "");
    }
    for (const p of byInstance[i]) drawPose(g, i, p, colour, unit, null);
  }

  function scene(fig, r) {
    const [w, h, fitted] = extent(r);
    const s = svg("svg", {
      class: "scene", viewBox: "0 0 " + w + " " + h, preserveAspectRatio: "xMidYMid meet",
      "data-image-id": IM.id[r], "data-split": IM.split[r], "data-file": IM.file[r],
    }, fig);
    return [s, w, h, fitted];
  }

  function caption(fig, r, parts) {
    const cap = tag("figcaption", null, null, fig);
    parts.forEach((part, k) => {
      if (k) cap.appendChild(document.createTextNode(" · "));
      if (typeof part === "string") cap.appendChild(document.createTextNode(part));
      else cap.appendChild(part);
    });
    return cap;
  }

  function imageCard(grid, r) {
    const fig = tag("figure", "card", null, grid);
    const [s, w, h, fitted] = scene(fig, r);
    if (IM.thumb[r]) svg("image", { class: "picture", href: IM.thumb[r], x: 0, y: 0, width: w, height: h, preserveAspectRatio: "none" }, s);
    else svg("rect", { class: "blank", x: 0, y: 0, width: w, height: h }, s);
    const unit = Math.max(w, h) / CARD_PX;
    const colours = new Map();
    let truths = 0, predictions = 0;
    for (const i of byImage[r]) {
      if (IN.role[i] === 1) {
        predictions += 1;
        drawInstance(s, i, IN.match[i] >= 0 ? colours.get(IN.match[i]) || UNMATCHED : UNMATCHED, unit);
      } else if (A.ground_truth) {
        colours.set(i, PAIRS[truths++ % PAIRS.length]);
        drawInstance(s, i, TRUTH, unit, colours.get(i));
      } else {
        drawInstance(s, i, PALETTE[truths++ % PALETTE.length], unit);
      }
    }
    const parts = [IM.file[r] || "(no file name)", "id " + IM.id[r], plural(truths, "instance")];
    if (A.ground_truth) parts.push(plural(predictions, "prediction"));
    if (IM.split[r] && A.splits > 1) parts.push(IM.split[r]);
    if (IM.missing[r]) {
      fig.classList.add("missing");
      parts.push(tag("span", "missing", "no picture (" + IM.missing[r] + "): drawn on a blank canvas of " +
        (fitted ? "the joints' extent (the image's size is unknown)" : "the image's size, " + w + "×" + h)));
    } else if (fitted) {
      parts.push("size unknown: canvas fitted to the joints");
    }
    caption(fig, r, parts);
  }

  function clipCard(grid, r) {
    const fig = tag("figure", "card clip", null, grid);
    const [s, w, h] = scene(fig, r);
    svg("rect", { class: "stage", x: 0, y: 0, width: w, height: h }, s);
    const unit = Math.max(w, h) / CARD_PX;
    const groupOf = new Map(), byFrame = new Map();
    let last = 0;
    for (const i of byImage[r]) {
      groupOf.set(i, instanceGroup(s, i));
      for (const p of byInstance[i]) {
        const f = PO.frame[p];
        if (!byFrame.has(f)) byFrame.set(f, []);
        byFrame.get(f).push(p);
        last = Math.max(last, f);
      }
    }
    const frames = Math.max(IM.frames[r] || 1, last + 1);
    const bar = tag("div", "controls", null, fig);
    const button = tag("button", "play", "play", bar);
    button.type = "button";
    const slider = tag("input", "scrub", null, bar);
    slider.type = "range";
    slider.min = "0";
    slider.max = String(frames - 1);
    slider.step = "1";
    const label = tag("span", "frame-label", null, bar);
    let frame = 0, timer = null;
    function show(f) {
      for (const g of groupOf.values()) {
        while (g.firstChild) g.removeChild(g.firstChild);
        g.classList.add("absent");
      }
      (byFrame.get(f) || []).forEach((p, order) => {
        const i = PO.instance[p], g = groupOf.get(i);
        g.classList.remove("absent");
        const colour = PALETTE[(IN.track[i] >= 0 ? IN.track[i] : order) % PALETTE.length];
        drawPose(g, i, p, colour, unit, f);
      });
      slider.value = String(f);
      s.setAttribute("data-frame", f);
      label.textContent = "frame " + (f + 1) + " / " + frames;
    }
    function stop() {
      clearInterval(timer);
      timer = null;
      button.textContent = "play";
    }
    button.addEventListener("click", () => {
      if (timer !== null) return stop();
      button.textContent = "pause";
      timer = setInterval(() => {
        frame = (frame + 1) % frames;
        show(frame);
      }, 1000 / FPS);
    });
    slider.addEventListener("input", () => {
      frame = Number(slider.value);
      show(frame);
    });
    const action = known(IM.label[r]) ? D.actions[String(IM.label[r])] || "label " + IM.label[r] : null;
    const tracks = new Set(byImage[r].map((i) => IN.track[i]).filter((t) => t >= 0)).size;
    const parts = [];
    if (action !== null) parts.push(tag("span", "action", action));
    parts.push(IM.file[r] || "id " + IM.id[r], plural(frames, "frame"));
    parts.push(tracks ? plural(tracks, "person track") : plural(byImage[r].length, "skeleton"));
    if (!byImage[r].some((i) => byInstance[i].length)) parts.push("no joints stored");
    caption(fig, r, parts);
    frame = byFrame.size ? Math.min(...byFrame.keys()) : 0; // the first frame with a skeleton
    show(frame);
  }

  function header() {
    const noun = clips ? "clip" : "image";
    document.title = "posestore view: " + A.dataset;
    document.getElementById("title").textContent =
      "posestore view: " + A.dataset + (A.split ? " / " + A.split : "") + " · " + A.format;
    const summary = document.getElementById("summary");
    for (const key of ["selected", "shown", "offset", "limit"]) summary.setAttribute("data-" + key, A[key]);
    let text = "The selection" + (A.selection ? " (" + A.selection + ")" : "") + " holds " + plural(A.selected, noun) + "; ";
    if (!A.shown) text += "this page shows none" + (A.selected ? " (offset " + count(A.offset) + " is past its end)." : ".");
    else if (A.shown === A.selected) text += "this page shows all of them";
    else text += "this page shows " + count(A.shown) + " of them (" + noun + "s " + count(A.offset + 1) + "–" + count(A.offset + A.shown) + ")";
    if (A.shown) {
      const predicted = IN.role.filter((role) => role === 1).length;
      text += ": " + plural(A.instances - predicted, "instance") + (A.ground_truth ? " and " + plural(predicted, "prediction") : "") + ", " +
        plural(A.joints, "joint") + (clips ? " over all their frames." : " drawn.");
    }
    if (A.offset + A.shown < A.selected) {
      text += " The next " + noun + "s are on the next page: the same command with --offset " + count(A.offset + A.shown) +
        " (offset=" + (A.offset + A.shown) + " in Python; limit " + count(A.limit) + ").";
    }
    summary.textContent = text;
    const reasons = Object.entries(A.missing || {});
    if (reasons.length) {
      const n = reasons.reduce((sum, [, k]) => sum + k, 0);
      const missing = document.getElementById("missing");
      missing.hidden = false;
      missing.setAttribute("data-missing", n);
      const folderless = reasons.length === 1 && reasons[0][0] === "no image folder";
      missing.textContent = (folderless
        ? "No image folder is known for this dataset (pass --image-root DIR, image_root= in Python): the " + plural(n, "image") + " shown are"
        : plural(n, "image") + " of " + count(A.shown) + " have no picture" + (A.image_root ? " in " + A.image_root : "") +
          " (" + reasons.map(([why, k]) => why + ": " + count(k)).join(", ") + "), and are") +
        " drawn on blank canvases of the image's size.";
    }
    const notes = [];
    if (A.ground_truth) {
      notes.push("Predictions of " + A.dataset + " (dotted, in the colour of the ground-truth box they match; joints coloured by their error class) " +
        "over their ground truth " + A.ground_truth + " (white); a white line joins each classified joint to its ground truth." +
        (A.evaluated ? "" : " No evaluation yet: run posestore eval " + A.ground_truth + " " + A.dataset + " to see the error classes."));
    }
    if (clips) notes.push("Press play or drag the slider: every person track is drawn in its own colour.");
    document.getElementById("notes").textContent = notes.join(" ");
    legend();
  }

  function legend() {
    const box = document.getElementById("legend");
    function item(text, draw) {
      const span = tag("span", null, null, box);
      const s = svg("svg", { viewBox: "0 0 22 12" }, span);
      draw(s);
      span.appendChild(document.createTextNode(text));
    }
    item("visible joint", (s) => svg("circle", { class: "joint v2", cx: 11, cy: 6, r: 4, fill: PALETTE[0], stroke: PALETTE[0] }, s));
    item("occluded joint", (s) => svg("circle", { class: "joint v1", cx: 11, cy: 6, r: 4, fill: PALETTE[0], stroke: PALETTE[0] }, s));
    item("bone to an occluded joint", (s) => svg("line", { class: "bone occluded", x1: 1, y1: 6, x2: 21, y2: 6, stroke: PALETTE[0] }, s));
    if (!clips) {
      item("box", (s) => svg("rect", { class: "box", x: 2, y: 2, width: 18, height: 8, stroke: PALETTE[1] }, s));
      item("crowd region", (s) => svg("rect", { x: 2, y: 2, width: 18, height: 8, fill: "#ff4040", "fill-opacity": 0.5 }, s));
    }
    if (A.ground_truth) {
      D.errors.forEach((name, k) => item(name, (s) => svg("circle", { cx: 11, cy: 6, r: 4, fill: ERROR_COLOURS[k], stroke: "#111" }, s)));
      item("unmatched prediction", (s) => svg("line", { class: "bone", x1: 1, y1: 6, x2: 21, y2: 6, stroke: UNMATCHED }, s));
    }
    const unlabelled = tag("span", null, "unlabelled joints (v=0) are not drawn", box);
    unlabelled.className = "note";
  }

  function interaction() {
    const info = document.getElementById("info");
    let kept = info.textContent;
    const jointOf = (e) => (e.target && e.target.closest ? e.target.closest("circle.joint[data-joint]") : null);
    const describe = (joint) => joint.querySelector("title").textContent;
    document.addEventListener("mouseover", (e) => {
      const joint = jointOf(e);
      if (joint) info.textContent = describe(joint);
    });
    document.addEventListener("mouseout", (e) => {
      if (jointOf(e)) info.textContent = kept;
    });
    document.addEventListener("click", (e) => {
      const joint = jointOf(e);
      if (!joint) return;
      document.querySelectorAll("circle.joint.picked").forEach((c) => c.classList.remove("picked"));
      joint.classList.add("picked");
      kept = describe(joint);
      info.textContent = kept;
    });
  }

  header();
  const grid = document.getElementById("grid");
  for (let r = 0; r < nImages; r++) (clips ? clipCard : imageCard)(grid, r);
  interaction();
  document.body.setAttribute("data-drawn", "true");
})();
