/**
 * Hostile patch, truncated: an attacker with the targets key publishes a cut-off copy of the real
 * 1.1.0 patch, properly signed (so the download verifies): cut inside the header, or missing the
 * end of its streams. The patch engine refuses it (PATCH_TRUNCATED), the client falls back to the
 * full archive, and nothing half-written is left. See test/support/hostile-patch-suite.ts for what
 * each test asserts.
 */
import { hostilePatchTests } from '../support/hostile-patch-suite.js';

hostilePatchTests('hostile patch truncated inside its header', ({ patch }) => ({
  bytes: patch.subarray(0, 100),
  refusedAt: 'apply',
  code: 'PATCH_TRUNCATED',
}));

hostilePatchTests('hostile patch missing the last 16 bytes of its streams', ({ patch }) => ({
  bytes: patch.subarray(0, patch.length - 16),
  refusedAt: 'apply',
  code: 'PATCH_TRUNCATED',
}));
