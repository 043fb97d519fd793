import { authRouter, usersRouter } from './auth.router.ts';
import { galleryRouter } from './gallery.router.ts';
import { imagesRouter } from './images.router.ts';
import { jobsRouter } from './jobs.router.ts';
import { stylesRouter } from './styles.router.ts';
import { adminRouter } from './admin.router.ts';
import { paymentsRouter } from './payments.router.ts';
import { statsRouter } from './stats.router.ts';
import { router } from './trpc.ts';

/** The whole API. Clients import only its type (`AppRouter`), through @atelier/client. */
export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  images: imagesRouter,
  gallery: galleryRouter,
  jobs: jobsRouter,
  styles: stylesRouter,
  admin: adminRouter,
  stats: statsRouter,
  payments: paymentsRouter,
});

export type AppRouter = typeof appRouter;
