// What every page needs, provided by the shell (main.jsx): api(action,
// params) signed with the key, the regions, the current region, setRegion
// and signOut.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export const Console = createContext(null);
export function useConsole() {
  return useContext(Console);
}

export function go(path, query) {
  const q = query ? new URLSearchParams(query).toString() : '';
  location.hash = '#/' + path + (q ? '?' + q : '');
}
