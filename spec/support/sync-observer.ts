import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

type FdatasyncCallback = (error: NodeJS.ErrnoException | null) => void;

/**
 * Wraps the real fdatasync, as group-commit.ts sees it through its ESM import, to watch
 * syncs and hold each one's completion until the test releases it (with an error, to fail it).
 */
export class SyncObserver {
  readonly started: Array<{ release: (error?: NodeJS.ErrnoException) => void }> = [];
  private readonly original = fs.fdatasync;
  private holding = true;

  install(): void {
    this.started.length = 0;
    this.holding = true;
    const observer = this;
    (fs as { fdatasync: unknown }).fdatasync = (fd: number, callback: FdatasyncCallback) => {
      observer.original(fd, (error) => {
        if (!observer.holding) return callback(error);
        let released = false;
        observer.started.push({
          release: (injected) => {
            if (released) return;
            released = true;
            callback(injected ?? error);
          },
        });
      });
    };
    syncBuiltinESMExports();
  }

  /** Releases every sync still held, failing them with `error` if given; later syncs complete as they would. */
  releaseAll(error?: NodeJS.ErrnoException): void {
    this.holding = false;
    for (const sync of this.started) sync.release(error);
  }

  restore(): void {
    (fs as { fdatasync: unknown }).fdatasync = this.original;
    syncBuiltinESMExports();
  }
}
