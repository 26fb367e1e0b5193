// Instances & Images › Instances: the region's instances with start, stop,
// reboot, delete and "create image" (the seed's workaround for images that
// cannot be copied).
import { useState } from 'preact/hooks';
import { useConsole } from '../context.js';
import { ConfirmDialog, FormDialog, IdCell, ListStatus, ListTable, PageHead, Pager, ResultDialog, usePolling, useSubmit } from '../components.jsx';
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
      <PageHead id="instances-title" title="Instances" onRefresh={reload} />
      <ListStatus
        result={result}
        error={error || loadError}
        count={instances.length}
        loading="Loading instances…"
        empty="No instances in this region. Create one from an image on the Images page."
      />
      {instances.length ? (
        <ListTable columns={['ID / Name', 'Image', 'Type', 'Status', 'Created', 'Actions']}>
            {instances.map((i) => (
              <tr key={i.InstanceId}>
                <IdCell id={i.InstanceId} name={i.InstanceName} />
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
          </ListTable>
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
  const [imageId, setImageId] = useState('');
  const nameError = name === '' ? null : imageNameError(name);
  const [submit, busy, error] = useSubmit(
    () => api('CreateImage', { RegionId: region, InstanceId: instance.InstanceId, ImageName: name }),
    (body) => setImageId(body.ImageId || ''),
  );
  if (imageId) {
    return (
      <ResultDialog title="Create image from instance" onClose={onClose}>
        <p>
          Image <span class="mono">{imageId}</span> is being created from {instance.InstanceId}.{' '}
          <a href="#/images?tab=custom" onClick={onClose}>
            Open Images
          </a>
        </p>
      </ResultDialog>
    );
  }
  return (
    <FormDialog
      title="Create image from instance"
      onClose={onClose}
      onSubmit={() => !nameError && submit()}
      busy={busy}
      submitLabel="Create"
      busyLabel="Creating…"
      error={error}
    >
      <p>
        A custom image of every disk of <span class="mono">{instance.InstanceId}</span>. The instance's user data and RAM
        role are not part of it.
      </p>
      <label class="field">
        <span>Image name</span>
        <input value={name} aria-invalid={nameError ? 'true' : undefined} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      {nameError ? <div class="field-error">{nameError}</div> : null}
    </FormDialog>
  );
}
