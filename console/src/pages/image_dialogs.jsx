// The dialogs of an image's row actions: Copy Image (to one or more
// regions), Share, Export and Create Instance. Every field is checked with
// the API's own rule as it is typed; the API's answer is shown as it comes.
import { cloneElement } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, listParams } from '../api.js';
import { useConsole, go } from '../context.js';
import { Dialog, ErrorNote, FormDialog, ResultDialog, useId, useSubmit } from '../components.jsx';
import { accountIdsError, descriptionError, imageNameError } from '../validate.js';
import { copyQueue } from '../copy_queue.js';

function Field({ label, error, hint, children }) {
  const errorId = useId('field-error');
  const hintId = useId('field-hint');
  const child = cloneElement(children, {
    'aria-invalid': error ? 'true' : undefined,
    'aria-describedby': [error ? errorId : '', hint ? hintId : ''].filter(Boolean).join(' ') || undefined,
  });
  return (
    <div class="field">
      <label>
        <span>{label}</span>
        {child}
      </label>
      {hint ? (
        <div class="hint" id={hintId}>
          {hint}
        </div>
      ) : null}
      {error ? (
        <div class="field-error" id={errorId}>
          {error}
        </div>
      ) : null}
    </div>
  );
}

function regionName(regions, id) {
  const r = regions.find((x) => x.RegionId === id);
  return r ? (r.LocalName || id) + ' (' + id + ')' : id;
}

// Copy Image: the image id for checking, target regions (several: one copy
// each, started in turn), name and description for the copies.
export function CopyImageDialog({ image, onClose }) {
  const { api, region, regions, setRegion } = useConsole();
  const others = regions.filter((r) => r.RegionId !== region);
  const [targets, setTargets] = useState([]);
  const [name, setName] = useState(image.ImageName || '');
  const [description, setDescription] = useState(image.Description || '');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [started, setStarted] = useState(null);
  const [tooLarge, setTooLarge] = useState(null);

  // Ask the API before the user fills the form whether this image is over
  // the size an operator must allow (a DryRun copy says so).
  useEffect(() => {
    if (!others.length) return;
    api('CopyImage', {
      RegionId: region,
      ImageId: image.ImageId,
      DestinationRegionId: others[0].RegionId,
      DryRun: 'true',
    }).catch((e) => {
      if (e instanceof ApiError && e.code === 'SizeExceed.Image') setTooLarge(e);
    });
  }, []);

  const nameError = name === '' ? null : imageNameError(name);
  const descError = descriptionError(description);
  const targetError = touched && targets.length === 0 ? 'Choose at least one target region.' : null;

  const submit = async () => {
    setTouched(true);
    if (targets.length === 0 || nameError || descError) return;
    setBusy(true);
    setError(null);
    const ordered = others.map((r) => r.RegionId).filter((id) => targets.includes(id));
    const result = await copyQueue.start(api, region, image, ordered, name, description);
    const first = result[0];
    if (first.state === 'failed') {
      copyQueue.dismiss(copyQueue.items.find((x) => x.imageId === image.ImageId && x.region === first.region));
      setError(new ApiError({ code: first.error.split(':')[0], message: first.error.replace(/^[^:]*: /, '') }));
      setBusy(false);
      return;
    }
    setStarted(result);
  };

  if (started) {
    return (
      <ResultDialog title="Copy started" onClose={onClose}>
        <ul class="outcomes">
          {started.map((s) => (
            <li key={s.region}>
              {regionName(regions, s.region)}:{' '}
              {s.state === 'started' ? (
                <>
                  copying into <span class="mono">{s.copyId}</span>.{' '}
                  <a
                    href={'#/images?tab=custom'}
                    onClick={(e) => {
                      e.preventDefault();
                      setRegion(s.region);
                      go('images', { tab: 'custom' });
                      onClose();
                    }}
                  >
                    View Images in {s.region}
                  </a>
                </>
              ) : (
                'starts when the copy before it has finished (keep this tab open).'
              )}
            </li>
          ))}
        </ul>
      </ResultDialog>
    );
  }

  return (
    <FormDialog
      title="Copy image"
      onClose={onClose}
      onSubmit={submit}
      busy={busy}
      disabled={others.length === 0}
      submitLabel="OK"
      busyLabel="Starting…"
      error={error}
      wide
    >
          <p>
            Image <strong class="mono">{image.ImageId}</strong> ({image.ImageName}), {image.Size} GiB, in{' '}
            {regionName(regions, region)}.
          </p>
          {tooLarge ? (
            <div class="notice warn" role="note">
              <strong>This image is over the size this cloud copies on its own.</strong> An operator must allow the copy
              first (<code>ferry admin allow-large-copy --account ACCOUNT --image {image.ImageId}</code>), or the copy is
              refused: {tooLarge.message}
            </div>
          ) : null}
          {others.length === 0 ? <p>There is no other region to copy to.</p> : null}
          <fieldset class="regions" aria-describedby={targetError ? 'copy-target-error' : undefined}>
            <legend>Target regions</legend>
            {others.map((r) => (
              <label key={r.RegionId} class="check">
                <input
                  type="checkbox"
                  checked={targets.includes(r.RegionId)}
                  onChange={(e) => {
                    const on = e.currentTarget.checked;
                    setTargets((t) => (on ? [...t, r.RegionId] : t.filter((x) => x !== r.RegionId)));
                  }}
                />
                {regionName(regions, r.RegionId)}
              </label>
            ))}
            {targetError ? (
              <div class="field-error" id="copy-target-error">
                {targetError}
              </div>
            ) : null}
          </fieldset>
          <Field
            label="Name of the copy"
            error={nameError}
            hint="2–128 characters: letters, digits, Chinese characters and . : _ -, starting with a letter. Empty: the API names it."
          >
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Description" error={descError} hint="Optional; 2–256 characters, not starting with http:// or https://.">
            <textarea rows="3" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </Field>
    </FormDialog>
  );
}

// Share: the accounts the image is shared with; add or remove some.
export function ShareDialog({ image, onClose }) {
  const { api, region } = useConsole();
  const [accounts, setAccounts] = useState(null);
  const [adding, setAdding] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = () =>
    api('DescribeImageSharePermission', { RegionId: region, ImageId: image.ImageId, PageSize: 100 })
      .then((body) => setAccounts((body.Accounts && body.Accounts.Account) || []))
      .catch(setError);
  useEffect(() => {
    load();
  }, []);
  const list = adding
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const addError = list.length ? accountIdsError(list) : null;
  const modify = async (params) => {
    setBusy(true);
    setError(null);
    try {
      await api('ModifyImageSharePermission', { RegionId: region, ImageId: image.ImageId, ...params });
      setAdding('');
      await load();
    } catch (e) {
      setError(e);
    }
    setBusy(false);
  };
  return (
    <FormDialog
      title="Share image"
      onClose={onClose}
      cancelLabel="Close"
      onSubmit={() => list.length && !addError && modify(listParams('AddAccount', list))}
      busy={busy}
      disabled={!list.length || !!addError}
      submitLabel="Share"
      busyLabel="Share"
      error={error}
    >
          <p>
            Accounts that can see and use <strong class="mono">{image.ImageId}</strong> ({image.ImageName}) in this region.
            They cannot change, copy, export or share it.
          </p>
          {accounts === null ? <p class="muted">Loading…</p> : null}
          {accounts && accounts.length === 0 ? <p class="muted">Not shared with any account.</p> : null}
          {accounts && accounts.length ? (
            <ul class="accounts">
              {accounts.map((a) => (
                <li key={a.AliyunId}>
                  <span class="mono">{a.AliyunId}</span>
                  <button
                    type="button"
                    class="link danger"
                    disabled={busy}
                    aria-label={'Stop sharing with ' + a.AliyunId}
                    onClick={() => modify(listParams('RemoveAccount', [a.AliyunId]))}
                  >
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
          <Field label="Share with accounts" error={addError} hint="Account IDs, separated by commas; at most 10 at once.">
            <input value={adding} onInput={(e) => setAdding(e.currentTarget.value)} />
          </Field>
    </FormDialog>
  );
}

// Export: to a bucket of the account's object storage, as a disk file.
export function ExportDialog({ image, onClose }) {
  const { api, region } = useConsole();
  const [bucket, setBucket] = useState('');
  const [prefix, setPrefix] = useState('');
  const [format, setFormat] = useState('raw');
  const [taskId, setTaskId] = useState('');
  const [submit, busy, error] = useSubmit(
    () =>
      api('ExportImage', {
        RegionId: region,
        ImageId: image.ImageId,
        OSSBucket: bucket.trim(),
        OSSPrefix: prefix.trim(),
        ImageFormat: format,
      }),
    (body) => setTaskId(body.TaskId || ''),
  );
  if (taskId) {
    return (
      <ResultDialog title="Export started" onClose={onClose}>
        <p>
          Task <span class="mono">{taskId}</span> exports {image.ImageId} to bucket {bucket}.{' '}
          <a href="#/tasks" onClick={onClose}>
            Follow it on the Tasks page
          </a>
          .
        </p>
      </ResultDialog>
    );
  }
  return (
    <FormDialog
      title="Export image"
      onClose={onClose}
      onSubmit={submit}
      busy={busy}
      disabled={!bucket.trim()}
      submitLabel="Export"
      busyLabel="Starting…"
      error={error}
    >
      <p>
        Write <strong class="mono">{image.ImageId}</strong> ({image.ImageName}) as a disk file into a bucket.
      </p>
      <Field label="Bucket">
        <input value={bucket} onInput={(e) => setBucket(e.currentTarget.value)} />
      </Field>
      <Field label="Object name prefix" hint="Optional.">
        <input value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} />
      </Field>
      <Field label="Format">
        <select value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
          {['raw', 'qcow2', 'vhd', 'vmdk', 'vdi'].map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </Field>
    </FormDialog>
  );
}

// Create Instance: RunInstances from the image.
export function CreateInstanceDialog({ image, onClose }) {
  const { api, region } = useConsole();
  const [type, setType] = useState('ecs.g6.large');
  const [name, setName] = useState('');
  const [diskSize, setDiskSize] = useState('');
  const [amount, setAmount] = useState('1');
  const [made, setMade] = useState(null);
  const amountError = /^[0-9]+$/.test(amount) && Number(amount) >= 1 && Number(amount) <= 100 ? null : 'From 1 to 100.';
  const sizeError =
    diskSize === '' || (/^[0-9]+$/.test(diskSize) && Number(diskSize) >= 20 && Number(diskSize) <= 2048)
      ? null
      : 'From 20 to 2048 GiB, or empty for the default.';
  const [submit, busy, error] = useSubmit(
    () =>
      api('RunInstances', {
        RegionId: region,
        ImageId: image.ImageId,
        InstanceType: type.trim(),
        InstanceName: name.trim(),
        'SystemDisk.Size': diskSize,
        Amount: amount,
      }),
    (body) => setMade((body.InstanceIdSets && body.InstanceIdSets.InstanceIdSet) || []),
  );
  if (made) {
    return (
      <ResultDialog title="Instances created" onClose={onClose}>
        <p>
          {made.length} instance{made.length === 1 ? '' : 's'} from {image.ImageId}:{' '}
          <span class="mono">{made.join(', ')}</span>.{' '}
          <a href="#/instances" onClick={onClose}>
            Open Instances
          </a>
        </p>
      </ResultDialog>
    );
  }
  return (
    <FormDialog
      title="Create instance"
      onClose={onClose}
      onSubmit={() => !amountError && !sizeError && submit()}
      busy={busy}
      submitLabel="Create"
      busyLabel="Creating…"
      error={error}
    >
      <p>
        From image <strong class="mono">{image.ImageId}</strong> ({image.ImageName}).
      </p>
      <Field label="Instance type">
        <input value={type} onInput={(e) => setType(e.currentTarget.value)} />
      </Field>
      <Field label="Instance name" hint="Optional.">
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="System disk size (GiB)" error={sizeError} hint="Optional; at least the image's size.">
        <input inputMode="numeric" value={diskSize} onInput={(e) => setDiskSize(e.currentTarget.value)} />
      </Field>
      <Field label="Amount" error={amountError}>
        <input inputMode="numeric" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
      </Field>
    </FormDialog>
  );
}
