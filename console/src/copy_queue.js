// Copies to several regions. The API copies one image to one region at a
// time (a second CopyImage of the image while a copy runs is
// OperationDenied.ImageCopyConflict), so the console starts the first at
// once and each next one when the one before it has finished, for as long
// as this tab is open. The Images page lists the ones still waiting.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.js';

const POLL_MS = 3000;
const CONFLICT_RETRY_MS = 5000;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

class CopyQueue {
  constructor() {
    this.items = [];
    this.listeners = new Set();
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed() {
    for (const fn of this.listeners) fn(this.items.slice());
  }

  // Starts copies of `image` (in `sourceRegion`) to `targets` in order.
  // Resolves once the first one was started or refused: to the list of
  // entries { region, state, copyId, error } as they are then; the rest
  // go on in the background.
  async start(api, sourceRegion, image, targets, name, description) {
    const entries = targets.map((region) => ({
      imageId: image.ImageId,
      sourceRegion,
      region,
      name,
      description,
      state: 'queued',  // queued | starting | started | failed
      note: '',         // why a queued one waits
      copyId: '',
      error: '',
    }));
    this.items.push(...entries);
    this.changed();
    const first = entries.length ? this.startOne(api, entries[0]) : Promise.resolve();
    await first;
    this.runRest(api, entries);
    return entries.map((e) => ({ ...e }));
  }

  async startOne(api, entry) {
    entry.state = 'starting';
    this.changed();
    try {
      const body = await api('CopyImage', {
        RegionId: entry.sourceRegion,
        ImageId: entry.imageId,
        DestinationRegionId: entry.region,
        DestinationImageName: entry.name,
        DestinationDescription: entry.description,
      });
      entry.state = 'started';
      entry.copyId = body.ImageId || '';
    } catch (e) {
      if (e instanceof ApiError && e.code === 'OperationDenied.ImageCopyConflict') {
        entry.state = 'queued';
        entry.note = 'waiting for the copy of this image that is running';
      } else {
        entry.state = 'failed';
        entry.error = e instanceof ApiError ? e.code + ': ' + e.message : String(e.message || e);
      }
    }
    this.changed();
  }

  // Waits for each started copy to end before starting the next entry.
  async runRest(api, entries) {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (!this.items.includes(entry)) return;  // signed out
      while (entry.state === 'queued' && this.items.includes(entry)) {
        await this.startOne(api, entry);
        if (entry.state === 'queued') await sleep(CONFLICT_RETRY_MS);
      }
      if (entry.state === 'started' && i + 1 < entries.length) {
        entries[i + 1].note = 'waiting for the copy to ' + entry.region + ' to finish';
        this.changed();
        await this.waitForEnd(api, entry);
      }
    }
    // Keep failures on show; the rest are in their regions' lists now.
    this.items = this.items.filter((x) => !entries.includes(x) || x.state === 'failed');
    this.changed();
  }

  async waitForEnd(api, entry) {
    while (this.items.includes(entry)) {
      await sleep(POLL_MS);
      try {
        const body = await api('DescribeImages', {
          RegionId: entry.region,
          ImageId: entry.copyId,
          Status: 'Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated',
        });
        const image = body.Images && body.Images.Image && body.Images.Image[0];
        if (!image || (image.Status !== 'Creating' && image.Status !== 'Waiting')) return;
      } catch (e) {
        if (!(e instanceof ApiError)) continue;  // the server is away for a moment
        return;
      }
    }
  }

  // Signing out drops every entry; their loops end.
  clear() {
    this.items = [];
    this.changed();
  }

  dismiss(entry) {
    this.items = this.items.filter((x) => x !== entry);
    this.changed();
  }
}

export const copyQueue = new CopyQueue();

// The entries not started yet, or failed, for every image.
export function useCopyQueue() {
  const [items, setItems] = useState(copyQueue.items.slice());
  useEffect(() => copyQueue.subscribe(setItems), []);
  return items.filter((x) => x.state !== 'started');
}
