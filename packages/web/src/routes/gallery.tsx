import { createLazyRoute } from '@tanstack/react-router';

export const Route = createLazyRoute('/gallery')({ component: Gallery });

function Gallery() {
  return (
    <section className="panel">
      <h1>Gallery</h1>
    </section>
  );
}
