import { open, rm, stat } from 'node:fs/promises';
import { DataError, UsageError } from '../errors.js';
import { CLIENT_LIMITS } from '../core/limits.js';
import type { ClientOptions } from './client-options.js';
import type { Fetcher } from './fetcher.js';
import type { StateLayout } from './state-layout.js';
import { metadataFile } from './state-layout.js';
import { TufClient } from './tuf/index.js';
import { rootMismatchError } from './tuf/root-mismatch.js';
import { makeDirs } from '../io/make-dirs.js';

/** The root.json the app ships (bytes, or a path to it), bounded like every file read from outside. */
async function readTrustedRoot(root: Uint8Array | string): Promise<Uint8Array> {
  if (typeof root !== 'string') return root;
  let handle;
  try {
    handle = await open(root, 'r');
  } catch (cause) {
    throw new UsageError(
      'TRUSTED_ROOT_MISSING',
      `cannot read the trusted root ${root}: ship root.json with the app`,
      {
        cause,
      },
    );
  }
  try {
    const { size } = await handle.stat();
    if (size > CLIENT_LIMITS.maxRootBytes) {
      throw new DataError(
        'TOO_LONG',
        `trusted root ${root} is ${size} bytes, over ${CLIENT_LIMITS.maxRootBytes}`,
      );
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * One Client's TUF client: made from the shipped root on first use, refreshed (spec 5.3-5.6) at
 * least once, and again whenever asked (every `check`: an app that keeps one Client for days must
 * see new metadata, and expiry).
 */
export class TufSession {
  readonly #layout: StateLayout;
  readonly #options: Pick<ClientOptions, 'trustedRoot' | 'metadataUrl' | 'targetsUrl'>;
  readonly #fetcher: Fetcher;
  #tuf: TufClient | undefined;

  constructor(
    layout: StateLayout,
    options: Pick<ClientOptions, 'trustedRoot' | 'metadataUrl' | 'targetsUrl'>,
    fetcher: Fetcher,
  ) {
    this.#layout = layout;
    this.#options = options;
    this.#fetcher = fetcher;
  }

  /** The TUF client, refreshed by this session at least once; `fresh` refreshes it again. */
  async refreshed(fresh = false): Promise<TufClient> {
    if (this.#tuf !== undefined) {
      if (fresh) await this.#refresh(this.#tuf);
      return this.#tuf;
    }
    await makeDirs(this.#layout.metadataDir);
    await TufClient.initialize(this.#layout.metadataDir, await readTrustedRoot(this.#options.trustedRoot));
    const tuf = new TufClient({
      metadataDir: this.#layout.metadataDir,
      metadataUrl: this.#options.metadataUrl,
      targetsUrl: this.#options.targetsUrl,
      fetcher: this.#fetcher,
    });
    await this.#refresh(tuf);
    this.#tuf = tuf;
    return tuf;
  }

  /**
   * One TUF refresh. Refused signatures before any timestamp was ever verified here mean the
   * shipped root.json does not match this repository: say so (TRUSTED_ROOT_MISMATCH), and drop the
   * copy of that root from the state folder, so a corrected root.json is taken on the next run.
   */
  async #refresh(tuf: TufClient): Promise<void> {
    const firstContact = await stat(metadataFile(this.#layout, 'timestamp.json')).then(
      () => false,
      () => true,
    );
    try {
      await tuf.refresh();
    } catch (error) {
      if (!firstContact) throw error;
      const mismatch = rootMismatchError(error, {
        trustedRoot:
          typeof this.#options.trustedRoot === 'string'
            ? this.#options.trustedRoot
            : 'root.json (given as bytes)',
        metadataUrl: this.#options.metadataUrl,
      });
      if (mismatch !== error) {
        await rm(metadataFile(this.#layout, 'root.json'), { force: true });
        this.#tuf = undefined;
      }
      throw mismatch;
    }
  }
}
