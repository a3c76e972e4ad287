// The wallet offer page: copy the /wallet link, and count down to the offer's expiry. The time left is counted
// from what the server said when it made the offer (data-seconds-left) on the page's own monotonic clock, so a
// wrong clock on the clerk's computer does not change it.
const countdown = document.getElementById("offer-countdown");
if (countdown) {
  const total = Number(countdown.dataset.secondsLeft || "0");
  const start = performance.now();
  const tick = () => {
    const left = Math.max(0, Math.ceil(total - (performance.now() - start) / 1000));
    if (left <= 0) {
      countdown.textContent = countdown.dataset.expired || "0:00";
      countdown.classList.add("expired");
      countdown.dataset.expiredNow = "true";
      return false;
    }
    countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    return true;
  };
  if (tick()) {
    const timer = setInterval(() => { if (!tick()) clearInterval(timer); }, 1000);
  }
}

const copy = document.getElementById("offer-copy");
const link = document.getElementById("offer-wallet-url");
const status = document.getElementById("offer-copy-status");
if (copy && link && status) {
  copy.addEventListener("click", async () => {
    let done = false;
    try {
      await navigator.clipboard.writeText(link.value);
      done = true;
    } catch {
      link.focus();
      link.select();
      done = document.execCommand ? document.execCommand("copy") : false;
    }
    status.textContent = done ? copy.dataset.copied : copy.dataset.copyFailed;
  });
}
