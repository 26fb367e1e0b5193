// Sign-in with an AccessKey pair. The pair is checked with a signed
// DescribeRegions before it is kept (in this tab only).
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { ErrorNote } from '../components.jsx';

export function SignIn({ reason, onSignedIn }) {
  const [id, setId] = useState('');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const key = { id: id.trim(), secret: secret.trim() };
    if (!key.id || !key.secret) {
      setError(new Error('Enter both the AccessKey ID and the AccessKey secret.'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = await call(key, 'DescribeRegions', { AcceptLanguage: 'en-US' });
      onSignedIn(key, (body.Regions && body.Regions.Region) || []);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Ferry</h1>
        <p class="hint">
          Use an AccessKey pair of your account. The pair stays in this browser tab and every request is signed with it;
          signing out or closing the tab forgets it.
        </p>
        {reason && !error ? (
          <div class="notice" role="status">
            You were signed out: <ErrorNote error={reason} />
          </div>
        ) : null}
        <label>
          AccessKey ID
          <input name="access-key-id" autocomplete="username" value={id} onInput={(e) => setId(e.currentTarget.value)} />
        </label>
        <label>
          AccessKey secret
          <input
            name="access-key-secret"
            type="password"
            autocomplete="current-password"
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </label>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
