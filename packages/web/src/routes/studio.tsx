import { createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/studio')({ component: Studio });

function Studio() {
  return (
    <section className="panel">
      <h1>Studio</h1>
    </section>
  );
}
