import { createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/gallery/$jobId')({ component: Result });

function Result() {
  return (
    <section className="panel">
      <h1>Result</h1>
    </section>
  );
}
