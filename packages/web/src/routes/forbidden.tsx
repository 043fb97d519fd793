import { Link, createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/forbidden')({ component: Forbidden });

function Forbidden() {
  return (
    <section className="panel">
      <h1>Administrators only</h1>
      <p>This part of Atelier is for administrators. Ask one if you need access.</p>
      <p>
        <Link to="/studio">Go to the studio</Link>
      </p>
    </section>
  );
}
