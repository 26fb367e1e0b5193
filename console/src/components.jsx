// Building blocks shared by the pages: dialogs, confirmations, error notes,
// progress bars, a pager and polling with back-off.
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { ApiError } from './api.js';

let nextId = 0;
export function useId(prefix) {
  const ref = useRef(null);
  if (ref.current === null) ref.current = prefix + '-' + ++nextId;
  return ref.current;
}

// A modal dialog: focus moves into it (the first field, else the first
// button), Tab stays inside, Escape or the close button cancels, and focus
// returns to what had it before.
export function Dialog({ title, onClose, children, wide }) {
  const box = useRef(null);
  const titleId = useId('dialog-title');
  useEffect(() => {
    const before = document.activeElement;
    const focusables = () =>
      Array.from(
        box.current.querySelectorAll('input, select, textarea, button, [href], [tabindex]:not([tabindex="-1"])'),
      ).filter((el) => !el.disabled && el.offsetParent !== null);
    const first = box.current.querySelector('input, select, textarea') || focusables()[0];
    if (first) first.focus();
    const onKey = (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        onClose();
      } else if (e.key === 'Tab') {
        const els = focusables();
        if (els.length === 0) return;
        const i = els.indexOf(document.activeElement);
        if (e.shiftKey && (i <= 0)) {
          e.preventDefault();
          els[els.length - 1].focus();
        } else if (!e.shiftKey && i === els.length - 1) {
          e.preventDefault();
          els[0].focus();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (before && before.focus) before.focus();
    };
  }, []);
  return (
    <div class="backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class={'dialog' + (wide ? ' wide' : '')} role="dialog" aria-modal="true" aria-labelledby={titleId} ref={box}>
        <header>
          <h2 id={titleId}>{title}</h2>
          <button type="button" class="icon" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

// "Delete image m-...?" with the consequences; resolves through onConfirm,
// showing its error if it throws.
export function ConfirmDialog({ title, children, confirmLabel, danger, onConfirm, onClose }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <div class="dialog-body">{children}</div>
      <ErrorNote error={error} />
      <footer>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class={danger ? 'danger' : 'primary'} disabled={busy} onClick={confirm}>
          {busy ? 'Working…' : confirmLabel}
        </button>
      </footer>
    </Dialog>
  );
}

// Plain words for the codes users meet most; the API's own message and code
// always follow.
const PLAIN = {
  IncorrectImageStatus: 'The image is not in a state that allows this.',
  'OperationDenied.ImageCopyConflict': 'This image is already being copied. Wait for that copy to finish.',
  'SizeExceed.Image': 'The image is larger than this cloud copies without an operator allowing it.',
  'InvalidImageId.NotFound': 'The image does not exist, or is not visible to this account.',
  'InvalidImageName.Duplicated': 'An image with this name already exists in the target region.',
  'InvalidImageName.Malformed': 'The image name is not valid.',
  'InvalidDescription.Malformed': 'The description is not valid.',
  'InvalidAccount.NotFound': 'No such account.',
  'QuotaExceed.Image': 'The image quota of this account is used up.',
  'ImageUseShared': 'The image is shared with other accounts. Remove them before deleting it.',
  Throttling: 'Too many requests. Try again in a moment.',
};

export function ErrorNote({ error }) {
  if (!error) return null;
  if (error instanceof ApiError) {
    return (
      <div class="error" role="alert">
        <strong>{PLAIN[error.code] || 'The request failed.'}</strong> {error.message}{' '}
        <span class="code">
          ({error.code}
          {error.requestId ? ', request ' + error.requestId : ''})
        </span>
      </div>
    );
  }
  return (
    <div class="error" role="alert">
      <strong>Something went wrong.</strong> {String(error.message || error)}
    </div>
  );
}

export function ProgressBar({ value, label }) {
  return (
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow={value} aria-label={label}>
      <div class="bar" style={{ width: value + '%' }} />
    </div>
  );
}

export function Pager({ page, pageSize, total, onPage }) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return (
    <nav class="pager" aria-label="Pages">
      <span>
        {total} item{total === 1 ? '' : 's'} · page {page} of {pages}
      </span>
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <button type="button" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}

// Calls load() now and again: every second while `moving(result)` says
// something is in progress and the result keeps changing, backing off
// (doubling, up to 15 s) while nothing changes, and every 30 s when nothing
// is in progress. Paused while the tab is hidden. Returns [result, error,
// reload].
export function usePolling(load, moving, deps) {
  const [state, setState] = useState({ result: null, error: null });
  const timer = useRef(null);
  const generation = useRef(0);
  const run = useCallback(() => {
    const gen = ++generation.current;
    clearTimeout(timer.current);
    let delay = 1000;
    let last = null;
    const tick = async () => {
      if (gen !== generation.current) return;
      if (document.hidden) {
        timer.current = setTimeout(tick, 1000);
        return;
      }
      let next;
      try {
        const result = await load();
        if (gen !== generation.current) return;
        setState({ result, error: null });
        const fingerprint = JSON.stringify(result);
        if (!moving(result)) {
          next = 30000;
        } else if (fingerprint !== last) {
          next = delay = 1000;
        } else {
          next = delay = Math.min(delay * 2, 15000);
        }
        last = fingerprint;
      } catch (error) {
        if (gen !== generation.current) return;
        setState((s) => ({ result: s.result, error }));
        next = delay = Math.min(delay * 2, 15000);
      }
      timer.current = setTimeout(tick, next);
    };
    tick();
  }, deps);
  useEffect(() => {
    run();
    return () => {
      generation.current++;
      clearTimeout(timer.current);
    };
  }, [run]);
  return [state.result, state.error, run];
}

// A page's title with its Refresh button.
export function PageHead({ id, title, onRefresh }) {
  return (
    <div class="page-head">
      <h1 id={id}>{title}</h1>
      <button type="button" onClick={onRefresh}>
        Refresh
      </button>
    </div>
  );
}

// What a list shows before and instead of rows: the load error, "Loading…",
// or the empty text once loaded with nothing.
export function ListStatus({ result, error, count, loading, empty }) {
  return (
    <>
      <ErrorNote error={error} />
      {!result && !error ? <p class="muted">{loading}</p> : null}
      {result && count === 0 ? <p class="empty">{empty}</p> : null}
    </>
  );
}

// A dialog holding a form: fields, the API's error, Cancel and a submit
// button that reads `busyLabel` while the request runs.
export function FormDialog({
  title,
  onClose,
  onSubmit,
  busy,
  disabled,
  submitLabel,
  busyLabel,
  cancelLabel = 'Cancel',
  error,
  wide,
  children,
}) {
  return (
    <Dialog title={title} onClose={onClose} wide={wide}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
        noValidate
      >
        <div class="dialog-body">{children}</div>
        <ErrorNote error={error} />
        <footer>
          <button type="button" onClick={onClose}>
            {cancelLabel}
          </button>
          <button type="submit" class="primary" disabled={busy || disabled}>
            {busy ? busyLabel : submitLabel}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

// The dialog that says what a request started, with a Close button.
export function ResultDialog({ title, onClose, children }) {
  return (
    <Dialog title={title} onClose={onClose}>
      <div class="dialog-body">{children}</div>
      <footer>
        <button type="button" class="primary" onClick={onClose}>
          Close
        </button>
      </footer>
    </Dialog>
  );
}

// Runs `request` for a form: busy while it runs, its error kept, its
// result passed to onDone. Returns [submit, busy, error].
export function useSubmit(request, onDone) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      onDone(await request());
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  return [submit, busy, error];
}

// A list of resources: one header per column, rows as children (cells
// carry data-label, which narrow screens show above each value).
export function ListTable({ columns, children }) {
  return (
    <table class="list">
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

// The first cell of a row: the resource's id, its name, and more below.
export function IdCell({ id, name, children }) {
  return (
    <td data-label="ID / Name">
      <div class="mono">{id}</div>
      <div>{name}</div>
      {children}
    </td>
  );
}
