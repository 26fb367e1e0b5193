// The console: sign-in, then the shell (top bar with the region selector,
// left navigation) around one page chosen by the URL's hash.
import { render } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';
import { call, isKeyError, STS_VERSION } from './api.js';
import * as session from './session.js';
import { ErrorNote } from './components.jsx';
import { Console } from './context.js';
import { copyQueue } from './copy_queue.js';
import { SignIn } from './pages/signin.jsx';
import { ImagesPage } from './pages/images.jsx';
import { SnapshotsPage } from './pages/snapshots.jsx';
import { InstancesPage } from './pages/instances.jsx';
import { TasksPage } from './pages/tasks.jsx';

const PAGES = [
  { path: 'images', title: 'Images', Page: ImagesPage },
  { path: 'snapshots', title: 'Snapshots', Page: SnapshotsPage },
  { path: 'instances', title: 'Instances', Page: InstancesPage },
  { path: 'tasks', title: 'Tasks', Page: TasksPage },
];

function currentRoute() {
  const m = /^#\/([a-z]+)(?:\?(.*))?$/.exec(location.hash);
  const page = PAGES.find((p) => m && p.path === m[1]) || PAGES[0];
  return { page, query: new URLSearchParams(m ? m[2] || '' : '') };
}

function App() {
  const [key, setKey] = useState(session.loadKey());
  const [reason, setReason] = useState(null);
  const [regions, setRegions] = useState(null);
  const [identity, setIdentity] = useState(null);
  const [region, setRegionState] = useState(session.loadRegion());
  const [route, setRoute] = useState(currentRoute());
  const [loadError, setLoadError] = useState(null);

  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const signOut = useCallback((why) => {
    copyQueue.clear();
    session.forget();
    setKey(null);
    setRegions(null);
    setIdentity(null);
    setReason(why || null);
  }, []);

  const api = useCallback(
    async (action, params) => {
      try {
        return await call(key, action, params);
      } catch (e) {
        if (isKeyError(e)) signOut(e);
        throw e;
      }
    },
    [key],
  );

  useEffect(() => {
    if (!key || regions) return;
    // The account is shown for people to check; the page works without it.
    api('GetCallerIdentity', { Version: STS_VERSION })
      .then(setIdentity)
      .catch(() => setIdentity(null));
    api('DescribeRegions', { AcceptLanguage: 'en-US' })
      .then((body) => {
        const list = (body.Regions && body.Regions.Region) || [];
        setRegions(list);
        const wanted = route.query.get('region') || region;
        const chosen = list.find((r) => r.RegionId === wanted) ? wanted : list.length ? list[0].RegionId : '';
        setRegionState(chosen);
        session.saveRegion(chosen);
      })
      .catch(setLoadError);
  }, [key, regions]);

  const setRegion = useCallback((r) => {
    setRegionState(r);
    session.saveRegion(r);
  }, []);

  if (!key) {
    return (
      <SignIn
        reason={reason}
        onSignedIn={(k, list) => {
          session.saveKey(k);
          setReason(null);
          setKey(k);
          setRegions(null);
          setLoadError(null);
        }}
      />
    );
  }
  if (!regions) {
    return (
      <main class="loading">
        {loadError ? <ErrorNote error={loadError} /> : <p>Loading regions…</p>}
      </main>
    );
  }
  const { Page } = route.page;
  return (
    <Console.Provider value={{ api, key, regions, region, setRegion, signOut }}>
      <TopBar regions={regions} region={region} setRegion={setRegion} keyId={key.id} identity={identity} signOut={() => signOut(null)} />
      <div class="layout">
        <nav class="side" aria-label="Main">
          <h2>Instances &amp; Images</h2>
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={'#/' + p.path} aria-current={p === route.page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main class="content">
          <Page key={route.page.path + '|' + region} query={route.query} />
        </main>
      </div>
    </Console.Provider>
  );
}

function accountLabel(identity, keyId) {
  if (!identity) return { text: keyId, title: 'AccessKey ID' };
  const name = identity.AccountName ? identity.AccountName + ' · ' : '';
  return { text: name + identity.AccountId, title: 'Account (AccessKey ' + keyId + ')' };
}

function TopBar({ regions, region, setRegion, keyId, identity, signOut }) {
  const account = accountLabel(identity, keyId);
  return (
    <header class="topbar">
      <span class="brand">Ferry</span>
      <label class="region">
        <span>Region</span>
        <select value={region} onChange={(e) => setRegion(e.currentTarget.value)}>
          {regions.map((r) => (
            <option key={r.RegionId} value={r.RegionId}>
              {(r.LocalName || r.RegionId) + ' (' + r.RegionId + ')'}
            </option>
          ))}
        </select>
      </label>
      <span class="account" title={account.title}>
        {account.text}
      </span>
      <button type="button" class="signout" onClick={signOut}>
        Sign out
      </button>
    </header>
  );
}

render(<App />, document.getElementById('app'));
