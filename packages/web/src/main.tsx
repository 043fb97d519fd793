import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { createAtelierClient } from '@atelier/client';
import { TRPCProvider } from './trpc.ts';
import { createAppRouter } from './router.tsx';
import { sessionQuery } from './lib/session.ts';
import { codeOf } from './lib/errors.ts';
import './styles.css';

// Same origin as the page: the session cookie goes along, and the server trusts the Origin.
const client = createAtelierClient({ url: window.location.origin, credentials: 'same-origin' });

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // Refusals are answers, not hiccups: retry only what may pass the next time.
      retry: (failures, error) => {
        const code = codeOf(error);
        return failures < 2 && (code === undefined || code === 'SERVICE_UNAVAILABLE' || code === 'INTERNAL');
      },
    },
  },
});

const router = createAppRouter({
  queryClient,
  client,
  me: () => queryClient.ensureQueryData(sessionQuery(client)),
});

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={client} queryClient={queryClient}>
        <RouterProvider router={router} />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
