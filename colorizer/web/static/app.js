// The colorizer page's script (templates/index.html loads it).
//
// Sends each chosen or dropped photo in its own request to the API URL the
// page puts in the form's data-api-url, two at a time, and shows
// each result beside its original as it arrives; one bad file does not spoil
// the others. A photo the server is too busy for (503) is sent again after
// the Retry-After it names. Without this script the form posts every file to '/' and the
// server renders the results itself.
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
  // A busy server answers 503 with Retry-After (seconds): wait that long and
  // send the photo again, a few times, before giving up on it.
  const busyRetries = 5;
  const maxRetryWaitSeconds = 60;
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
    const stem = name.replace(/\.[^.]*$/, "") || "photo";
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
    const pending = element("div", "placeholder", "Colorizing\u2026");
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
          " \u00d7 " + image.naturalHeight;
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

  function retryAfterSeconds(response) {
    const seconds = Number(response.headers.get("Retry-After"));
    return Number.isInteger(seconds) && seconds > 0 ?
        Math.min(seconds, maxRetryWaitSeconds) : 1;
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
      let response = await fetch(apiUrl, {method: "POST", body});
      for (let retry = 0; response.status === 503 && retry < busyRetries;
           retry++) {
        const seconds = retryAfterSeconds(response);
        card.pending.textContent = "The server is busy; trying again in " +
            seconds + " s\u2026";
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        card.pending.textContent = "Colorizing\u2026";
        response = await fetch(apiUrl, {method: "POST", body});
      }
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
        (files.length === 1 ? " photo\u2026" : " photos\u2026"));
    async function worker() {
      while (next < files.length) {
        const index = next++;
        const ok = await colorizeOne(files[index], cards[index]);
        done += 1;
        failed += ok ? 0 : 1;
        showMessage("Colorized " + (done - failed) + " of " + files.length +
            (failed ? " (" + failed + " failed)" : "") +
            (done < files.length ? "\u2026" : "."), failed > 0);
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
