import { SluiceError } from '../errors/base.js';

/** A console user or API key action refused for a reason the caller can fix; `code` is the API's. */
export class AdminActionError extends SluiceError {
  override name = 'AdminActionError';
}
