// The door, enhanced: the page works as a plain form without this file.
// - answers come without reloading the page, and the input is ready for the next badge;
// - the camera reads QR codes (BarcodeDetector where the browser has it, jsQR elsewhere);
// - scans made while the network is down are kept on this device and sent once it is back;
// - check-in counts (here and on the dashboard) stay current.
"use strict";

const QUEUE_RETRY_MS = 10000;
const COUNTS_REFRESH_MS = 15000;
// the same badge held in front of the camera is read many times a second: once is enough
const SAME_BADGE_PAUSE_MS = 4000;

function keepCountsCurrent() {
  document.querySelectorAll("[data-counts-url]").forEach((element) => {
    const refresh = async () => {
      try {
        const response = await fetch(element.dataset.countsUrl, { headers: { Accept: "application/json" } });
        if (response.ok) {
          element.textContent = (await response.json()).text;
        }
      } catch (error) {
        // offline: the counts stay as they were until the next try
      }
    };
    setInterval(refresh, COUNTS_REFRESH_MS);
  });
}

function setUpDoor(form) {
  const input = form.querySelector("#code");
  const region = document.querySelector("[data-door-answer-region]");
  const counts = document.querySelector("[data-door-counts]");
  const queueSection = document.querySelector("[data-door-queue]");
  const queueStatus = document.querySelector("[data-door-queue-status]");
  const queueList = document.querySelector("[data-door-queue-list]");
  const queueKey = "door-queue:" + form.action;
  let sending = false;

  const queued = () => JSON.parse(localStorage.getItem(queueKey) || "[]");
  const saveQueue = (scans) => localStorage.setItem(queueKey, JSON.stringify(scans));

  function showQueue(message) {
    const waiting = queued().length;
    queueSection.hidden = waiting === 0 && queueList.children.length === 0;
    queueStatus.textContent = (message ? message + " " : "") + form.dataset.queueWaiting + " " + waiting;
  }

  async function send(code) {
    const data = new FormData(form);
    data.set("code", code);
    const response = await fetch(form.action, {
      method: "POST",
      body: data,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status >= 500) {
      throw new Error("the service is not answering");
    }
    return response.json();
  }

  // the answer is read out from its live region; the focus stays in the code field, ready for
  // the next badge
  function show(answer) {
    region.innerHTML = answer.html;
    counts.textContent = answer.counts;
  }

  async function sendQueued() {
    if (sending || queued().length === 0) {
      return;
    }
    sending = true;
    try {
      while (queued().length > 0) {
        const [scan, ...rest] = queued();
        const answer = await send(scan.code);
        saveQueue(rest);
        const item = document.createElement("li");
        item.textContent = scan.code + " — " + answer.summary;
        queueList.append(item);
        counts.textContent = answer.counts;
        showQueue(form.dataset.queueSent);
      }
    } catch (error) {
      showQueue(form.dataset.queuedOne);
    } finally {
      sending = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (!code) {
      input.focus();
      return;
    }
    try {
      show(await send(code));
    } catch (error) {
      saveQueue([...queued(), { code: code, scannedAt: new Date().toISOString() }]);
      showQueue(form.dataset.queuedOne);
    }
    input.value = "";
    input.focus();
  });

  window.addEventListener("online", sendQueued);
  setInterval(sendQueued, QUEUE_RETRY_MS);
  showQueue("");
  sendQueued();
  setUpCamera(form, input);
}

function setUpCamera(form, input) {
  const start = form.querySelector("[data-camera-start]");
  const stop = form.querySelector("[data-camera-stop]");
  const panel = document.querySelector("[data-camera]");
  const video = document.querySelector("[data-camera-video]");
  const status = document.querySelector("[data-camera-status]");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  start.hidden = false;
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  let stream = null;
  let timer = null;
  let last = { code: "", at: 0 };

  async function read() {
    if (video.readyState < 2) {
      return null;
    }
    if (detector) {
      const found = await detector.detect(video);
      return found.length ? found[0].rawValue : null;
    }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }

  async function scan() {
    const code = await read();
    const now = Date.now();
    if (code && (code !== last.code || now - last.at > SAME_BADGE_PAUSE_MS)) {
      last = { code: code, at: now };
      input.value = code;
      form.requestSubmit();
    }
  }

  function halt() {
    clearInterval(timer);
    if (stream) {
      stream.getTracks().forEach((track) => track.stop());
    }
    stream = null;
    panel.hidden = true;
    stop.hidden = true;
    start.hidden = false;
    start.focus();
  }

  start.addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      status.textContent = form.dataset.cameraFailed;
      panel.hidden = false;
      return;
    }
    video.srcObject = stream;
    await video.play();
    panel.hidden = false;
    start.hidden = true;
    stop.hidden = false;
    status.textContent = form.dataset.cameraReading;
    stop.focus();
    timer = setInterval(scan, 250);
  });
  stop.addEventListener("click", halt);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("[data-door-form]");
  if (form) {
    setUpDoor(form);
  }
  keepCountsCurrent();
});
