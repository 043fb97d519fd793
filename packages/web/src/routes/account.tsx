import { createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/account')({ component: Account });

function Account() {
  return (
    <section className="panel">
      <h1>Account</h1>
    </section>
  );
}
