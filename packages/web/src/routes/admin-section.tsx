import { createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/admin/$section')({ component: AdminSection });

function AdminSection() {
  return (
    <section className="panel">
      <h1>AdminSection</h1>
    </section>
  );
}
