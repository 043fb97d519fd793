import { queryOptions } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import type { AtelierClient, AtelierOutputs } from '@atelier/client';
import { codeOf } from './errors.ts';

export type Me = AtelierOutputs['users']['me'];

/**
 * The signed-in user or null. The browser holds the session as an HttpOnly cookie (set by
 * `auth.login`/`auth.register`), so the app never sees the token: it asks `users.me`.
 */
export function sessionQuery(client: AtelierClient) {
  return queryOptions({
    queryKey: ['atelier', 'session'],
    queryFn: async (): Promise<Me | null> => {
      try {
        return await client.users.me.query();
      } catch (error) {
        if (codeOf(error) === 'AUTH_REQUIRED') return null;
        throw error;
      }
    },
    staleTime: 30_000,
  });
}

/** After signing in or out: drop everything cached for the previous person. */
export async function sessionChanged(queryClient: QueryClient): Promise<void> {
  queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== 'atelier' });
  await queryClient.invalidateQueries({ queryKey: ['atelier', 'session'] });
}
