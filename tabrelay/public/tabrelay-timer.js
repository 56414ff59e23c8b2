// The timers of a hidden tab (see `tabrelay/src/runtime/timer.rs`). A hidden page's own timers fire at
// most once a second (Firefox, Chromium) or once a minute (Chromium after five minutes hidden); a
// dedicated worker's keep time, and its messages reach the hidden page at once. So the page asks
// here: `[token, delay_ms]` arms the timer `token` (replacing it), `[token, -1]` clears it, and
// the worker posts `token` when it fires. Anything else is ignored.
const timers = new Map();

onmessage = ({ data }) => {
  if (!Array.isArray(data) || data.length !== 2) return;
  const [token, delay] = data;
  if (!Number.isSafeInteger(token) || typeof delay !== "number") return;
  clearTimeout(timers.get(token));
  timers.delete(token);
  if (delay < 0) return;
  timers.set(
    token,
    setTimeout(() => {
      timers.delete(token);
      postMessage(token);
    }, delay),
  );
};
