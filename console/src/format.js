// Presentation helpers: sizes, times, progress and its ETA.

export function gib(n) {
  const v = Number(n);
  return Number.isFinite(v) && v > 0 ? v + ' GiB' : '—';
}

// ECS times are UTC, "2026-12-05T03:10:00Z" or "2026-12-05T03:10Z".
export function when(text) {
  if (!text) return '—';
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return text;
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

// "45%" -> 45; anything else -> null.
export function percent(text) {
  const m = /^(\d{1,3})%$/.exec(String(text || ''));
  return m ? Math.min(100, Number(m[1])) : null;
}

export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 60) return Math.max(1, Math.round(seconds)) + ' s';
  if (seconds < 3600) return Math.round(seconds / 60) + ' min';
  const h = Math.floor(seconds / 3600);
  return h + ' h ' + Math.round((seconds - h * 3600) / 60) + ' min';
}

// Estimates time left from the progress seen over time, per resource id:
// the rate since the first observation of the current run.
export class EtaTracker {
  constructor() {
    this.seen = new Map();
  }

  // Records `pct` (0-100) for `id` now; returns seconds left, or null while
  // there is too little to go on.
  observe(id, pct, now = Date.now()) {
    let s = this.seen.get(id);
    if (!s || pct < s.lastPct) {
      s = { firstPct: pct, firstAt: now, lastPct: pct };
      this.seen.set(id, s);
      return null;
    }
    s.lastPct = pct;
    const gained = pct - s.firstPct;
    const elapsed = (now - s.firstAt) / 1000;
    if (gained <= 0 || elapsed < 1) return null;
    return ((100 - pct) * elapsed) / gained;
  }

  forget(id) {
    this.seen.delete(id);
  }
}
