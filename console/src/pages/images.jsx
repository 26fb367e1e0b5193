// Instances & Images › Images: custom, public and shared images of the
// region, their status live (a progress bar and ETA while Waiting or
// Creating), and the row actions of the seed's procedure.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useConsole, go } from '../context.js';
import { ConfirmDialog, IdCell, ListStatus, ListTable, PageHead, Pager, ProgressBar, usePolling } from '../components.jsx';
import { EtaTracker, duration, gib, percent, when } from '../format.js';
import { CopyImageDialog, CreateInstanceDialog, ExportDialog, ShareDialog } from './image_dialogs.jsx';
import { copyQueue, useCopyQueue } from '../copy_queue.js';

const TABS = [
  { id: 'custom', label: 'Custom images', alias: 'self' },
  { id: 'public', label: 'Public images', alias: 'system' },
  { id: 'shared', label: 'Shared images', alias: 'others' },
];
const ALL_STATUSES = 'Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated';
const PAGE_SIZE = 10;
const TYPE_LABEL = { self: 'Custom', system: 'Public', others: 'Shared', marketplace: 'Marketplace' };

export function isMoving(image) {
  return image.Status === 'Creating' || image.Status === 'Waiting';
}

export function ImagesPage({ query }) {
  const { api, region } = useConsole();
  const tab = TABS.find((t) => t.id === query.get('tab')) || TABS[0];
  const [search, setSearch] = useState(query.get('q') || '');
  const [applied, setApplied] = useState(query.get('q') || '');
  const [page, setPage] = useState(1);
  const [dialog, setDialog] = useState(null);
  const eta = useRef(new EtaTracker());
  const queued = useCopyQueue();

  const [result, error, reload] = usePolling(
    () => {
      const filter = applied.trim();
      return api('DescribeImages', {
        RegionId: region,
        ImageOwnerAlias: tab.alias,
        Status: ALL_STATUSES,
        PageNumber: page,
        PageSize: PAGE_SIZE,
        ImageId: /^m-/.test(filter) ? filter : undefined,
        ImageName: filter && !/^m-/.test(filter) ? filter : undefined,
      });
    },
    (body) => ((body.Images && body.Images.Image) || []).some(isMoving),
    [region, tab.id, applied, page],
  );
  const images = (result && result.Images && result.Images.Image) || [];
  const total = result ? Number(result.TotalCount) || 0 : 0;
  const close = () => setDialog(null);
  const done = () => {
    setDialog(null);
    reload();
  };

  // The selection changes with the URL (hashchange): the focus follows once
  // the newly selected tab is rendered.
  const tabList = useRef(null);
  const focusTab = useRef(false);
  useEffect(() => {
    if (!focusTab.current) return;
    focusTab.current = false;
    tabList.current?.querySelector('[aria-selected="true"]')?.focus();
  }, [tab.id]);
  const chooseTab = (t) => {
    setPage(1);
    go('images', { tab: t.id });
  };
  // The tabs pattern: one tab in the Tab order, arrows (and Home/End) move
  // between tabs and select the one they land on.
  const onTabKey = (e) => {
    const at = TABS.indexOf(tab);
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    focusTab.current = true;
    chooseTab(TABS[(next + TABS.length) % TABS.length]);
  };

  return (
    <section aria-labelledby="images-title">
      <PageHead id="images-title" title="Images" onRefresh={reload} />
      <div role="tablist" aria-label="Image types" class="tabs" ref={tabList} onKeyDown={onTabKey}>
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={t === tab}
            tabIndex={t === tab ? 0 : -1}
            onClick={() => chooseTab(t)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(1);
          setApplied(search);
        }}
      >
        <label>
          <span class="visually-hidden">Search images by name or ID</span>
          <input
            type="search"
            placeholder="Search by name or image ID"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Search</button>
      </form>
      {queued.length ? <QueuedCopies items={queued} /> : null}
      <ListStatus
        result={result}
        error={error}
        count={images.length}
        loading="Loading images…"
        empty={applied ? 'No image matches "' + applied + '".' : 'No images here yet.'}
      />
      {images.length ? (
        <ListTable columns={['ID / Name', 'Type', 'Platform', 'Size', 'Status', 'Created', 'Actions']}>
            {images.map((image) => (
              <ImageRow key={image.ImageId} image={image} eta={eta.current} onAction={(kind) => setDialog({ kind, image })} />
            ))}
          </ListTable>
      ) : null}
      {result && total > PAGE_SIZE ? <Pager page={page} pageSize={PAGE_SIZE} total={total} onPage={setPage} /> : null}
      {dialog ? <ImageDialog dialog={dialog} onClose={close} onDone={done} /> : null}
    </section>
  );
}

function ImageRow({ image, eta, onAction }) {
  const custom = image.ImageOwnerAlias === 'self';
  const moving = isMoving(image);
  const available = image.Status === 'Available';
  const actions = [];
  if (custom && available) actions.push(['copy', 'Copy Image']);
  if (custom && moving && image.IsCopied) actions.push(['cancel', 'Cancel Copy']);
  if (custom && (available || image.Status === 'Deprecated')) actions.push(['share', 'Share']);
  if (custom && available) actions.push(['export', 'Export']);
  if (available || image.Status === 'Deprecated') actions.push(['instance', 'Create Instance']);
  if (custom && !moving) actions.push(['delete', 'Delete']);
  return (
    <tr>
      <IdCell id={image.ImageId} name={image.ImageName}>
        {image.Description ? <div class="muted small">{image.Description}</div> : null}
      </IdCell>
      <td data-label="Type">{TYPE_LABEL[image.ImageOwnerAlias] || image.ImageOwnerAlias}</td>
      <td data-label="Platform">
        {image.Platform || '—'}
        {image.OSNameEn || image.OSName ? <div class="muted small">{image.OSNameEn || image.OSName}</div> : null}
      </td>
      <td data-label="Size">{gib(image.Size)}</td>
      <td data-label="Status">
        <ImageStatus image={image} eta={eta} />
      </td>
      <td data-label="Created">{when(image.CreationTime)}</td>
      <td data-label="Actions" class="actions">
        {actions.map(([kind, label]) => (
          <button
            key={kind}
            type="button"
            class={'link' + (kind === 'delete' || kind === 'cancel' ? ' danger' : '')}
            aria-label={label + ' ' + image.ImageId}
            onClick={() => onAction(kind)}
          >
            {label}
          </button>
        ))}
      </td>
    </tr>
  );
}

const STATUS_WORDS = {
  Available: 'Available',
  Creating: 'Creating',
  Waiting: 'Waiting',
  CreateFailed: 'Failed',
  UnAvailable: 'Unavailable',
  Deprecated: 'Deprecated',
};

function ImageStatus({ image, eta }) {
  const words = STATUS_WORDS[image.Status] || image.Status;
  if (!isMoving(image)) {
    eta.forget(image.ImageId);
    return <span class={'status s-' + image.Status}>{words}</span>;
  }
  const pct = percent(image.Progress) ?? 0;
  const left = image.Status === 'Creating' ? eta.observe(image.ImageId, pct) : null;
  return (
    <div class="status-moving">
      <span class={'status s-' + image.Status}>{words}</span>{' '}
      <span class="small">
        {pct} %{left !== null ? ' · about ' + duration(left) + ' left' : image.Status === 'Waiting' ? ' · queued' : ''}
      </span>
      <ProgressBar value={pct} label={'Progress of ' + image.ImageId} />
    </div>
  );
}

function QueuedCopies({ items }) {
  return (
    <div class="notice" role="status">
      <strong>Copies waiting to start.</strong> The API copies one image to one region at a time; these start in turn
      while this tab stays open:
      <ul>
        {items.map((q) => (
          <li key={q.imageId + q.region}>
            {q.imageId} → {q.region}: {q.state === 'failed' ? 'failed — ' + q.error : q.note || q.state}
          </li>
        ))}
      </ul>
    </div>
  );
}

function ImageDialog({ dialog, onClose, onDone }) {
  const { api, region } = useConsole();
  const { kind, image } = dialog;
  if (kind === 'copy') return <CopyImageDialog image={image} onClose={onDone} />;
  if (kind === 'share') return <ShareDialog image={image} onClose={onDone} />;
  if (kind === 'export') return <ExportDialog image={image} onClose={onDone} />;
  if (kind === 'instance') return <CreateInstanceDialog image={image} onClose={onDone} />;
  if (kind === 'cancel') {
    return (
      <ConfirmDialog
        title="Cancel copy"
        confirmLabel="Cancel Copy"
        danger
        onClose={onDone}
        onConfirm={() => api('CancelCopyImage', { RegionId: region, ImageId: image.ImageId })}
      >
        <p>
          Stop copying into <strong class="mono">{image.ImageId}</strong> ({image.ImageName})? The partial copy is deleted;
          the source image is not affected.
        </p>
      </ConfirmDialog>
    );
  }
  if (kind === 'delete') {
    return (
      <ConfirmDialog
        title="Delete image"
        confirmLabel="Delete"
        danger
        onClose={onDone}
        onConfirm={() => api('DeleteImage', { RegionId: region, ImageId: image.ImageId })}
      >
        <p>
          Delete image <strong>{image.ImageName}</strong> (<span class="mono">{image.ImageId}</span>)? This cannot be
          undone. Instances already created from it keep their disks.
        </p>
      </ConfirmDialog>
    );
  }
  onClose();
  return null;
}

export { copyQueue };
