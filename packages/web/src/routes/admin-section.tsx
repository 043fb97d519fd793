import { Link, createLazyRoute } from '@tanstack/react-router';
import { PluginsSection } from '../components/admin/PluginsSection.tsx';
import { UsersSection } from '../components/admin/UsersSection.tsx';
import { QueueSection } from '../components/admin/QueueSection.tsx';
import { PaymentsSection } from '../components/admin/PaymentsSection.tsx';
import { AuditSection } from '../components/admin/AuditSection.tsx';
import { StatsSection } from '../components/admin/StatsSection.tsx';

export const Route = createLazyRoute('/admin/$section')({ component: AdminSection });

function AdminSection() {
  const { section } = Route.useParams();
  switch (section) {
    case 'plugins':
      return <PluginsSection />;
    case 'users':
      return <UsersSection />;
    case 'queue':
      return <QueueSection />;
    case 'payments':
      return <PaymentsSection />;
    case 'audit':
      return <AuditSection />;
    case 'stats':
      return <StatsSection />;
    default:
      return (
        <section className="panel" aria-labelledby="admin-unknown">
          <h2 id="admin-unknown">No such section</h2>
          <p>The admin console has no section “{section}”.</p>
          <p>
            <Link to="/admin/$section" params={{ section: 'plugins' }}>
              Go to the plugins
            </Link>
          </p>
        </section>
      );
  }
}
