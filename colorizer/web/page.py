"""The web page of colorizer.web.server: one HTML template, its CSS and its JS.

Everything the browser loads comes from the app itself (no CDN, no build
step), so the page works offline and its Content-Security-Policy can allow
'self' only. The script and the style sheet are served from their own routes
rather than inline because that policy forbids inline code.

Without JavaScript the form posts every file to '/' and the server renders
the results. With it, the script sends each file in its own request to
'/api/colorize?format=png', so results appear one by one and one bad file
does not spoil the others.
"""

PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Colorizer</title>
<link rel="stylesheet" href="{{ url_for('stylesheet') }}">
<link rel="icon" type="image/svg+xml" href="{{ url_for('favicon') }}">
</head>
<body>
<main>
<header>
  <h1>Colorizer</h1>
  <p class="tagline">Turn black-and-white photos into color, at their full
  size. Nothing is stored: results live in this page until you close it.</p>
</header>
<form id="upload-form" method="post" action="{{ url_for('index') }}"
      enctype="multipart/form-data" data-max-bytes="{{ max_upload_bytes }}"
      data-api-url="{{ url_for('api_colorize', format='png') }}">
  <label id="drop-zone" class="drop-zone" for="file-input">
    <span class="drop-title">Drop black-and-white photos here</span>
    <span class="drop-hint">or <span class="choose">click to choose
    them</span>: JPEG, PNG, WebP, TIFF, BMP or GIF, up to
    {{ max_upload_mb }} MB each</span>
    <input id="file-input" type="file" name="image" accept="image/*" multiple>
    <span id="chosen" class="chosen"></span>
  </label>
  <button id="colorize-button" type="submit">Colorize</button>
</form>
<p id="message" class="message{% if error %} error{% endif %}"
   role="status">{{ error or "" }}</p>
<section id="results" class="results">
{%- for result in results %}
  <article class="card">
    <h2 class="name">{{ result.name }}</h2>
    <div class="pair">
      <figure>
        <img class="original" src="data:image/png;base64,{{ result.input_b64 }}"
             alt="Original: {{ result.name }}">
        <figcaption>Original</figcaption>
      </figure>
      <figure>
        <img class="colorized"
             src="data:image/png;base64,{{ result.colorized_b64 }}"
             alt="Colorized: {{ result.name }}">
        <figcaption>Colorized, {{ result.width }} &times; {{ result.height }}
        <a class="download" download="{{ result.download_name }}"
           href="data:image/png;base64,{{ result.colorized_b64 }}">Download
           PNG</a></figcaption>
      </figure>
    </div>
  </article>
{%- endfor %}
</section>
<footer>{% if backend_name %}Model: {{ backend_name }}{% endif %}</footer>
</main>
<script src="{{ url_for('script') }}"></script>
</body>
</html>
"""

STYLESHEET = """
:root {
  --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --paper: #f6f7f9;
  --accent: #c2410c; --accent-dark: #9a3412; --error: #b42318;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--paper); color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
main { max-width: 1080px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { margin: 0; font-size: 28px; letter-spacing: -0.01em; }
.tagline { margin: 4px 0 24px; color: var(--muted); }
form { display: flex; gap: 16px; align-items: stretch; }
.drop-zone {
  position: relative; flex: 1; display: flex; flex-direction: column;
  align-items: center; gap: 6px; padding: 28px 24px; text-align: center;
  border: 2px dashed #c4ccd4; border-radius: 12px; background: #fff;
  cursor: pointer; transition: border-color .15s, background .15s;
}
.choose { color: var(--accent); font-weight: 600; }
/* With JavaScript the whole zone is the file picker and the chosen names are
   listed below it; without, the browser's own input shows what was chosen. */
.js .drop-zone input[type=file] {
  position: absolute; width: 1px; height: 1px; opacity: 0;
}
.drop-zone:hover { border-color: #9aa4af; }
.drop-zone:focus-within { border-color: var(--accent); }
.drop-zone.dragging { border-color: var(--accent); background: #fff7ed; }
.drop-title { font-weight: 600; font-size: 18px; }
.drop-hint, .chosen { color: var(--muted); font-size: 14px; }
.chosen:empty { display: none; }
input[type=file] { font: inherit; font-size: 14px; color: var(--muted); }
input[type=file]::file-selector-button {
  font: inherit; margin-right: 12px; padding: 6px 14px; border-radius: 8px;
  border: 1px solid var(--line); background: var(--paper); cursor: pointer;
}
button {
  align-self: center; padding: 14px 32px; border: 0; border-radius: 10px;
  background: var(--accent); color: #fff; font: inherit; font-weight: 600;
  font-size: 17px; cursor: pointer;
}
button:hover { background: var(--accent-dark); }
button:disabled { background: #d0a48f; cursor: progress; }
.message { min-height: 1.5em; margin: 16px 0; color: var(--muted); }
.message.error, .card .error { color: var(--error); font-weight: 500; }
.results { display: flex; flex-direction: column; gap: 20px; }
.card {
  background: #fff; border: 1px solid var(--line); border-radius: 12px;
  padding: 16px 20px 20px; box-shadow: 0 1px 2px rgba(31, 35, 40, .06);
}
.card h2 {
  margin: 0 0 12px; font-size: 16px; font-weight: 600;
  overflow-wrap: anywhere;
}
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
figure { margin: 0; display: flex; flex-direction: column; gap: 8px; }
figure img {
  display: block; width: 100%; max-height: 70vh; object-fit: contain;
  background: var(--paper); border-radius: 8px;
}
figcaption { color: var(--muted); font-size: 14px; }
.placeholder {
  flex: 1; display: flex; align-items: center; justify-content: center;
  min-height: 160px; background: var(--paper); border-radius: 8px;
  color: var(--muted); font-size: 14px; padding: 12px; text-align: center;
}
.card p.error { margin: 0; }
.download {
  margin-left: 8px; color: var(--accent); font-weight: 600;
  text-decoration: none;
}
.download:hover { text-decoration: underline; }
footer { margin-top: 32px; color: var(--muted); font-size: 13px; }
@media (max-width: 700px) {
  form { flex-direction: column; }
  .pair { grid-template-columns: 1fr; }
}
"""

SCRIPT = """
"use strict";
(() => {
  document.documentElement.classList.add("js");
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const dropZone = document.getElementById("drop-zone");
  const chosen = document.getElementById("chosen");
  const button = document.getElementById("colorize-button");
  const message = document.getElementById("message");
  const results = document.getElementById("results");
  const maxBytes = Number(form.dataset.maxBytes);
  const apiUrl = form.dataset.apiUrl;
  // Two uploads in flight keep the page responsive without queueing every
  // photo on a server that colorizes a couple at a time anyway.
  const parallelUploads = 2;
  let objectUrls = [];

  function showMessage(text, isError) {
    message.textContent = text;
    message.classList.toggle("error", Boolean(isError));
  }

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB";
  }

  function showChosen() {
    const files = Array.from(input.files);
    chosen.textContent = files.length === 0 ? "" :
        files.length + (files.length === 1 ? " photo: " : " photos: ") +
        files.map((file) => file.name).join(", ");
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function trackUrl(blob) {
    const url = URL.createObjectURL(blob);
    objectUrls.push(url);
    return url;
  }

  function downloadName(name) {
    const stem = name.replace(/\\.[^.]*$/, "") || "photo";
    return stem + "_colorized.png";
  }

  function addCard(file) {
    const card = element("article", "card");
    card.appendChild(element("h2", "name", file.name));
    const pair = element("div", "pair");
    const original = element("figure");
    const originalImage = element("img", "original");
    originalImage.alt = "Original: " + file.name;
    originalImage.addEventListener("error", () => {
      originalImage.replaceWith(element("div", "placeholder",
          "This browser cannot show this format; the colorized PNG can."));
    });
    originalImage.src = trackUrl(file);
    original.append(originalImage, element("figcaption", "", "Original"));
    const output = element("figure");
    const pending = element("div", "placeholder", "Colorizing\\u2026");
    output.append(pending, element("figcaption", "", "Colorized"));
    pair.append(original, output);
    card.appendChild(pair);
    results.appendChild(card);
    return {pair, output, pending};
  }

  function showResult(card, file, blob) {
    const image = element("img", "colorized");
    image.alt = "Colorized: " + file.name;
    const caption = card.output.querySelector("figcaption");
    image.addEventListener("load", () => {
      caption.firstChild.textContent = "Colorized, " + image.naturalWidth +
          " \\u00d7 " + image.naturalHeight;
    });
    const url = trackUrl(blob);
    image.src = url;
    card.pending.replaceWith(image);
    const link = element("a", "download", "Download PNG");
    link.href = url;
    link.download = downloadName(file.name);
    caption.append(" ", link);
  }

  function showError(card, text) {
    // A refused file gets one line, not two empty image frames.
    card.pair.replaceWith(element("p", "error", text));
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (ignored) {
      // Not JSON: a proxy or the server's own error page.
    }
    return "The server answered " + response.status + " " +
        response.statusText + ".";
  }

  async function colorizeOne(file, card) {
    if (file.size > maxBytes) {
      showError(card, file.name + " is " + megabytes(file.size) +
          ", over the " + megabytes(maxBytes) + " upload limit.");
      return false;
    }
    const body = new FormData();
    body.append("image", file, file.name);
    try {
      const response = await fetch(apiUrl, {method: "POST", body});
      if (!response.ok) {
        showError(card, await errorText(response));
        return false;
      }
      showResult(card, file, await response.blob());
      return true;
    } catch (error) {
      showError(card, "Could not reach the server: " + error.message);
      return false;
    }
  }

  async function colorizeAll(files) {
    objectUrls.forEach((url) => URL.revokeObjectURL(url));
    objectUrls = [];
    results.replaceChildren();
    button.disabled = true;
    let next = 0, done = 0, failed = 0;
    const cards = files.map(addCard);
    showMessage("Colorizing " + files.length +
        (files.length === 1 ? " photo\\u2026" : " photos\\u2026"));
    async function worker() {
      while (next < files.length) {
        const index = next++;
        const ok = await colorizeOne(files[index], cards[index]);
        done += 1;
        failed += ok ? 0 : 1;
        showMessage("Colorized " + (done - failed) + " of " + files.length +
            (failed ? " (" + failed + " failed)" : "") +
            (done < files.length ? "\\u2026" : "."), failed > 0);
      }
    }
    const workers = [];
    for (let i = 0; i < Math.min(parallelUploads, files.length); i++) {
      workers.push(worker());
    }
    await Promise.all(workers);
    button.disabled = false;
  }

  input.addEventListener("change", showChosen);
  ["dragenter", "dragover"].forEach((type) => {
    dropZone.addEventListener(type, (event) => {
      event.preventDefault();
      dropZone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach((type) => {
    dropZone.addEventListener(type, () => dropZone.classList.remove("dragging"));
  });
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showChosen();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const files = Array.from(input.files);
    if (files.length === 0) {
      showMessage("Choose or drop one or more photos first.", true);
      return;
    }
    colorizeAll(files);
  });
})();
"""

# A half-gray, half-colored disc: the page's icon, so browsers do not ask for
# a /favicon.ico that is not there.
FAVICON_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<defs><linearGradient id="c" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="#f59e0b"/><stop offset="1" stop-color="#c2410c"/>
</linearGradient></defs>
<circle cx="16" cy="16" r="14" fill="#9ca3af"/>
<path d="M16 2a14 14 0 0 1 0 28z" fill="url(#c)"/>
</svg>
"""
