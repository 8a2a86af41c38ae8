import { AwsJsonError } from '../http.js';

/**
 * Reading AWS JSON 1.1 request members the way the service would: wrong types and missing
 * required members are rejected with the exception the service uses for them.
 */
export type WireObject = Record<string, unknown>;

export const isWireObject = (value: unknown): value is WireObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const validationError = (message: string) => new AwsJsonError('ValidationException', message);

/** A string member; `undefined` when absent, `errorType` when present with another type. */
export const optionalString = (
  input: WireObject,
  member: string,
  where: string,
  errorType = 'ValidationException',
): string | undefined => {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new AwsJsonError(errorType, `${where}${member} must be a string`);
  return value;
};

/** A non-empty string member. */
export const requiredString = (
  input: WireObject,
  member: string,
  where: string,
  errorType = 'ValidationException',
): string => {
  const value = optionalString(input, member, where, errorType);
  if (value === undefined || value.length === 0) {
    throw new AwsJsonError(errorType, `${where}${member} is required and must not be empty`);
  }
  return value;
};

/** Timestamps travel as epoch seconds (a number, possibly with a fraction). */
export const requiredEpochSeconds = (input: WireObject, member: string, where: string): Date => {
  const value = input[member];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw validationError(`${where}${member} is required and must be a timestamp in epoch seconds`);
  }
  return new Date(Math.round(value * 1000));
};

export const toEpochSeconds = (date: Date): number => date.getTime() / 1000;
