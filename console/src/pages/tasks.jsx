// Instances & Images › Tasks: imports, exports and image tasks of the region
// (DescribeTasks, with each running task's progress), and the copies coming
// into it (images being copied here).
import { useConsole } from '../context.js';
import { ListStatus, ListTable, PageHead, ProgressBar, usePolling } from '../components.jsx';
import { percent, when } from '../format.js';

async function loadTasks(api, region) {
  const [tasks, copies] = await Promise.all([
    api('DescribeTasks', { RegionId: region, PageSize: 50 }),
    api('DescribeImages', { RegionId: region, ImageOwnerAlias: 'self', Status: 'Creating,Waiting', PageSize: 50 }),
  ]);
  const list = (tasks.TaskSet && tasks.TaskSet.Task) || [];
  // Progress of running tasks comes from DescribeTaskAttribute.
  const running = list.filter((t) => t.TaskStatus === 'Processing' || t.TaskStatus === 'Waiting').slice(0, 10);
  const details = await Promise.all(
    running.map((t) => api('DescribeTaskAttribute', { RegionId: region, TaskId: t.TaskId }).catch(() => null)),
  );
  const progress = {};
  running.forEach((t, i) => {
    if (details[i]) progress[t.TaskId] = details[i].TaskProcess;
  });
  return {
    tasks: list,
    progress,
    copies: ((copies.Images && copies.Images.Image) || []).filter((i) => i.IsCopied),
  };
}

export function TasksPage() {
  const { api, region } = useConsole();
  const [result, error, reload] = usePolling(
    () => loadTasks(api, region),
    (r) => r.copies.length > 0 || r.tasks.some((t) => t.TaskStatus === 'Processing' || t.TaskStatus === 'Waiting'),
    [region],
  );
  return (
    <section aria-labelledby="tasks-title">
      <PageHead id="tasks-title" title="Tasks" onRefresh={reload} />
      <ListStatus
        result={result}
        error={error}
        count={result ? result.tasks.length + result.copies.length : 0}
        loading="Loading tasks…"
        empty="No tasks in this region."
      />
      {result && (result.tasks.length || result.copies.length) ? (
        <ListTable columns={['Task', 'What', 'Status', 'Started', 'Finished']}>
            {result.copies.map((c) => (
              <tr key={c.ImageId}>
                <td data-label="Task" class="mono">
                  {c.ImageId}
                </td>
                <td data-label="What">Copy into this region ({c.ImageName})</td>
                <td data-label="Status">
                  <span class={'status s-' + c.Status}>{c.Status}</span> <span class="small">{percent(c.Progress) ?? 0} %</span>
                  <ProgressBar value={percent(c.Progress) ?? 0} label={'Progress of ' + c.ImageId} />
                </td>
                <td data-label="Started">{when(c.CreationTime)}</td>
                <td data-label="Finished">—</td>
              </tr>
            ))}
            {result.tasks.map((t) => {
              const pct = percent(result.progress[t.TaskId]);
              return (
                <tr key={t.TaskId}>
                  <td data-label="Task" class="mono">
                    {t.TaskId}
                  </td>
                  <td data-label="What">
                    {t.TaskAction}
                    {t.ResourceId ? <div class="mono small">{t.ResourceId}</div> : null}
                  </td>
                  <td data-label="Status">
                    <span class={'status s-' + t.TaskStatus}>{t.TaskStatus}</span>
                    {pct !== null && t.TaskStatus === 'Processing' ? (
                      <>
                        {' '}
                        <span class="small">{pct} %</span>
                        <ProgressBar value={pct} label={'Progress of ' + t.TaskId} />
                      </>
                    ) : null}
                  </td>
                  <td data-label="Started">{when(t.CreationTime)}</td>
                  <td data-label="Finished">{when(t.FinishedTime)}</td>
                </tr>
              );
            })}
          </ListTable>
      ) : null}
    </section>
  );
}
