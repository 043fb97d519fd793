import { createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/admin')({ component: Admin });

function Admin() {
  return (
    <section className="panel">
      <h1>Admin</h1>
    </section>
  );
}
