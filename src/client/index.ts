// The `notsotuf` entry point: the client an app ships. It never loads signing code (src/repo).
export { Client } from './client.js';
export type {
  CheckResult,
  ClientOptions,
  DownloadOptions,
  DownloadProgress,
  FirstInstallResult,
  InstallOptions,
  InstallStage,
  StagedUpdate,
  Update,
  UpdateAndRestartResult,
} from './client-options.js';
export type { UpdatePlan, PlannedTarget } from '../core/plan.js';
export type { ArchiveMeta, PatchMeta, Digest } from '../core/custom-metadata.js';
export type { Channel } from '../core/version.js';
export { CHANNELS } from '../core/version.js';
export type { HandoverResult } from './handover.js';
export { HANDOVER_ENV, readHandoverResult } from './handover.js';
export * from '../error-exports.js';
export { HttpStatusError } from './fetcher.js';
export type { FetchFn } from './fetcher.js';
