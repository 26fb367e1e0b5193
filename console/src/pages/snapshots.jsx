// Instances & Images › Snapshots: the region's snapshots of this account,
// with progress while they are taken.
import { useState } from 'preact/hooks';
import { useConsole } from '../context.js';
import { IdCell, ListStatus, ListTable, PageHead, Pager, ProgressBar, usePolling } from '../components.jsx';
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
      <PageHead id="snapshots-title" title="Snapshots" onRefresh={reload} />
      <ListStatus
        result={result}
        error={error}
        count={snapshots.length}
        loading="Loading snapshots…"
        empty="No snapshots in this region."
      />
      {snapshots.length ? (
        <ListTable columns={['ID / Name', 'Source disk', 'Size', 'Used by', 'Status', 'Created']}>
            {snapshots.map((s) => (
              <tr key={s.SnapshotId}>
                <IdCell id={s.SnapshotId} name={s.SnapshotName} />
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
          </ListTable>
      ) : null}
      {result && Number(result.TotalCount) > PAGE_SIZE ? (
        <Pager page={page} pageSize={PAGE_SIZE} total={Number(result.TotalCount)} onPage={setPage} />
      ) : null}
    </section>
  );
}
