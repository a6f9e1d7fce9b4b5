/**
 * ferro-nn's errors. Every error the library throws or rejects with is a
 * `FerroError` subclass whose `code` is stable across versions; messages
 * say what was expected and what was received, Keras-style.
 */

/** The stable codes of FerroError; ERR_FERRO_BUSY is a kind of ERR_FERRO_STATE. */
export type ErrorCode =
  | 'ERR_FERRO_TYPE'
  | 'ERR_FERRO_VALUE'
  | 'ERR_FERRO_SHAPE'
  | 'ERR_FERRO_STATE'
  | 'ERR_FERRO_BUSY'
  | 'ERR_FERRO_IO'
  | 'ERR_FERRO_INTERNAL';

/** The base class of every error ferro-nn throws; `code` says which kind. */
export class FerroError extends Error {
  /** Stable across versions: branch on this, not on the message. */
  readonly code: ErrorCode;

  /**
   * @param code the kind of error.
   * @param message what was expected and what was received.
   */
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A value of the wrong JavaScript type (a string where a Tensor belongs…). */
export class FerroTypeError extends FerroError {
  /** @param message what was expected and what was received. */
  constructor(message: string) {
    super('ERR_FERRO_TYPE', message);
  }
}

/** A value of the right type but not allowed: sizes, names, labels. */
export class FerroValueError extends FerroError {
  /** @param message what was expected and what was received. */
  constructor(message: string) {
    super('ERR_FERRO_VALUE', message);
  }
}

/** Shapes that do not fit together. */
export class FerroShapeError extends FerroError {
  /** @param message what was expected and what was received. */
  constructor(message: string) {
    super('ERR_FERRO_SHAPE', message);
  }
}

/** A call the object's state does not allow yet (not built, not compiled…). */
export class FerroStateError extends FerroError {
  /** @param message what was expected and what was received. */
  constructor(message: string) {
    super('ERR_FERRO_STATE', message);
  }
}

/**
 * The model is training and cannot take this call now. A state error, with
 * its own code so that callers can retry on it.
 */
export class FerroBusyError extends FerroStateError {
  /** @param message what was expected and what was received. */
  constructor(message: string) {
    super(message);
    (this as { code: ErrorCode }).code = 'ERR_FERRO_BUSY';
  }
}

/** Files and datasets that are missing or damaged. */
export class FerroIoError extends FerroError {
  /** @param message what was expected and what was received. */
  constructor(message: string) {
    super('ERR_FERRO_IO', message);
  }
}

/** A bug in ferro-nn (a caught native panic). Please report it. */
export class FerroInternalError extends FerroError {
  /** @param message what was expected and what was received. */
  constructor(message: string) {
    super('ERR_FERRO_INTERNAL', message);
  }
}

const byCode: Record<ErrorCode, new (message: string) => FerroError> = {
  ERR_FERRO_TYPE: FerroTypeError,
  ERR_FERRO_VALUE: FerroValueError,
  ERR_FERRO_SHAPE: FerroShapeError,
  ERR_FERRO_STATE: FerroStateError,
  ERR_FERRO_BUSY: FerroBusyError,
  ERR_FERRO_IO: FerroIoError,
  ERR_FERRO_INTERNAL: FerroInternalError,
};

/**
 * The native side reports errors as "[CODE] message"; this turns them into
 * the matching subclass. Anything else is a bug and becomes an internal error.
 */
export function fromNative(error: unknown): Error {
  if (error instanceof FerroError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = /^\[(ERR_FERRO_[A-Z]+)\] ([\s\S]*)$/.exec(message);
  const Ctor = match ? byCode[match[1] as ErrorCode] : undefined;
  if (match && Ctor) return new Ctor(match[2] ?? '');
  return new FerroInternalError(`Unexpected native error (please report it): ${message}`);
}

/** Calls into the native module, translating its errors. */
export function native<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromNative(error);
  }
}

/**
 * A native call that runs on ferro-nn's threads and reports through a
 * node-style callback, as a Promise; errors, thrown at once or reported
 * later, are translated.
 */
export function nativeCall<T>(start: (done: (error: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(fromNative(error)) : resolve(value)));
    } catch (error) {
      reject(fromNative(error));
    }
  });
}
