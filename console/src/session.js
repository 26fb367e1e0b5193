// The signed-in key and the chosen region, kept in this tab only
// (sessionStorage): closing the tab or signing out forgets them.
const KEY = 'ferry.console.key';
const REGION = 'ferry.console.region';

export function loadKey() {
  try {
    const k = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return k && typeof k.id === 'string' && typeof k.secret === 'string' ? k : null;
  } catch {
    return null;
  }
}

export function saveKey(key) {
  sessionStorage.setItem(KEY, JSON.stringify({ id: key.id, secret: key.secret }));
}

export function forget() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(REGION);
}

export function loadRegion() {
  return sessionStorage.getItem(REGION) || '';
}

export function saveRegion(region) {
  sessionStorage.setItem(REGION, region);
}
