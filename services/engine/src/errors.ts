export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** A write decided on an outdated version of an aggregate; the transaction is rolled back. */
export class StaleWriteError extends Error {
  override name = 'StaleWriteError';
}
