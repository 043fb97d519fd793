import { Link, Outlet, createLazyRoute } from '@tanstack/react-router';
import { ADMIN_NAV } from '../components/admin/sections.ts';
import '../components/admin/admin.css';

export const Route = createLazyRoute('/admin')({ component: Admin });

/** The admin console's frame: its title, the section links, and the section. */
function Admin() {
  return (
    <div className="admin">
      <h1>Admin</h1>
      <nav aria-label="Admin sections" className="admin-nav">
        <ul>
          {ADMIN_NAV.map(({ section, label }) => (
            <li key={section}>
              <Link
                to="/admin/$section"
                params={{ section }}
                activeProps={{ 'aria-current': 'page', className: 'active' }}
              >
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <Outlet />
    </div>
  );
}
