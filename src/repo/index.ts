// notsotuf/repo: the publisher's programmatic API. This file only re-exports.
export { initRepository } from './init.js';
export type { InitOptions } from './init.js';
export { loadConfig, parseConfig, writeConfig, CONFIG_FILE } from './config.js';
export type { RepoConfig } from './config.js';
export { DEFAULT_EXPIRY, MIN_ROOT_DAYS, expiresAt } from './expiry.js';
export type { Expiry } from './expiry.js';
export { ROLE_NAMES, parseRoleName } from './roles.js';
export type { RoleName } from './roles.js';
export { generateKey, keyIdOf, signerFor, tufPublicKey } from './keys.js';
export type { KeyPair, Signer } from './keys.js';
export { createKey, listKeys, loadSigner, readPublicKey, envPassphrases, envKeyName } from './key-store.js';
export type { PassphraseAnswer, PassphraseSource, StoredKey } from './key-store.js';
export { addRelease, removeLatestRelease, readReleases, DIFF_PATCH_MAKER } from './release.js';
export type {
  AddReleaseOptions,
  AddReleaseResult,
  PatchMaker,
  PatchResult,
  RemoveLatestResult,
} from './release.js';
export { listReleases, latestRelease } from './release-list.js';
export type { Release } from './release-list.js';
export { addKeyToRole, replaceKey, revokeKey, setThreshold } from './key-roles.js';
export type { RoleChangeOptions, RoleChangeResult } from './key-roles.js';
export { signRole } from './sign-role.js';
export type { SignRoleResult } from './sign-role.js';
export { refreshRepository } from './refresh.js';
export type { RefreshOptions, RefreshResult } from './refresh.js';
export { verifyRepository } from './verify.js';
export type { VerifyOptions, VerifyReport } from './verify.js';
export type { Problem, RoleStatus } from './inspect-metadata.js';
export { inspectRepositoryMetadata } from './repository-files.js';
export type { Inspection } from './inspect-metadata.js';
export { checkPublishDestination, publishRepository, publishTo } from './publish.js';
export { folderDestination } from './publish-destination.js';
export { parseS3Url, s3Destination } from './s3-destination.js';
export type { S3Location, S3Options } from './s3-destination.js';
export type { Freshness, LocalFile, PublishDestination } from './publish-destination.js';
export { clientExeName, INSTALLER_PLATFORMS, repositoryUrls, writeInstaller } from './installer.js';
export type { InstallerOptions, InstallerPlatform, InstallerResult } from './installer.js';
export { pruneRepository } from './prune.js';
export type { PruneOptions, PruneResult } from './prune.js';
export type { PublishAction, PublishOptions, PublishResult } from './publish.js';
export { serveRepository } from './serve.js';
export type { RunningServer, ServeOptions } from './serve.js';
export { publishTufupBridge } from './tufup-bridge.js';
export type { TufupBridgeOptions, TufupBridgeResult } from './tufup-bridge.js';
export * from '../error-exports.js';
