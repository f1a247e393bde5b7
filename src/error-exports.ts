// The error API that both entry points (`notsotuf` and `notsotuf/repo`) offer: every class and
// the union of its codes, and not errors.ts's internals (such as `messageOf`). One list, so the two
// entry points cannot drift apart.
export {
  DataError,
  ERROR_CODES,
  InstallError,
  InternalError,
  NotsotufError,
  TransportError,
  UsageError,
} from './errors.js';
export type {
  DataErrorCode,
  ErrorCode,
  InstallErrorCode,
  InternalErrorCode,
  TransportErrorCode,
  UsageErrorCode,
} from './errors.js';
