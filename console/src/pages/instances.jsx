// Instances & Images › Instances: the region's instances with start, stop,
// reboot, delete and "create image" (the seed's workaround for images that
// cannot be copied).
import { useState } from 'preact/hooks';
import { useConsole } from '../context.js';
import { ConfirmDialog, Dialog, ErrorNote, Pager, usePolling } from '../components.jsx';
import { imageNameError } from '../validate.js';
import { when } from '../format.js';

const PAGE_SIZE = 20;
const TRANSIENT = new Set(['Pending', 'Starting', 'Stopping']);

export function InstancesPage() {
  const { api, region } = useConsole();
  const [page, setPage] = useState(1);
  const [dialog, setDialog] = useState(null);
  const [error, setError] = useState(null);
  const [result, loadError, reload] = usePolling(
    () => api('DescribeInstances', { RegionId: region, PageNumber: page, PageSize: PAGE_SIZE }),
    (body) => ((body.Instances && body.Instances.Instance) || []).some((i) => TRANSIENT.has(i.Status)),
    [region, page],
  );
  const instances = (result && result.Instances && result.Instances.Instance) || [];
  const act = async (action, instance) => {
    setError(null);
    try {
      await api(action, { RegionId: region, InstanceId: instance.InstanceId });
    } catch (e) {
      setError(e);
    }
    reload();
  };
  const done = () => {
    setDialog(null);
    reload();
  };
  return (
    <section aria-labelledby="instances-title">
      <div class="page-head">
        <h1 id="instances-title">Instances</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorNote error={error || loadError} />
      {!result && !loadError ? <p class="muted">Loading instances…</p> : null}
      {result && instances.length === 0 ? (
        <p class="empty">No instances in this region. Create one from an image on the Images page.</p>
      ) : null}
      {instances.length ? (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">ID / Name</th>
              <th scope="col">Image</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {instances.map((i) => (
              <tr key={i.InstanceId}>
                <td data-label="ID / Name">
                  <div class="mono">{i.InstanceId}</div>
                  <div>{i.InstanceName}</div>
                </td>
                <td data-label="Image" class="mono">
                  {i.ImageId}
                </td>
                <td data-label="Type">{i.InstanceType}</td>
                <td data-label="Status">
                  <span class={'status s-' + i.Status}>{i.Status}</span>
                </td>
                <td data-label="Created">{when(i.CreationTime)}</td>
                <td data-label="Actions" class="actions">
                  {i.Status === 'Stopped' ? (
                    <button type="button" class="link" aria-label={'Start ' + i.InstanceId} onClick={() => act('StartInstance', i)}>
                      Start
                    </button>
                  ) : null}
                  {i.Status === 'Running' ? (
                    <>
                      <button type="button" class="link" aria-label={'Stop ' + i.InstanceId} onClick={() => act('StopInstance', i)}>
                        Stop
                      </button>
                      <button
                        type="button"
                        class="link"
                        aria-label={'Reboot ' + i.InstanceId}
                        onClick={() => act('RebootInstance', i)}
                      >
                        Reboot
                      </button>
                    </>
                  ) : null}
                  {i.Status === 'Running' || i.Status === 'Stopped' ? (
                    <button
                      type="button"
                      class="link"
                      aria-label={'Create image from ' + i.InstanceId}
                      onClick={() => setDialog({ kind: 'image', instance: i })}
                    >
                      Create Image
                    </button>
                  ) : null}
                  <button
                    type="button"
                    class="link danger"
                    aria-label={'Delete ' + i.InstanceId}
                    onClick={() => setDialog({ kind: 'delete', instance: i })}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {result && Number(result.TotalCount) > PAGE_SIZE ? (
        <Pager page={page} pageSize={PAGE_SIZE} total={Number(result.TotalCount)} onPage={setPage} />
      ) : null}
      {dialog && dialog.kind === 'delete' ? (
        <ConfirmDialog
          title="Delete instance"
          confirmLabel="Delete"
          danger
          onClose={done}
          onConfirm={() => api('DeleteInstance', { RegionId: region, InstanceId: dialog.instance.InstanceId, Force: 'true' })}
        >
          <p>
            Delete instance <strong>{dialog.instance.InstanceName}</strong> (
            <span class="mono">{dialog.instance.InstanceId}</span>) and its disks? A running instance is stopped first. This
            cannot be undone.
          </p>
        </ConfirmDialog>
      ) : null}
      {dialog && dialog.kind === 'image' ? <CreateImageDialog instance={dialog.instance} onClose={done} /> : null}
    </section>
  );
}

function CreateImageDialog({ instance, onClose }) {
  const { api, region } = useConsole();
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [imageId, setImageId] = useState('');
  const nameError = name === '' ? null : imageNameError(name);
  const submit = async (e) => {
    e.preventDefault();
    if (nameError) return;
    setBusy(true);
    setError(null);
    try {
      const body = await api('CreateImage', { RegionId: region, InstanceId: instance.InstanceId, ImageName: name });
      setImageId(body.ImageId || '');
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };
  return (
    <Dialog title="Create image from instance" onClose={onClose}>
      {imageId ? (
        <>
          <div class="dialog-body">
            <p>
              Image <span class="mono">{imageId}</span> is being created from {instance.InstanceId}.{' '}
              <a href="#/images?tab=custom" onClick={onClose}>
                Open Images
              </a>
            </p>
          </div>
          <footer>
            <button type="button" class="primary" onClick={onClose}>
              Close
            </button>
          </footer>
        </>
      ) : (
        <form onSubmit={submit} noValidate>
          <div class="dialog-body">
            <p>
              A custom image of every disk of <span class="mono">{instance.InstanceId}</span>. The instance's user data and
              RAM role are not part of it.
            </p>
            <label class="field">
              <span>Image name</span>
              <input value={name} aria-invalid={nameError ? 'true' : undefined} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            {nameError ? <div class="field-error">{nameError}</div> : null}
          </div>
          <ErrorNote error={error} />
          <footer>
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create'}
            </button>
          </footer>
        </form>
      )}
    </Dialog>
  );
}
