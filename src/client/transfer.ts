/**
 * The transfer engine: pipelined uploads and downloads with MD5-proven resume
 * and a whole-file MD5 check at the end.
 *
 * Resume rules (resume: 'auto', the default):
 * - destination missing or empty: send everything;
 * - destination shorter than the source: continue after it, once its bytes are
 *   proven to be the source's first bytes by MD5 (upload: resume-upload@miniftp,
 *   the server compares; download: check-file over the server's range). A
 *   mismatch throws ResumeMismatchError and changes nothing: the caller decides
 *   whether to start over with resume: 'never';
 * - destination the same size: if the whole-file MD5s match there is nothing to
 *   send, otherwise it is another file and is replaced;
 * - destination larger: another file, replaced.
 * "Replaced" needs `overwrite` (default true); with overwrite: false the
 * transfer throws DestinationExistsError instead. resume: 'never' always sends
 * the whole file. resume: 'ask' is 'auto' except that a shorter destination
 * throws DestinationExistsError (marked `shorter`) before anything is read, so
 * the caller can ask first and call again with 'auto' or 'never'. Without the
 * extensions (a server other than MiniFTP) nothing can be proven: transfers
 * start over and end unverified (`verified: false`).
 */
export type { TransferProgress } from './progress';
export type { TransferOptions, TransferResult } from './transfer-options';
export { remoteMd5 } from './transfer-checks';
export { upload } from './upload';
export { download } from './download';
