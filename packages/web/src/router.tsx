import { createRootRouteWithContext, createRoute, createRouter, redirect } from '@tanstack/react-router';
import type { QueryClient } from '@tanstack/react-query';
import type { AtelierClient } from '@atelier/client';
import type { Me } from './lib/session.ts';
import { Layout } from './components/Layout.tsx';
import { NotFound, RouteError } from './components/Feedback.tsx';
import { JOB_STATUSES } from './lib/jobs.ts';
import type { JobStatus } from './lib/jobs.ts';
import { parseTolerance } from './lib/gallery-search.ts';
import type { GallerySearchDraft } from './lib/gallery.ts';

export type { Me };

/** What every route's loader and guard can reach. */
export interface RouterContext {
  readonly queryClient: QueryClient;
  readonly client: AtelierClient;
  /** The signed-in user, or null (read once per navigation, cached by TanStack Query). */
  readonly me: () => Promise<Me | null>;
}

const rootRoute = createRootRouteWithContext<RouterContext>()({
  component: Layout,
  notFoundComponent: NotFound,
  errorComponent: RouteError,
});

/** Screens for signed-in people: others go to the sign-in form, and come back after it. */
async function requireUser(context: RouterContext, href: string): Promise<Me> {
  const me = await context.me();
  if (!me) throw redirect({ to: '/account', search: { next: href } });
  return me;
}

/** Administrators' screens: others are sent to a clear refusal, never shown the console. */
async function requireAdmin(context: RouterContext, href: string): Promise<Me> {
  const me = await requireUser(context, href);
  if (me.role !== 'admin') throw redirect({ to: '/forbidden' });
  return me;
}

const indexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: '/studio' });
  },
});

const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export interface AccountSearch {
  /** Where to go after signing in. */
  readonly next?: string;
}
const accountRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/account',
  validateSearch: (search: Record<string, unknown>): AccountSearch => {
    const next = str(search['next']);
    // Only paths of this app: never an open redirect to another site.
    return next?.startsWith('/') && !next.startsWith('//') ? { next } : {};
  },
}).lazy(() => import('./routes/account.tsx').then((m) => m.Route));

const forbiddenRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/forbidden',
}).lazy(() => import('./routes/forbidden.tsx').then((m) => m.Route));

export interface StudioSearch {
  /** The image being styled. */
  readonly image?: string;
  readonly style?: string;
  /** The render in progress: kept in the address so a reload resumes its progress bar. */
  readonly job?: string;
  /** Parameters to start from (JSON), e.g. from the gallery's "run again". */
  readonly params?: string;
}
const studioRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/studio',
  validateSearch: (search: Record<string, unknown>): StudioSearch => {
    const out: { image?: string; style?: string; job?: string; params?: string } = {};
    for (const key of ['image', 'style', 'job', 'params'] as const) {
      const value = str(search[key]);
      if (value) out[key] = value;
    }
    // `?params={"levels":4}` typed or linked by hand arrives parsed (the router reads JSON values):
    // keep it as the JSON text the screen reads.
    const params = search['params'];
    if (params && typeof params === 'object' && !Array.isArray(params)) out.params = JSON.stringify(params);
    return out;
  },
  beforeLoad: ({ context, location }) => requireUser(context, location.href),
}).lazy(() => import('./routes/studio.tsx').then((m) => m.Route));

export interface GallerySearch {
  readonly style?: string;
  readonly status?: JobStatus;
  /** Day (YYYY-MM-DD) the results start from, inclusive. */
  readonly from?: string;
  /** Day (YYYY-MM-DD) the results end on, inclusive. */
  readonly to?: string;
  /** Which list: results (jobs) or uploads (images). */
  readonly tab?: 'results' | 'uploads';
  /** Photos (uploads) with these words (gallery.text). */
  readonly q?: string;
  /** Photos (uploads) with these colours, `#rrggbb` comma-separated (gallery.byColour). */
  readonly colors?: string;
  /** The colour search's tolerance, ΔE 1..40. */
  readonly tolerance?: number;
}
const day = (value: unknown): string | undefined => {
  const s = str(value);
  return s && /^\d{4}-\d{2}-\d{2}$/.test(s) ? s : undefined;
};
const galleryRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/gallery',
  validateSearch: (search: Record<string, unknown>): GallerySearch => {
    const out: GallerySearchDraft = {};
    const style = str(search['style']);
    if (style) out.style = style;
    const status = str(search['status']);
    if (status && (JOB_STATUSES as readonly string[]).includes(status)) out.status = status as JobStatus;
    const from = day(search['from']);
    if (from) out.from = from;
    const to = day(search['to']);
    if (to) out.to = to;
    if (search['tab'] === 'uploads') out.tab = 'uploads';
    // A query of digits arrives as a number (the router reads JSON values).
    const q = typeof search['q'] === 'number' ? String(search['q']) : str(search['q']);
    if (q) out.q = q;
    const colors = str(search['colors']);
    if (colors) out.colors = colors;
    const tolerance = parseTolerance(search['tolerance']);
    if (tolerance !== undefined) out.tolerance = tolerance;
    return out;
  },
  beforeLoad: ({ context, location }) => requireUser(context, location.href),
}).lazy(() => import('./routes/gallery.tsx').then((m) => m.Route));

const galleryPhotoRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/gallery/photos/$imageId',
  beforeLoad: ({ context, location }) => requireUser(context, location.href),
}).lazy(() => import('./routes/gallery-photo.tsx').then((m) => m.Route));

export interface GalleryJobSearch {
  /** Back from Stripe Checkout (docs/payments.md): paid (not proof: the page waits) or cancelled. */
  readonly checkout?: 'success' | 'cancelled';
  /** Stripe's Checkout Session id, which Stripe puts in the success address. */
  readonly session_id?: string;
}
const galleryJobRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/gallery/$jobId',
  validateSearch: (search: Record<string, unknown>): GalleryJobSearch => {
    const checkout = search['checkout'];
    if (checkout === 'cancelled') return { checkout };
    if (checkout !== 'success') return {};
    const sessionId = str(search['session_id']);
    return sessionId ? { checkout, session_id: sessionId } : { checkout };
  },
  beforeLoad: ({ context, location }) => requireUser(context, location.href),
}).lazy(() => import('./routes/gallery-job.tsx').then((m) => m.Route));

const dashboardRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/dashboard',
  beforeLoad: ({ context, location }) => requireUser(context, location.href),
}).lazy(() => import('./routes/dashboard.tsx').then((m) => m.Route));

const adminRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/admin',
  beforeLoad: ({ context, location }) => requireAdmin(context, location.href),
}).lazy(() => import('./routes/admin.tsx').then((m) => m.Route));

export const ADMIN_SECTIONS = ['plugins', 'users', 'queue', 'payments', 'audit', 'stats'] as const;
export type AdminSection = (typeof ADMIN_SECTIONS)[number];
const adminIndexRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: '/admin/$section', params: { section: 'plugins' } });
  },
});
const adminSectionRoute = createRoute({
  getParentRoute: () => adminRoute,
  path: '$section',
}).lazy(() => import('./routes/admin-section.tsx').then((m) => m.Route));

const routeTree = rootRoute.addChildren([
  indexRoute,
  accountRoute,
  forbiddenRoute,
  studioRoute,
  galleryRoute,
  galleryJobRoute,
  galleryPhotoRoute,
  dashboardRoute,
  adminRoute.addChildren([adminIndexRoute, adminSectionRoute]),
]);

export function createAppRouter(context: RouterContext) {
  return createRouter({
    routeTree,
    context,
    defaultPreload: 'intent',
    scrollRestoration: true,
    defaultPendingMs: 300,
  });
}

declare module '@tanstack/react-router' {
  interface Register {
    router: ReturnType<typeof createAppRouter>;
  }
}
