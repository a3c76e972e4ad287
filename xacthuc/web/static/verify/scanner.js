// Continuous QR scanning from the camera (the rear one by default). Frames are read by zxing-wasm, served from this
// host (its default would fetch the .wasm from a CDN: locateFile points at our copy); BarcodeDetector, where the
// browser has one for QR codes, is a faster path. Nothing leaves the device but the decoded text.
const VENDOR = "/static/vendor/zxing-wasm";
const FRAME_MS = 120;

let readerPromise = null;

/** zxing-wasm's reader, its module imported and its .wasm instantiated once (marks "xacthuc:reader-ready"). */
function zxing() {
  readerPromise ??= import(`${VENDOR}/es/reader/index.js`).then(async (module) => {
    await module.prepareZXingModule({
      overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? `${VENDOR}/reader/${path}` : prefix + path) },
      fireImmediately: true,
    });
    performance.mark("xacthuc:reader-ready");
    return module;
  });
  readerPromise.catch(() => {
    readerPromise = null; // the next try loads it again, and says so if it fails again
  });
  return readerPromise;
}

/**
 * Load the reader now, after the page's controls work, so a camera started later reads its first frame at once (the
 * page stays usable meanwhile; a failure here is said when the camera starts, not now).
 */
export function preloadReader() {
  zxing().catch(() => {});
}

async function detector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  } catch {
    return null;
  }
}

/** Why the camera could not start, as one of: denied, missing, error. */
export function cameraProblem(error) {
  if (!navigator.mediaDevices?.getUserMedia) return "missing";
  const name = error?.name ?? "";
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return "missing";
  return "error";
}

/**
 * Start scanning into `video`; `onText(text)` for the first QR code read (scanning then stops). Returns a stop
 * function. Throws (with cameraProblem() telling why) when the camera cannot be opened.
 */
export async function startScanner(video, onText) {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error("no mediaDevices");
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  });
  video.srcObject = stream;
  await video.play();
  const fast = await detector();
  const reader = await zxing();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stopped = false;
  let timer = null;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };

  async function frame() {
    if (stopped) return;
    try {
      if (video.readyState >= 2 && video.videoWidth > 0) {
        let text = null;
        if (fast) {
          const found = await fast.detect(video);
          text = found[0]?.rawValue ?? null;
        }
        if (text === null) {
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          context.drawImage(video, 0, 0);
          const image = context.getImageData(0, 0, canvas.width, canvas.height);
          const results = await reader.readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
          text = results.find((r) => r.isValid)?.text ?? null;
        }
        if (text && !stopped) {
          stop();
          onText(text);
          return;
        }
      }
    } catch (error) {
      console.warn("QR frame not read", error);
    }
    timer = setTimeout(frame, FRAME_MS);
  }
  frame();
  return stop;
}
