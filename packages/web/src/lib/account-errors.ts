import { isApiError } from '@atelier/client';

/**
 * What an account form says when the API refuses one of its fields as malformed (PARAMS_INVALID
 * with `details.issues[].path`): the generic "Some settings are out of range." fits the studio's
 * parameters, not an email box. Undefined for every other failure (messageOf handles those).
 */
export function accountFieldProblem(error: unknown): string | undefined {
  if (!isApiError(error) || error.data?.atelierCode !== 'PARAMS_INVALID') return undefined;
  const issues = error.data.details?.['issues'];
  const fields = new Set(
    (Array.isArray(issues) ? issues : []).map((issue: unknown) => {
      const path = typeof issue === 'object' && issue !== null && 'path' in issue ? issue.path : undefined;
      return Array.isArray(path) ? String(path[0]) : '';
    }),
  );
  if (fields.has('email')) return 'Enter a whole email address, like name@example.org.';
  if (fields.has('password') || fields.has('currentPassword') || fields.has('newPassword'))
    return 'Passwords are 8 to 256 characters.';
  if (fields.has('displayName')) return 'Names are 1 to 80 characters.';
  return undefined;
}

/** The error to show: a field's sentence when there is one, else the error itself (for messageOf). */
export function accountError(error: unknown): unknown {
  const sentence = accountFieldProblem(error);
  return sentence === undefined ? error : new Error(sentence);
}
