import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '@atelier/client';

/**
 * The typed hooks of the whole app: `useTRPC()` gives `trpc.jobs.get.queryOptions({ id })` and so
 * on, typed from the server's router through @atelier/client (the only package the app imports
 * the API's types from).
 */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();
