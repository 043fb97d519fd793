import { Link, Outlet, useRouter } from '@tanstack/react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC, useTRPCClient } from '../trpc.ts';
import { sessionChanged, sessionQuery } from '../lib/session.ts';
import { ErrorMessage } from './Feedback.tsx';

/** The frame of every screen: a skip link, the navigation, and the screen in <main>. */
export function Layout() {
  const client = useTRPCClient();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const session = useQuery(sessionQuery(client));
  const me = session.data ?? null;
  const signOut = useMutation(
    trpc.auth.logout.mutationOptions({
      onSuccess: async () => {
        await sessionChanged(queryClient);
        await router.invalidate();
        await router.navigate({ to: '/account' });
      },
    }),
  );
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <Link to="/studio" className="brand" aria-label="Atelier Studio, home">
          Atelier
        </Link>
        <nav aria-label="Main">
          <ul>
            {me && (
              <>
                <li>
                  <Link to="/studio" activeProps={{ 'aria-current': 'page' }}>
                    Studio
                  </Link>
                </li>
                <li>
                  <Link to="/gallery" activeProps={{ 'aria-current': 'page' }}>
                    Gallery
                  </Link>
                </li>
                <li>
                  <Link to="/dashboard" activeProps={{ 'aria-current': 'page' }}>
                    Dashboard
                  </Link>
                </li>
                {me.role === 'admin' && (
                  <li>
                    <Link to="/admin" activeProps={{ 'aria-current': 'page' }}>
                      Admin
                    </Link>
                  </li>
                )}
              </>
            )}
            <li>
              <Link to="/account" activeProps={{ 'aria-current': 'page' }}>
                {me ? 'Account' : 'Sign in'}
              </Link>
            </li>
            {me && (
              <li>
                <button type="button" className="link-button" onClick={() => signOut.mutate()}>
                  Sign out
                </button>
              </li>
            )}
          </ul>
        </nav>
      </header>
      {signOut.error && <ErrorMessage error={signOut.error} />}
      {session.error && <ErrorMessage error={session.error} />}
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
