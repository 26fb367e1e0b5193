// Instances & Images › Snapshots: the region's snapshots of this account,
// with progress while they are taken.
import { useState } from 'preact/hooks';
import { useConsole } from '../context.js';
import { ErrorNote, Pager, ProgressBar, usePolling } from '../components.jsx';
import { gib, percent, when } from '../format.js';

const PAGE_SIZE = 20;

export function SnapshotsPage() {
  const { api, region } = useConsole();
  const [page, setPage] = useState(1);
  const [result, error, reload] = usePolling(
    () => api('DescribeSnapshots', { RegionId: region, PageNumber: page, PageSize: PAGE_SIZE }),
    (body) => ((body.Snapshots && body.Snapshots.Snapshot) || []).some((s) => s.Status === 'progressing'),
    [region, page],
  );
  const snapshots = (result && result.Snapshots && result.Snapshots.Snapshot) || [];
  return (
    <section aria-labelledby="snapshots-title">
      <div class="page-head">
        <h1 id="snapshots-title">Snapshots</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorNote error={error} />
      {!result && !error ? <p class="muted">Loading snapshots…</p> : null}
      {result && snapshots.length === 0 ? <p class="empty">No snapshots in this region.</p> : null}
      {snapshots.length ? (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">ID / Name</th>
              <th scope="col">Source disk</th>
              <th scope="col">Size</th>
              <th scope="col">Used by</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {snapshots.map((s) => (
              <tr key={s.SnapshotId}>
                <td data-label="ID / Name">
                  <div class="mono">{s.SnapshotId}</div>
                  <div>{s.SnapshotName}</div>
                </td>
                <td data-label="Source disk">
                  <span class="mono">{s.SourceDiskId || '—'}</span>
                  {s.SourceDiskType ? <div class="muted small">{s.SourceDiskType}</div> : null}
                </td>
                <td data-label="Size">{gib(s.SourceDiskSize)}</td>
                <td data-label="Used by">{s.Usage === 'image' ? 'an image' : s.Usage === 'disk' ? 'a disk' : s.Usage === 'image_disk' ? 'an image and a disk' : 'nothing'}</td>
                <td data-label="Status">
                  <span class={'status s-' + s.Status}>{s.Status}</span>
                  {s.Status === 'progressing' ? (
                    <ProgressBar value={percent(s.Progress) ?? 0} label={'Progress of ' + s.SnapshotId} />
                  ) : null}
                </td>
                <td data-label="Created">{when(s.CreationTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {result && Number(result.TotalCount) > PAGE_SIZE ? (
        <Pager page={page} pageSize={PAGE_SIZE} total={Number(result.TotalCount)} onPage={setPage} />
      ) : null}
    </section>
  );
}
