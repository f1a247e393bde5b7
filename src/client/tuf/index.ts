export { TufClient, type TufClientOptions, type TufLimits } from './tuf-client.js';
export { verifyTargetFile, type TrustedTarget } from './trusted-target.js';
