import { createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/dashboard')({ component: Dashboard });

function Dashboard() {
  return (
    <section className="panel">
      <h1>Dashboard</h1>
    </section>
  );
}
