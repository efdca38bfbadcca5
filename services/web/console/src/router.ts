/**
 * Pages and who may open them. Hash history: the server serves one index.html at `/` and
 * needs no fallback route per page.
 */
import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router';
import type { Role } from './api/identity.ts';
import { homeOf, mayOpen, type Page } from './logic/filters.ts';
import { loadSession, session } from './session.ts';

declare module 'vue-router' {
  interface RouteMeta {
    /** The page's access rule; absent on public pages (log-in). */
    page?: Page;
    /** Full-screen pages (log-in, 值班大屏) have no navigation frame. */
    bare?: boolean;
    title?: string;
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', component: () => import('./views/LoginView.vue'), meta: { bare: true, title: '登录' } },
  { path: '/board', component: () => import('./views/BoardView.vue'), meta: { page: 'board', title: '值班看板' } },
  { path: '/wall', component: () => import('./views/WallView.vue'), meta: { page: 'wall', bare: true, title: '值班大屏' } },
  {
    path: '/incidents/:id',
    component: () => import('./views/IncidentView.vue'),
    meta: { page: 'incident', title: '事件详情' },
    props: true,
  },
  { path: '/unit', component: () => import('./views/UnitView.vue'), meta: { page: 'unit', title: '本单位待办' } },
  { path: '/stats', component: () => import('./views/StatsView.vue'), meta: { page: 'stats', title: '回应时效统计' } },
  { path: '/hotline', component: () => import('./views/HotlineView.vue'), meta: { page: 'hotline', title: '12345 热线接入' } },
  { path: '/feeds', component: () => import('./views/FeedsView.vue'), meta: { page: 'feeds', title: '信息源管理' } },
  { path: '/roster', component: () => import('./views/RosterView.vue'), meta: { page: 'roster', title: '值班表' } },
  {
    path: '/response-candidates',
    component: () => import('./views/CandidatesView.vue'),
    meta: { page: 'candidates', title: '候选回应' },
  },
  { path: '/admin/units', component: () => import('./views/admin/UnitsAdmin.vue'), meta: { page: 'admin', title: '单位管理' } },
  { path: '/admin/users', component: () => import('./views/admin/UsersAdmin.vue'), meta: { page: 'admin', title: '用户管理' } },
  { path: '/admin/tokens', component: () => import('./views/admin/TokensAdmin.vue'), meta: { page: 'admin', title: 'API 令牌' } },
  { path: '/admin/calendar', component: () => import('./views/admin/CalendarAdmin.vue'), meta: { page: 'admin', title: '节假日安排' } },
  { path: '/admin/rules', component: () => import('./views/admin/RulesAdmin.vue'), meta: { page: 'admin', title: '规则包' } },
  {
    path: '/admin/monitoring',
    component: () => import('./views/admin/MonitoringAdmin.vue'),
    meta: { page: 'admin', title: '监测方案' },
  },
  { path: '/intake', component: () => import('./views/IntakeView.vue'), meta: { page: 'intake', title: '线索研判' } },
  { path: '/:rest(.*)*', component: () => import('./views/HomeRedirect.vue') },
];

export const router = createRouter({ history: createWebHashHistory(), routes });

router.beforeEach(async (to) => {
  const user = await loadSession();
  if (to.path === '/login') return user === null ? true : homeOf(user.role);
  if (user === null) return { path: '/login', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
  const page = to.meta.page;
  if (page === undefined) return homeOf(user.role);
  // A page the role may not open: back to its own home rather than an error.
  return mayOpen(user.role, page) ? true : homeOf(user.role);
});

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · 回应` : '回应 · 政务舆情回应时效监督';
});

/** After the session ends (401 anywhere, or 退出): back to the log-in page. */
export function toLogin(): void {
  session.user = null;
  const here = router.currentRoute.value;
  if (here.path !== '/login') void router.replace({ path: '/login', query: { next: here.fullPath } });
}

export function roleHome(role: Role): string {
  return homeOf(role);
}
